"""From conversations to packed training rows, deterministically per (seed, epoch).

Each conversation becomes token ids and a loss mask (which tokens are targets: the final reply,
every assistant reply, or everything). Conversations are shuffled per epoch by the seed and packed
greedily, in that order, into rows of ``seq_len`` tokens with segment ids (1, 2, ... per
conversation, 0 for padding). The rows of epoch e are a pure function of (examples, seed, e), so
the batch of any step can be rebuilt after a restart without replaying the ones before it.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import numpy as np

from xgen.data.schema import Scenario
from xgen.data.tokenizer import Tokenizer

LOSS_ON = ("final_reply", "assistant", "all")


@dataclasses.dataclass(frozen=True)
class Example:
  ids: np.ndarray        # int32 [n]
  loss_mask: np.ndarray  # float32 [n]


def to_example(scenario: Scenario, tokenizer: Tokenizer, loss_on: str = "final_reply") -> Example:
  """Tokens of a training conversation and which of them are targets.

  ``final_reply``: only the last assistant reply (earlier turns are context: in the pretraining
  corpus an earlier reply may be a mistake that the last one corrects). ``assistant``: every
  assistant reply. ``all``: every token after the first.
  """
  if loss_on not in LOSS_ON:
    raise ValueError(f"loss_on must be one of {', '.join(LOSS_ON)}, got '{loss_on}'")
  chat = tokenizer.encode_chat(scenario.messages)
  ids = np.asarray(chat.ids, dtype=np.int32)
  mask = np.asarray(chat.assistant_mask, dtype=bool)
  if loss_on == "final_reply":
    # The final reply is the last run of assistant tokens.
    starts = np.flatnonzero(mask & ~np.concatenate([[False], mask[:-1]]))
    final = np.zeros_like(mask)
    if starts.size:
      final[starts[-1]:] = mask[starts[-1]:]
    mask = final
  elif loss_on == "all":
    mask = np.ones_like(mask)
    mask[0] = False
  return Example(ids=ids, loss_mask=mask.astype(np.float32))


@dataclasses.dataclass(frozen=True)
class Rows:
  tokens: np.ndarray       # int32 [R, T]
  segment_ids: np.ndarray  # int32 [R, T]
  loss_mask: np.ndarray    # float32 [R, T]

  def __len__(self) -> int:
    return self.tokens.shape[0]


def pack(examples: Sequence[Example], order: np.ndarray, seq_len: int) -> Rows:
  """Greedy first-fit in ``order``: each example goes into the current row if it fits, else a new row."""
  rows: list[list[Example]] = [[]]
  used = 0
  for index in order:
    example = examples[int(index)]
    if len(example.ids) > seq_len:
      raise ValueError(f"example {int(index)} has {len(example.ids)} tokens, more than seq_len {seq_len}")
    if used + len(example.ids) > seq_len:
      rows.append([])
      used = 0
    rows[-1].append(example)
    used += len(example.ids)
  tokens = np.zeros((len(rows), seq_len), np.int32)
  segments = np.zeros((len(rows), seq_len), np.int32)
  loss_mask = np.zeros((len(rows), seq_len), np.float32)
  for r, row in enumerate(rows):
    offset = 0
    for s, example in enumerate(row, start=1):
      n = len(example.ids)
      tokens[r, offset:offset + n] = example.ids
      segments[r, offset:offset + n] = s
      loss_mask[r, offset:offset + n] = example.loss_mask
      offset += n
  return Rows(tokens, segments, loss_mask)


class PackedStream:
  """An endless stream of packed rows; ``batch(step, size)`` is a pure function of the step."""

  def __init__(self, examples: Sequence[Example], *, seq_len: int, seed: int):
    if not examples:
      raise ValueError("no training examples")
    self.examples = list(examples)
    self.seq_len = seq_len
    self.seed = seed
    self._epoch_starts = [0]  # global row index at which each epoch begins

  @functools.lru_cache(maxsize=4)
  def epoch(self, epoch: int) -> Rows:
    order = np.random.default_rng([self.seed, epoch]).permutation(len(self.examples))
    return pack(self.examples, order, self.seq_len)

  def _locate(self, row: int) -> tuple[int, int]:
    while self._epoch_starts[-1] <= row:
      epoch = len(self._epoch_starts) - 1
      self._epoch_starts.append(self._epoch_starts[-1] + len(self.epoch(epoch)))
    epoch = int(np.searchsorted(self._epoch_starts, row, side="right")) - 1
    return epoch, row - self._epoch_starts[epoch]

  def batch(self, step: int, batch_size: int) -> Rows:
    picked = [self._locate(step * batch_size + i) for i in range(batch_size)]
    take = lambda field: np.stack([getattr(self.epoch(e), field)[i] for e, i in picked])  # noqa: E731
    return Rows(take("tokens"), take("segment_ids"), take("loss_mask"))

  def rows_per_epoch(self) -> int:
    return len(self.epoch(0))
