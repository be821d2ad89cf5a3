"""GRPO-family math: every expected number below is worked out by hand, not by re-running the formula.

The functions are called through ``jax.jit`` (so everything is checked to trace), and tests share shapes
and configs where they can: each compile costs a fraction of a second, and the file stays fast.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xgen.rl import algorithms
from xgen.rl.algorithms import LossConfig

_ESTIMATE = jax.jit(lambda name, rewards, scale_std, epsilon: algorithms.get_advantage(name)(
    rewards, scale_std=scale_std, epsilon=epsilon), static_argnums=(0, 2))
policy_loss = jax.jit(algorithms.policy_loss, static_argnames=("config",))


def estimate(name: str, rewards, *, scale_std: bool = True, epsilon: float = 1e-4):
  """The trainer's call, ``get_advantage(name)(rewards, scale_std=..., epsilon=...)``, under jit."""
  return _ESTIMATE(name, jnp.asarray(rewards, jnp.float32), scale_std, epsilon)


def close(actual, expected, atol=1e-5):
  np.testing.assert_allclose(np.asarray(actual), np.asarray(expected, np.float32), rtol=1e-5, atol=atol)


# ---------------------------------------------------------------------------------------------------------------------
# Advantages.

BINARY = [[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]]  # [2, 4]
THREES = [[3.0, 0.0, 0.0], [2.0, 2.0, 5.0]]            # [2, 3]


def test_registry_names_and_unknown_name():
  assert set(algorithms.ADVANTAGE_ESTIMATORS) == {"grpo", "rloo", "dr_grpo"}
  assert algorithms.get_advantage("grpo") is algorithms.grpo_advantages
  assert algorithms.get_advantage("rloo") is algorithms.rloo_advantages
  assert algorithms.get_advantage("dr_grpo") is algorithms.dr_grpo_advantages
  with pytest.raises(ValueError, match="dr_grpo, grpo, rloo"):
    algorithms.get_advantage("ppo")
  with pytest.raises(ValueError, match="already registered"):
    algorithms.register_advantage("grpo")(lambda rewards, **kwargs: (rewards, {}))


def test_grpo_scaled_by_std():
  # Group 1: mean 0.5, population std 0.5 -> +-0.5 / (0.5 + 1e-4); group 2 has no spread -> 0.
  a = 0.5 / 0.5001
  adv, metrics = estimate("grpo", BINARY)
  close(adv, [[a, -a, -a, a], [0, 0, 0, 0]])
  close(metrics["reward/mean"], 0.75)
  close(metrics["reward/std"], math.sqrt(0.75 * 0.25))  # six 1s and two 0s
  close(metrics["reward/group_std_mean"], 0.25)  # (0.5 + 0) / 2
  close(metrics["groups/zero_spread_fraction"], 0.5)
  close(metrics["advantage/mean"], 0.0)
  close(metrics["advantage/min"], -a)
  close(metrics["advantage/max"], a)
  assert all(value.shape == () for value in metrics.values())


def test_grpo_uses_population_std():
  # [3, 0, 0]: mean 1, deviations [2, -1, -1], population std sqrt(6 / 3) = sqrt(2) (unbiased: sqrt(3)).
  # [2, 2, 5]: mean 3, deviations [-1, -1, 2], population std sqrt(2) too.
  adv, _ = estimate("grpo", THREES, epsilon=0.0)
  close(adv, [[1.4142135, -0.7071068, -0.7071068], [-0.7071068, -0.7071068, 1.4142135]])


def test_grpo_without_std_scaling():
  adv, metrics = estimate("grpo", BINARY, scale_std=False)
  close(adv, [[0.5, -0.5, -0.5, 0.5], [0, 0, 0, 0]])
  close(metrics["advantage/std"], math.sqrt(4 * 0.25 / 8))  # four +-0.5 and four 0
  close(metrics["advantage/min"], -0.5)
  close(metrics["advantage/max"], 0.5)


