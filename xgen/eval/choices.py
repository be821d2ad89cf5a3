"""A policy's log-probabilities of a multiple-choice item's options, from one forward pass.

:func:`option_logprobs` scores each option letter (``reference["options"]`` of an mc import) as the reply to the
item: the prompt is the item's first-stage conversation through the chat template with the assistant header
(what the sampler is given), the continuation the letter's tokens as the reply's opening (``template`` turns a
letter into text, ``"{}"`` by default: a bare ``A``). An option's log-probability is the sum over its tokens,
under the plain softmax of the logits (temperature 1, as the sampler reports log-probs).

All options of an item go through one batch built and scored by the RL step's helpers
(:func:`xgen.rl.step.episode_rows`, :func:`xgen.rl.step.sequence_logprobs`), so the math is the trainer's.

Greedy agreement: where every option is a single token, the argmax option is the token a greedy one-token
generation emits *if that token is one of the options*; a model may well put its top token elsewhere (" (",
"Answer", or the tests' tiny base: a chat token), in which case the argmax only ranks the options, and
generation would name none of them. The test checks the single-token options' log-probs against the forward
pass's log-softmax at the prompt's last position, whose argmax is the greedy token.
"""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np

from xgen.data.schema import Scenario
from xgen.data.tokenizer import Tokenizer
from xgen.models.transformer import Transformer
from xgen.rl.rollout import Episode
from xgen.rl.step import device_batch, episode_rows, sequence_logprobs

TEMPERATURE = 1.0


def option_texts(scenario: Scenario, options: Sequence[str] | None = None, template: str = "{}") -> dict[str, str]:
  """Per option letter (``options``, default the item's ``reference["options"]``), its continuation text."""
  letters = list(options if options is not None else scenario.reference.get("options", ()))
  if len(letters) < 2:
    raise ValueError(f"{scenario.id}: needs two or more options (reference['options'] or options=), got {letters}")
  return {letter: template.format(letter) for letter in letters}


def option_logprobs(model: Transformer, tokenizer: Tokenizer, scenario: Scenario, *,
                    options: Sequence[str] | None = None, template: str = "{}") -> dict[str, float]:
  """Per option letter, the log-probability of its text as the start of the model's reply to ``scenario``."""
  texts = option_texts(scenario, options, template)
  prompt = tuple(tokenizer.encode_chat(scenario.stage_messages(0), add_generation_prompt=True).ids)
  continuations = [tuple(tokenizer.encode(text, allow_special=False)) for text in texts.values()]
  if not all(continuations):
    raise ValueError(f"{scenario.id}: an option's text encodes to no tokens: {texts}")
  episodes = [Episode(scenario, (prompt,), (ids,), ((),), ("",), False) for ids in continuations]
  batch = device_batch(episode_rows(episodes, np.zeros(len(episodes), np.float32)))
  window = np.asarray(jax.device_get(sequence_logprobs(model, batch, TEMPERATURE)))  # [options, window]
  return {letter: float(window[row, :len(ids)].sum()) for row, (letter, ids) in enumerate(zip(texts, continuations))}
