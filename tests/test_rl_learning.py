"""RL must move a policy: on a toy task with a known optimum the reward climbs from chance to near
the optimum within a bounded number of steps, for every advantage estimator.

The task: after a fixed prompt, emit the token ``TARGET`` as often as possible in 4 tokens; the
reward is the fraction of generated tokens equal to it (optimum 1.0, chance 1/V). The loop is the
trainer's step without the world: sample groups with the KV-cache sampler, reward, advantages,
``episode_rows``, ``rl_train_step``.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from xgen.models.config import ModelConfig
from xgen.models.sampler import SamplingConfig, generate
from xgen.models.transformer import build_model
from xgen.rl import algorithms
from xgen.rl.rollout import Episode
from xgen.rl.step import episode_rows, rl_train_step
from xgen.train.step import make_optimizer

TOY = ModelConfig(vocab_size=16, d_model=32, n_layers=1, n_heads=2, n_kv_heads=1, d_ff=64, max_seq_len=32)
TARGET, PROMPT, GROUPS, GROUP_SIZE, NEW_TOKENS = 7, (2, 5, 9), 4, 8, 4
SETTINGS = {
    "grpo": (algorithms.LossConfig(aggregation="token_mean"), True),
    "rloo": (algorithms.LossConfig(aggregation="sequence_mean"), False),
    "dr_grpo": (algorithms.LossConfig(aggregation="token_sum", normalizer=GROUPS * GROUP_SIZE * NEW_TOKENS), False),
}


def toy_run(estimator: str, steps: int, seed: int = 0) -> list[float]:
  loss_config, scale_std = SETTINGS[estimator]
  model = build_model(TOY, seed=seed)
  optimizer = make_optimizer(model, learning_rate=5e-3, weight_decay=0.0)
  sampling = SamplingConfig(max_new_tokens=NEW_TOKENS, temperature=1.0)
  advantage = algorithms.get_advantage(estimator)
  curve = []
  for step in range(steps):
    out = generate(model, [list(PROMPT)] * (GROUPS * GROUP_SIZE), sampling, jax.random.PRNGKey(step))
    tokens = np.asarray(out.tokens)
    rewards = (tokens == TARGET).mean(axis=1).astype(np.float32)
    curve.append(float(rewards.mean()))
    advantages, _ = advantage(jax.numpy.asarray(rewards.reshape(GROUPS, GROUP_SIZE)), scale_std=scale_std)
    episodes = [Episode(None, (PROMPT,), (tuple(row),), ((),), ("",), False) for row in tokens.tolist()]
    batch = episode_rows(episodes, np.asarray(advantages).reshape(-1))
    rl_train_step(model, optimizer, jax.tree.map(jax.numpy.asarray, batch), loss_config=loss_config,
                  temperature=1.0, recomputed_old=False)
  return curve


@pytest.mark.parametrize("estimator", sorted(SETTINGS))
def test_reward_climbs_to_the_optimum(estimator):
  curve = toy_run(estimator, steps=40)
  start, end = curve[0], np.mean(curve[-5:])
  assert start < 0.2, curve
  assert end > 0.9, curve


def test_every_estimator_is_covered():
  assert set(SETTINGS) == set(algorithms.ADVANTAGE_ESTIMATORS)


def test_zero_advantages_leave_the_policy_where_it_was():
  """All rewards equal -> every advantage 0 -> the policy-gradient step changes nothing."""
  model = build_model(TOY, seed=0)
  optimizer = make_optimizer(model, learning_rate=2e-2, weight_decay=0.0)
  before = [np.asarray(x) for x in jax.tree.leaves(jax.tree.map(lambda v: v, model.embed.embedding.get_value()))]
  episodes = [Episode(None, (PROMPT,), ((TARGET, 3, 4, 5),), ((),), ("",), False)] * GROUP_SIZE
  advantages, metrics = algorithms.get_advantage("grpo")(jax.numpy.ones((1, GROUP_SIZE)))
  assert float(metrics["groups/zero_spread_fraction"]) == 1.0
  batch = episode_rows(episodes, np.asarray(advantages).reshape(-1))
  rl_train_step(model, optimizer, jax.tree.map(jax.numpy.asarray, batch), loss_config=algorithms.LossConfig(),
                temperature=1.0, recomputed_old=False)
  after = [np.asarray(model.embed.embedding.get_value())]
  assert np.array_equal(before[0], after[0])