def test_rloo_leaves_one_out():
  adv, _ = estimate("rloo", THREES)
  # 3 - mean(0, 0); 0 - mean(3, 0); ... | 2 - mean(2, 5); 5 - mean(2, 2).
  close(adv, [[3.0, -1.5, -1.5], [-1.5, -1.5, 3.0]])
  adv, _ = estimate("rloo", [[1.0, 2.0, 3.0, 6.0], [1.0, 0.0, 0.0, 1.0]])
  close(adv, [[1 - 11 / 3, 2 - 10 / 3, 3 - 9 / 3, 6 - 6 / 3], [1 - 1 / 3, 0 - 2 / 3, 0 - 2 / 3, 1 - 1 / 3]])


def test_rloo_needs_two_per_group():
  with pytest.raises(ValueError, match="at least 2"):
    algorithms.rloo_advantages([[1.0], [0.0]])
  with pytest.raises(ValueError, match="at least 2"):
    estimate("rloo", [[1.0], [0.0]])


def test_dr_grpo_centres_only():
  adv, metrics = estimate("dr_grpo", THREES)  # scale_std=True is passed and ignored
  close(adv, [[2.0, -1.0, -1.0], [-1.0, -1.0, 2.0]])
  close(metrics["reward/group_std_mean"], math.sqrt(2))
  close(metrics["groups/zero_spread_fraction"], 0.0)


@pytest.mark.parametrize("name", ["grpo", "rloo", "dr_grpo"])
def test_equal_rewards_give_zero_advantages(name):
  adv, metrics = estimate(name, [[7.0, 7.0, 7.0], [0.0, 0.0, 0.0]])
  close(adv, np.zeros((2, 3)))
  close(metrics["groups/zero_spread_fraction"], 1.0)


def test_zero_spread_fraction_tolerance():
  _, metrics = estimate("dr_grpo", [[0.0, 0.0, 1e-7], [0.0, 0.0, 1.0]])  # equal within 1e-6; spread
  close(metrics["groups/zero_spread_fraction"], 0.5)


def test_advantages_run_eagerly():
  """The trainer calls the estimator outside jit, on host rewards."""
  adv, metrics = algorithms.get_advantage("grpo")(np.array(BINARY, np.float32), scale_std=False)
  close(adv, [[0.5, -0.5, -0.5, 0.5], [0, 0, 0, 0]])
  close(metrics["groups/zero_spread_fraction"], 0.5)


# ---------------------------------------------------------------------------------------------------------------------
# Aggregation, KL, entropy, log-probs.

RAGGED_VALUES = [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 0.0, 0.0], [9.0, 9.0, 9.0, 9.0]]
RAGGED_MASK = [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]


@jax.jit
def all_aggregations(values, mask):
  return [algorithms.aggregate(values, mask, mode, normalizer=12.0) for mode in algorithms.AGGREGATIONS]


def test_aggregations_on_a_ragged_mask():
  assert algorithms.AGGREGATIONS == ("token_mean", "sequence_mean", "token_sum")
  token_mean, sequence_mean, token_sum = all_aggregations(jnp.array(RAGGED_VALUES), jnp.array(RAGGED_MASK))
  close(token_mean, 21 / 6)  # (10 + 11) / 6 tokens
  close(sequence_mean, 4.0)  # (2.5 + 5.5) / 2; the third row has no tokens and does not count
  close(token_sum, 21 / 12)


def test_aggregations_of_an_empty_mask_are_zero():
  close(all_aggregations(jnp.array(RAGGED_VALUES), jnp.zeros((3, 4))), [0.0, 0.0, 0.0])


def test_aggregation_errors():
  with pytest.raises(ValueError, match="normalizer"):
    algorithms.aggregate(RAGGED_VALUES, RAGGED_MASK, "token_sum")
  with pytest.raises(ValueError, match="normalizer"):
    algorithms.aggregate(RAGGED_VALUES, RAGGED_MASK, "token_sum", normalizer=0.0)
  with pytest.raises(ValueError, match="token_mean"):
    algorithms.aggregate(RAGGED_VALUES, RAGGED_MASK, "mean")


