"""How ``xgen.rl.rollout.sample_stage`` chunks its rows: short last chunks, greedy rows by length, sampled rows
in order."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from xgen.models.config import ModelConfig
from xgen.models.sampler import SamplingConfig, generate
from xgen.models.transformer import build_model
from xgen.rl import rollout
from xgen.rl.rollout import padded_rows, sample_stage

KEY = jax.random.key(3)


@pytest.fixture(scope="module")
def model():
  config = ModelConfig(vocab_size=96, d_model=32, n_layers=2, n_heads=2, n_kv_heads=1, d_ff=64, max_seq_len=96)
  return build_model(config, seed=1)


def prompts(count: int, seed: int = 0) -> list[list[int]]:
  rng = np.random.default_rng(seed)
  return [rng.integers(3, 96, size=int(rng.integers(1, 40))).tolist() for _ in range(count)]


def test_padded_rows_is_a_power_of_two_within_the_chunk():
  assert [padded_rows(n, 128) for n in (1, 15, 16, 17, 33, 64, 65, 127, 128)] == [16, 16, 16, 32, 64, 64, 128, 128,
                                                                                128]
  assert padded_rows(5, 12) == 12 and padded_rows(12, 12) == 12   # never beyond the chunk size
  assert padded_rows(3, 8) == 8


def generate_calls(monkeypatch) -> list[list[list[int]]]:
  seen: list[list[list[int]]] = []
  real = rollout.generate
  monkeypatch.setattr(rollout, "generate", lambda model, chunk, *a, **k: seen.append(chunk) or real(model, chunk, *a,
                                                                                                     **k))
  return seen


def test_greedy_rows_go_by_length_and_come_back_in_order(model, monkeypatch):
  rows = prompts(70)
  config = SamplingConfig(max_new_tokens=6, temperature=0.0)
  seen = generate_calls(monkeypatch)
  got = sample_stage(model, rows, config, KEY, chunk_size=32, pad_id=0)
  assert [len(chunk) for chunk in seen] == [32, 32, 16]   # 70 rows: two full chunks, 6 rows padded to 16
  lengths = [len(p) for chunk in seen for p in chunk[:32]][:70]
  assert lengths == sorted(len(p) for p in rows)
  for prompt, (ids, logprobs) in zip(rows, got):   # each row as if it were sampled alone
    alone = generate(model, [prompt], config, KEY)
    n = int(alone.lengths[0])
    assert ids == np.asarray(alone.tokens[0, :n]).tolist()
    np.testing.assert_allclose(logprobs, np.asarray(alone.logprobs[0, :n]), atol=1e-5)


def test_sampled_rows_keep_their_order_and_chunk_keys(model, monkeypatch):
  rows = prompts(40, seed=1)
  config = SamplingConfig(max_new_tokens=6, temperature=1.0)
  seen = generate_calls(monkeypatch)
  got = sample_stage(model, rows, config, KEY, chunk_size=32, pad_id=0)
  assert seen[0] == rows[:32] and seen[1][:8] == rows[32:] and len(seen[1]) == 16
  first = generate(model, rows[:32], config, jax.random.fold_in(KEY, 0))
  for row in range(32):
    n = int(first.lengths[row])
    assert got[row][0] == np.asarray(first.tokens[row, :n]).tolist()


def test_greedy_order_does_not_change_a_row(model):
  rows = prompts(50, seed=2)
  config = SamplingConfig(max_new_tokens=5, temperature=0.0)
  forward = sample_stage(model, rows, config, KEY, chunk_size=16, pad_id=0)
  backward = sample_stage(model, rows[::-1], config, KEY, chunk_size=16, pad_id=0)
  assert [ids for ids, _ in forward] == [ids for ids, _ in backward[::-1]]
