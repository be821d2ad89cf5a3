"""Conversations to packed rows: loss masks, packing, and batches that are pure functions of the step."""

from __future__ import annotations

import numpy as np
import pytest

from xgen.data.schema import Message, Scenario
from xgen.train.packing import Example, PackedStream, pack, to_example


class FakeTokenizer:
  """One id per character, as the chat template lays them out (bos, role, content, end)."""

  bos_id, end_id = 2, 7
  role_ids = {"system": 4, "user": 5, "assistant": 6}

  def encode_chat(self, messages):
    from xgen.data.tokenizer import ChatTokens
    ids, mask = [self.bos_id], [False]
    for m in messages:
      content = [100 + (ord(c) % 50) for c in m.content]
      ids += [self.role_ids[m.role], *content, self.end_id]
      mask += [False] + [m.role == "assistant"] * (len(content) + 1)
    return ChatTokens(ids=ids, assistant_mask=mask)


def _conversation(*turns: str) -> Scenario:
  roles = ["user", "assistant"] * len(turns)
  return Scenario(id="c", source="pretrain", domain="health", category="x", split="train",
                  messages=tuple(Message(role=r, content=t) for r, t in zip(roles, turns)))


def test_loss_masks():
  tok = FakeTokenizer()
  scenario = _conversation("ab", "xyz", "c", "pq")
  # layout: bos u a b end | a x y z end | u c end | a p q end
  final = to_example(scenario, tok, "final_reply").loss_mask
  assert final.tolist() == [0] * 14 + [1, 1, 1]
  every = to_example(scenario, tok, "assistant").loss_mask
  assert every.tolist() == [0] * 6 + [1] * 4 + [0] * 4 + [1] * 3
  assert to_example(scenario, tok, "all").loss_mask.tolist() == [0] + [1] * 16
  with pytest.raises(ValueError, match="loss_on"):
    to_example(scenario, tok, "prompts")


def _examples(lengths) -> list[Example]:
  return [Example(ids=np.full(n, 10 + i, np.int32), loss_mask=np.ones(n, np.float32)) for i, n in enumerate(lengths)]


def test_pack_keeps_every_example_whole_and_once():
  examples = _examples([5, 3, 7, 2, 6, 4])
  rows = pack(examples, np.arange(6), seq_len=10)
  assert rows.tokens.shape[1] == 10
  seen = []
  for r in range(len(rows)):
    for s in range(1, rows.segment_ids[r].max() + 1):
      ids = rows.tokens[r][rows.segment_ids[r] == s]
      assert len(set(ids.tolist())) == 1
      seen.append((int(ids[0]) - 10, len(ids)))
  assert sorted(seen) == [(i, n) for i, n in enumerate([5, 3, 7, 2, 6, 4])]
  assert (rows.loss_mask[rows.segment_ids == 0] == 0).all()
  with pytest.raises(ValueError, match="more than seq_len"):
    pack(_examples([12]), np.arange(1), seq_len=10)


def test_stream_batches_are_pure_functions_of_the_step():
  examples = _examples(list(np.random.default_rng(0).integers(2, 9, size=40)))
  a, b = PackedStream(examples, seq_len=16, seed=3), PackedStream(examples, seq_len=16, seed=3)
  later_first = [b.batch(s, 4).tokens for s in (9, 2, 5)]
  in_order = [a.batch(s, 4).tokens for s in (2, 5, 9)]
  assert all(np.array_equal(x, y) for x, y in zip(in_order, [later_first[1], later_first[2], later_first[0]]))
  other = PackedStream(examples, seq_len=16, seed=4)
  assert not np.array_equal(a.batch(0, 4).tokens, other.batch(0, 4).tokens)


def test_one_epoch_covers_every_example_once():
  lengths = list(np.random.default_rng(1).integers(2, 9, size=30))
  stream = PackedStream(_examples(lengths), seq_len=16, seed=0)
  rows = stream.rows_per_epoch()
  epoch = stream.batch(0, rows)
  ids = [int(t) for t, s in zip(epoch.tokens.ravel(), epoch.segment_ids.ravel()) if s]
  assert sorted(set(ids)) == [10 + i for i in range(30)]
  assert sum(ids.count(10 + i) for i in range(30)) == sum(lengths)