@jax.jit
def kl_values(logprobs, ref_logprobs, grid):
  return (algorithms.kl_penalty(logprobs, ref_logprobs, "k1"), algorithms.kl_penalty(logprobs, ref_logprobs, "k3"),
          algorithms.kl_penalty(grid[:, None], grid[None, :], "k3"))


def test_kl_estimators_by_hand():
  k1, k3, grid = kl_values(jnp.array([-1.0, -2.0, -0.5]), jnp.array([-2.0, -1.0, -0.5]), jnp.linspace(-10.0, 0.0, 41))
  close(k1, [1.0, -1.0, 0.0])
  # ref - lp = -1: e^-1 + 1 - 1 = 0.367879; ref - lp = +1: e - 1 - 1 = 0.718282; equal: 0.
  close(k3, [0.3678794, 0.7182818, 0.0])
  assert bool((grid >= 0).all())
  assert float(jnp.abs(jnp.diagonal(grid)).max()) == 0.0
  with pytest.raises(ValueError, match="k1, k3"):
    algorithms.kl_penalty(jnp.zeros(2), jnp.zeros(2), "k2")


def test_entropy():
  logits = jnp.array([[[0.0, 0.0, 0.0, 0.0], [50.0, 0.0, 0.0, 0.0], [0.0, 0.0, -jnp.inf, -jnp.inf]]], jnp.bfloat16)
  entropy = jax.jit(algorithms.entropy_from_logits)(logits)
  assert entropy.shape == (1, 3) and entropy.dtype == jnp.float32
  # Uniform over 4: log 4; one-hot-ish: ~0; masked-out vocabulary (-inf) allowed: uniform over 2, log 2.
  close(entropy, [[math.log(4), 0.0, math.log(2)]], atol=1e-6)
  grad = jax.jit(jax.grad(lambda x: algorithms.entropy_from_logits(x).sum()))(logits.astype(jnp.float32))
  assert bool(jnp.isfinite(grad).all())


def test_token_logprobs():
  logits = jnp.log(jnp.array([[[1.0, 3.0], [1.0, 3.0]]]))  # probabilities [0.25, 0.75]
  out = jax.jit(algorithms.token_logprobs)(logits, jnp.array([[1, 0]]))
  assert out.shape == (1, 2) and out.dtype == jnp.float32
  close(out, [[math.log(0.75), math.log(0.25)]])


# ---------------------------------------------------------------------------------------------------------------------
# The loss.

ASYMMETRIC = LossConfig(epsilon_low=0.2, epsilon_high=0.28)  # ratio range [0.8, 1.28]


@pytest.mark.parametrize("ratio, advantage, expected, low, high", [
    (1.1, 1.0, -1.1, 0, 0),     # inside the range: -ratio * A
    (1.25, 2.0, -2.5, 0, 0),    # inside [0.8, 1.28] (a symmetric 0.2 would clip it)
    (1.5, 1.0, -1.28, 0, 1),    # A > 0, above 1 + eps_high: clipped to 1.28
    (0.5, 1.0, -0.5, 0, 0),     # A > 0, below 1 - eps_low: min keeps the unclipped 0.5
    (0.5, -1.0, 0.8, 1, 0),     # A < 0, below 1 - eps_low: clipped to 0.8
    (0.75, -2.0, 1.6, 1, 0),    # A < 0, 0.75 < 0.8: 0.8 * 2
    (1.5, -1.0, 1.5, 0, 0),     # A < 0, above the range: min keeps the unclipped 1.5 (no upper bound)
    (0.9, -2.0, 1.8, 0, 0),     # A < 0, inside
])
def test_clipped_loss_by_hand(ratio, advantage, expected, low, high):
  logprobs = jnp.array([[math.log(ratio)]])
  loss, metrics = policy_loss(logprobs, jnp.zeros((1, 1)), jnp.array([advantage]), jnp.ones((1, 1)), ASYMMETRIC)
  close(loss, expected)
  close(metrics["loss"], expected)
  close(metrics["pg_loss"], expected)
  close(metrics["clip/low_fraction"], low)
  close(metrics["clip/high_fraction"], high)
  close(metrics["clip/fraction"], low + high)
  close(metrics["ratio/mean"], ratio)


