"""Episodes: a policy answering scenarios, stage by stage, with the KV-cache sampler.

An episode is one scenario answered once. A scenario with follow-ups has several stages; stage
``s``'s prompt is the conversation shown to the model given its own replies to stages ``< s``
(``Scenario.stage_messages``), so the stages of all episodes are sampled one stage at a time, every
episode that has that stage in one batch. Rows are sampled in chunks of a fixed size so that the
sampler compiles one program per prompt-length bucket, whatever the number of episodes; a last, shorter
chunk is padded with copies of its first prompt (outputs dropped) up to a power of two of at least
``ROW_BUCKET`` rows, not to the full chunk size, since a chunk costs in proportion to its rows (and a few
row counts keep the programs few). Greedy rows are taken in
order of prompt length (a greedy row's output does not depend on its neighbours or its key), so a
chunk's prompts are padded to about their own length; sampled rows keep their order, as a row's draw
depends on its chunk and its place in it.

The key of chunk ``c`` of stage ``s`` is ``fold_in(fold_in(key, s), c)``: the same key, scenarios
and chunk size give the same episodes. The RL trainer samples its groups here (each scenario
repeated ``group_size`` times) and the cross-evaluation samples the eval suites here.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import numpy as np

from xgen.data.schema import Scenario
from xgen.data.tokenizer import Tokenizer
from xgen.models.sampler import SamplingConfig, generate
from xgen.models.transformer import Transformer


@dataclasses.dataclass(frozen=True)
class Episode:
  """One scenario answered once: per stage, the prompt ids, the generated ids (up to and including
  the stop token, if one came), their log-probs under the sampler, and the decoded reply."""

  scenario: Scenario
  prompts: tuple[tuple[int, ...], ...]
  completions: tuple[tuple[int, ...], ...]
  sample_logprobs: tuple[tuple[float, ...], ...]
  replies: tuple[str, ...]
  truncated: bool  # some stage reached max_new_tokens without a stop token

  @property
  def response_tokens(self) -> int:
    return sum(len(c) for c in self.completions)


ROW_BUCKET = 16  # A last, shorter chunk is padded to a power of two of at least this many rows.


def _chunks(order: Sequence[int], size: int) -> list[list[int]]:
  return [list(order[start:start + size]) for start in range(0, len(order), size)]


def padded_rows(rows: int, chunk_size: int) -> int:
  """How many rows a chunk of ``rows`` prompts is sampled as: the smallest power of two of at least
  ``ROW_BUCKET`` that holds them, never more than the chunk size."""
  return min(chunk_size, max(ROW_BUCKET, 1 << (rows - 1).bit_length()))


def sample_stage(model: Transformer, prompts: Sequence[Sequence[int]], config: SamplingConfig, key: jax.Array,
                 *, chunk_size: int, pad_id: int) -> list[tuple[list[int], list[float]]]:
  """(generated ids, their log-probs) per prompt, in the prompts' order, sampled ``chunk_size`` rows at a
  time (greedy rows grouped by prompt length)."""
  order = list(range(len(prompts)))
  if config.greedy:
    order.sort(key=lambda i: len(prompts[i]))
  results: list[tuple[list[int], list[float]] | None] = [None] * len(prompts)
  for index, rows in enumerate(_chunks(order, chunk_size)):
    chunk = [prompts[i] for i in rows]
    chunk += [chunk[0]] * (padded_rows(len(chunk), chunk_size) - len(chunk))
    out = generate(model, chunk, config, jax.random.fold_in(key, index), pad_id=pad_id)
    tokens, logprobs, lengths = jax.device_get((out.tokens, out.logprobs, out.lengths))
    tokens, logprobs, lengths = np.asarray(tokens), np.asarray(logprobs), np.asarray(lengths)
    for row, i in enumerate(rows):
      n = int(lengths[row])
      results[i] = (tokens[row, :n].tolist(), logprobs[row, :n].tolist())
  return results


def run_episodes(model: Transformer, tokenizer: Tokenizer, scenarios: Sequence[Scenario], config: SamplingConfig,
                 key: jax.Array, *, chunk_size: int = 64) -> list[Episode]:
  """One episode per scenario (repeat a scenario to sample it several times), in the given order."""
  if not scenarios:
    return []
  stop_ids = set(config.stop_ids)
  replies: list[list[str]] = [[] for _ in scenarios]
  prompts: list[list[tuple[int, ...]]] = [[] for _ in scenarios]
  completions: list[list[tuple[int, ...]]] = [[] for _ in scenarios]
  logprobs: list[list[tuple[float, ...]]] = [[] for _ in scenarios]
  truncated = [False] * len(scenarios)
  for stage in range(max(s.num_stages for s in scenarios)):
    active = [i for i, s in enumerate(scenarios) if stage < s.num_stages]
    stage_prompts = [tokenizer.encode_chat(scenarios[i].stage_messages(stage, replies[i]),
                                           add_generation_prompt=True).ids for i in active]
    outputs = sample_stage(model, stage_prompts, config, jax.random.fold_in(key, stage),
                           chunk_size=min(chunk_size, len(active)), pad_id=tokenizer.pad_id)
    for i, prompt, (ids, lps) in zip(active, stage_prompts, outputs):
      prompts[i].append(tuple(prompt))
      completions[i].append(tuple(ids))
      logprobs[i].append(tuple(lps))
      replies[i].append(tokenizer.decode_reply(ids))
      truncated[i] |= not (ids and ids[-1] in stop_ids)
  return [Episode(s, tuple(prompts[i]), tuple(completions[i]), tuple(logprobs[i]), tuple(replies[i]), truncated[i])
          for i, s in enumerate(scenarios)]
