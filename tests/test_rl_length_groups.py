"""The RL update on length groups: a mini-batch's rows sorted by length and cut into groups, each padded to its
own length, gives the same update as one padded batch (parameters, loss and its metrics, per-row statistics in
the rows' order) under every loss aggregation, while padding far fewer tokens."""

from __future__ import annotations

import types

import jax
import numpy as np
import pytest
from flax import nnx

from xgen.models.config import ModelConfig
from xgen.models.transformer import build_model
from xgen.rl import algorithms
from xgen.rl.iteration import update_minibatch
from xgen.rl.rollout import Episode
from xgen.rl.step import episode_row_list, length_groups, minibatch_groups, rl_group_grads
from xgen.train.step import make_optimizer

TOY = ModelConfig(vocab_size=32, d_model=32, n_layers=2, n_heads=2, n_kv_heads=1, d_ff=64, max_seq_len=96)
AGGREGATIONS = {"token_mean": algorithms.LossConfig(aggregation="token_mean"),
                "sequence_mean": algorithms.LossConfig(aggregation="sequence_mean"),
                "token_sum": algorithms.LossConfig(aggregation="token_sum", normalizer=200.0)}


def episodes_and_advantages(count: int = 24, seed: int = 0) -> tuple[list[Episode], np.ndarray]:
  rng = np.random.default_rng(seed)
  episodes = []
  for i in range(count):
    prompt = tuple(int(t) for t in rng.integers(2, 32, size=rng.integers(3, 40)))
    completion = tuple(int(t) for t in rng.integers(2, 32, size=0 if i == 5 else rng.integers(1, 20)))
    episodes.append(Episode(None, (prompt,), (completion,), ((),), ("",), False))
  return episodes, rng.normal(size=count).astype(np.float32)


def grads_and_metrics(loss: algorithms.LossConfig, count: int) -> tuple[list[np.ndarray], dict]:
  """The summed weighted gradients of the groups, and the metrics of the whole update (``update_minibatch``)."""
  model = build_model(TOY, seed=3)
  episodes, advantages = episodes_and_advantages()
  (groups,) = minibatch_groups(episode_row_list(episodes, advantages), 1, count, loss.aggregation)
  batches = [jax.tree.map(jax.numpy.asarray, b) for b in groups.batches]
  total = None
  for batch, weight in zip(batches, groups.weights):
    grads, _ = rl_group_grads(model, batch, jax.numpy.float32(weight), loss_config=loss, temperature=1.0,
                              recomputed_old=False)
    total = grads if total is None else jax.tree.map(jax.numpy.add, total, grads)
  optimizer = make_optimizer(model, learning_rate=1e-2, weight_decay=0.0)
  state = types.SimpleNamespace(policy=model, optimizer=optimizer, run=lambda fn, *a, **k: fn(*a, **k))
  before = [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]
  metrics = update_minibatch(state, groups, batches, loss, 1.0, False)
  after = [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]
  return [np.asarray(x) for x in jax.tree.leaves(total)], {**metrics, "params": after, "moved": before}


@pytest.mark.parametrize("aggregation", sorted(AGGREGATIONS))
def test_length_groups_give_the_update_of_one_padded_batch(aggregation):
  loss = AGGREGATIONS[aggregation]
  grads_one, metrics_one = grads_and_metrics(loss, 1)
  grads_four, metrics_four = grads_and_metrics(loss, 4)
  scale = max(float(np.abs(g).max()) for g in grads_one)
  for a, b in zip(grads_one, grads_four):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6 * scale)
  # the optimizer step itself: the parameters moved (Adam's first step is about lr per weight) and moved alike
  # (up to Adam's sensitivity to tiny gradients: 1% of the 1e-2 learning rate)
  params_four = metrics_four.pop("params")
  assert max(np.abs(a - b).max() for a, b in zip(params_four, metrics_four.pop("moved"))) > 5e-3
  for a, b in zip(metrics_one.pop("params"), params_four):
    np.testing.assert_allclose(a, b, atol=1e-4)
  metrics_one.pop("moved")
  assert sorted(metrics_one) == sorted(metrics_four)
  for name in metrics_one:
    np.testing.assert_allclose(np.asarray(metrics_one[name], float), np.asarray(metrics_four[name], float),
                               rtol=1e-4, atol=1e-6, err_msg=name)
  assert float(metrics_one["response_tokens"]) > 0 and float(metrics_one["loss"]) != 0


def test_groups_are_sorted_by_length_weighted_to_the_whole_and_pad_fewer_tokens():
  episodes, advantages = episodes_and_advantages()
  rows = episode_row_list(episodes, advantages)
  groups = length_groups(rows, 4, "token_mean")
  assert [len(r) for r in groups.rows] == [6, 6, 6, 6]
  assert sorted(np.concatenate(groups.rows).tolist()) == list(range(24))
  lengths = [[len(rows[r][0]) for r in part] for part in groups.rows]
  assert all(max(a) <= min(b) for a, b in zip(lengths, lengths[1:]))
  assert sum(groups.weights) == pytest.approx(1.0) and groups.weights == groups.token_shares
  padded = sum(b.tokens.size for b in groups.batches)
  single = length_groups(rows, 1, "token_mean")
  assert single.weights == (1.0,) and [r.tolist() for r in single.rows] == [list(range(24))]
  assert padded < 0.75 * single.batches[0].tokens.size
  assert length_groups(rows, 4, "token_sum").weights == (1.0,) * 4
  sequence = length_groups(rows, 4, "sequence_mean").weights
  assert sum(sequence) == pytest.approx(1.0) and sequence[0] == pytest.approx(5 / 23)  # row 5 has no response