def batch():
  """Row 0 (A = +1): ratios 1.5 (clipped high), 1.1. Row 1 (A = -1): 0.5 (clipped low), 1.5.
  Row 2 (A = +1): 2.0 (clipped high), then a padding token with ratio 10 that the mask drops.
  Per-token losses: -1.28, -1.1 | 0.8, 1.5 | -1.28: sum -1.36 over 5 tokens."""
  logprobs = jnp.log(jnp.array([[1.5, 1.1], [0.5, 1.5], [2.0, 10.0]]))
  return logprobs, jnp.zeros((3, 2)), jnp.array([1.0, -1.0, 1.0]), jnp.array([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]])


def test_clip_fractions_and_ratio_metrics():
  loss, metrics = policy_loss(*batch(), ASYMMETRIC)
  close(loss, -1.36 / 5)
  close(metrics["response_tokens"], 5.0)
  close(metrics["clip/high_fraction"], 2 / 5)
  close(metrics["clip/low_fraction"], 1 / 5)
  close(metrics["clip/fraction"], 3 / 5)
  close(metrics["ratio/mean"], (1.5 + 1.1 + 0.5 + 1.5 + 2.0) / 5)
  close(metrics["ratio/min"], 0.5)
  close(metrics["ratio/max"], 2.0)  # not the masked 10
  assert "kl" not in metrics and "entropy" not in metrics
  assert all(value.shape == () for value in metrics.values())


def test_other_aggregations_in_the_loss():
  # Row means: (-1.28 - 1.1) / 2 = -1.19, (0.8 + 1.5) / 2 = 1.15, -1.28 -> mean -1.32 / 3.
  loss, metrics = policy_loss(*batch(), LossConfig(epsilon_high=0.28, aggregation="sequence_mean"))
  close(loss, -1.32 / 3)
  close(metrics["loss"], -1.32 / 3)
  close(metrics["pg_loss"], -1.36 / 5)  # metrics stay token means
  loss, _ = policy_loss(*batch(), LossConfig(epsilon_high=0.28, aggregation="token_sum", normalizer=4.0))
  close(loss, -1.36 / 4)


def test_gradient_is_zero_on_clipped_tokens():
  logprobs, old, advantages, mask = batch()
  grad = jax.jit(jax.grad(lambda lp: algorithms.policy_loss(lp, old, advantages, mask, ASYMMETRIC)[0]))(logprobs)
  # d(-ratio * A / 5) / d logprob = -ratio * A / 5 on unclipped tokens: -1.1 / 5 and +1.5 / 5; 0 where clipped.
  close(grad, [[0.0, -0.22], [0.0, 0.3], [0.0, 0.0]])


def test_on_policy_gradient_is_minus_advantage_over_token_count():
  logprobs = jnp.array([[-0.3, -1.2, -2.0], [-0.7, -0.1, -4.0]])
  advantages = jnp.array([2.0, -1.0])
  mask = jnp.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])

  def loss(lp):
    return algorithms.policy_loss(lp, jax.lax.stop_gradient(lp), advantages, mask, LossConfig())[0]

  close(jax.jit(jax.grad(loss))(logprobs), [[-2 / 3, -2 / 3, 0.0], [1 / 3, 0.0, 0.0]])


def test_kl_and_entropy_terms():
  logprobs = jnp.array([[-1.0, -2.0]])
  args = (logprobs, logprobs, jnp.array([1.0]), jnp.ones((1, 2)))  # ratio 1, A = 1: pg -1 per token
  ref, entropy = jnp.array([[-2.0, -1.0]]), jnp.array([[2.0, 4.0]])
  # k3 per token: 0.367879, 0.718282 -> mean 0.543081; entropy mean 3.
  loss, metrics = policy_loss(*args, LossConfig(beta=0.1, entropy_coef=0.01), ref_logprobs=ref, entropy=entropy)
  close(metrics["kl"], 0.5430806)
  close(metrics["entropy"], 3.0)
  close(metrics["pg_loss"], -1.0)
  close(loss, -1.0 + 0.1 * 0.5430806 - 0.01 * 3.0)
  # Coefficients 0: KL (here k1: (1 - 1) / 2) and entropy are still reported, but not added.
  loss, metrics = policy_loss(*args, LossConfig(kl_estimator="k1"), ref_logprobs=ref, entropy=entropy)
  close(metrics["kl"], 0.0)
  close(metrics["entropy"], 3.0)
  close(loss, -1.0)


def test_missing_inputs():
  args = (jnp.zeros((1, 2)), jnp.zeros((1, 2)), jnp.array([1.0]), jnp.ones((1, 2)))
  with pytest.raises(ValueError, match="ref_logprobs"):
    algorithms.policy_loss(*args, LossConfig(beta=0.1))
  with pytest.raises(ValueError, match="entropy"):
    algorithms.policy_loss(*args, LossConfig(entropy_coef=0.01))
  with pytest.raises(ValueError, match="advantages"):
    algorithms.policy_loss(jnp.zeros((2, 3)), jnp.zeros((2, 3)), jnp.zeros((2, 3)), jnp.ones((2, 3)), LossConfig())


def test_full_loss_and_gradient_under_jit():
  """All three terms at once, with the gradient taken inside jit."""
  config = LossConfig(epsilon_high=0.28, beta=0.1, entropy_coef=0.01)
  logprobs, old, advantages, mask = batch()
  ref, entropy = logprobs - 0.5, jnp.ones((3, 2))

  @jax.jit
  def step(lp):
    return jax.value_and_grad(
        lambda x: algorithms.policy_loss(x, old, advantages, mask, config, ref_logprobs=ref, entropy=entropy),
        has_aux=True)(lp)

  (loss, metrics), grad = step(logprobs)
  # k3 at ref - lp = -0.5: e^-0.5 + 0.5 - 1 = 0.1065307; its derivative in lp: 1 - e^-0.5 = 0.3934693.
  close(metrics["kl"], 0.1065307)
  close(metrics["entropy"], 1.0)
  close(loss, -1.36 / 5 + 0.1 * 0.1065307 - 0.01 * 1.0)
  close(metrics["loss"], loss)
  kl_grad = 0.1 * 0.3934693 / 5
  close(grad, [[kl_grad, -0.22 + kl_grad], [kl_grad, 0.3 + kl_grad], [kl_grad, 0.0]])


# ---------------------------------------------------------------------------------------------------------------------
# Config.


@pytest.mark.parametrize("kwargs, field", [
    ({"epsilon_low": -0.1}, "epsilon_low"),
    ({"epsilon_low": 1.0}, "epsilon_low"),
    ({"epsilon_high": 1.5}, "epsilon_high"),
    ({"epsilon_high": "0.2"}, "epsilon_high"),
    ({"aggregation": "mean"}, "aggregation"),
    ({"aggregation": "token_sum"}, "normalizer"),
    ({"aggregation": "token_sum", "normalizer": 0.0}, "normalizer"),
    ({"normalizer": -3.0}, "normalizer"),
    ({"beta": -0.01}, "beta"),
    ({"beta": float("nan")}, "beta"),
    ({"kl_estimator": "k2"}, "kl_estimator"),
    ({"entropy_coef": -1.0}, "entropy_coef"),
])
def test_config_validation_names_the_field(kwargs, field):
  with pytest.raises(ValueError, match=f"LossConfig.{field}") as error:
    LossConfig(**kwargs)
  if field in kwargs:
    assert repr(kwargs[field]) in str(error.value)


def test_config_accepts_dapo_and_dr_grpo_settings():
  LossConfig(epsilon_low=0.2, epsilon_high=0.28, aggregation="token_sum", normalizer=8 * 512, beta=0.04,
             kl_estimator="k1", entropy_coef=1e-3)
  assert hash(LossConfig()) == hash(LossConfig())  # usable as a static jit argument
  with pytest.raises(TypeError):
    LossConfig(0.2)  # keyword-only
