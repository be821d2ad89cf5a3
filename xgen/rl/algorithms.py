"""The pure math of GRPO-family RL: group advantages, token aggregation, KL and entropy, the clipped loss.

Everything here is jax.numpy on arrays, with no model, optimizer or host state, so it runs inside
``jax.jit`` and the loss is differentiable (in the spirit of Tunix's ``algo_core.py``). Functions that
produce a training signal return ``(value, metrics)``, where ``metrics`` maps names to scalar arrays.

* Advantage estimators (``ADVANTAGE_ESTIMATORS``, by name): ``grpo`` (group-normalized rewards),
  ``rloo`` (leave-one-out baseline) and ``dr_grpo`` (mean-centred only, Dr. GRPO, Liu et al. 2025).
  Each takes rewards ``[num_groups, group_size]`` and ignores keyword arguments it has no use for,
  so a trainer can call any of them as ``get_advantage(name)(rewards, scale_std=..., epsilon=...)``.
* ``aggregate``: a masked ``[B, T]`` per-token quantity to a scalar (``AGGREGATIONS``).
* ``kl_penalty`` (``KL_ESTIMATORS``), ``entropy_from_logits``, ``token_logprobs``: per-token terms.
* ``LossConfig`` and ``policy_loss``: the PPO/GRPO clipped surrogate with asymmetric clipping (DAPO's
  clip-higher), an optional KL penalty to a reference policy and an optional entropy bonus.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from xgen import validation as v

ZERO_SPREAD_TOLERANCE = 1e-6
AGGREGATIONS = ("token_mean", "sequence_mean", "token_sum")
AUTO = "auto"  # LossConfig.normalizer computed from the batch (xgen.rl.config.resolved_loss)
KL_ESTIMATORS = ("k1", "k3")

ADVANTAGE_ESTIMATORS: dict[str, Callable] = {}


# ----------------------------------------------------------------------------------------------------------------------
# Advantages.


def register_advantage(name: str) -> Callable[[Callable], Callable]:
  """Decorator: registers ``fn(rewards, **kwargs) -> (advantages, metrics)`` under ``name``."""

  def decorator(fn: Callable) -> Callable:
    if name in ADVANTAGE_ESTIMATORS and ADVANTAGE_ESTIMATORS[name] is not fn:
      raise ValueError(f"advantage estimator {name!r} is already registered")
    ADVANTAGE_ESTIMATORS[name] = fn
    return fn

  return decorator


def get_advantage(name: str) -> Callable:
  """The estimator registered as ``name``; ValueError naming the known ones otherwise."""
  if name not in ADVANTAGE_ESTIMATORS:
    raise ValueError(f"unknown advantage estimator {name!r}; known: {', '.join(sorted(ADVANTAGE_ESTIMATORS))}")
  return ADVANTAGE_ESTIMATORS[name]


def _group_rewards(rewards) -> jax.Array:
  rewards = jnp.asarray(rewards, jnp.float32)
  if rewards.ndim != 2:
    raise ValueError(f"rewards: expected shape [num_groups, group_size], got {rewards.shape}")
  return rewards


def _advantage_metrics(rewards: jax.Array, advantages: jax.Array) -> dict[str, jax.Array]:
  """Scalar summaries of rewards ``[G, K]`` and their advantages (population stds throughout)."""
  spread = rewards.max(axis=1) - rewards.min(axis=1)
  return {
      "advantage/mean": advantages.mean(),
      "advantage/std": advantages.std(),
      "advantage/min": advantages.min(),
      "advantage/max": advantages.max(),
      "reward/mean": rewards.mean(),
      "reward/std": rewards.std(),
      "reward/group_std_mean": rewards.std(axis=1).mean(),
      "groups/zero_spread_fraction": (spread <= ZERO_SPREAD_TOLERANCE).astype(jnp.float32).mean(),
  }


@register_advantage("grpo")
def grpo_advantages(rewards, *, scale_std: bool = True, epsilon: float = 1e-4, **unused) -> tuple[jax.Array, dict]:
  """GRPO: ``(r - group mean) / (group std + epsilon)``, or ``r - group mean`` when not ``scale_std``.

  The group std is the population std (ddof=0, as ``jnp.std``); TRL uses torch's unbiased (ddof=1) std,
  which gives slightly smaller advantages for small groups. A group whose rewards are all equal gets 0.
  """
  del unused
  rewards = _group_rewards(rewards)
  advantages = rewards - rewards.mean(axis=1, keepdims=True)
  if scale_std:
    advantages = advantages / (rewards.std(axis=1, keepdims=True) + epsilon)
  return advantages, _advantage_metrics(rewards, advantages)


@register_advantage("rloo")
def rloo_advantages(rewards, **unused) -> tuple[jax.Array, dict]:
  """RLOO: each reward minus the mean of the other ``group_size - 1`` rewards of its group (needs >= 2)."""
  del unused
  rewards = _group_rewards(rewards)
  size = rewards.shape[1]
  if size < 2:
    raise ValueError(f"rloo: needs a group size of at least 2, got rewards of shape {rewards.shape}")
  others_mean = (rewards.sum(axis=1, keepdims=True) - rewards) / (size - 1)
  advantages = rewards - others_mean
  return advantages, _advantage_metrics(rewards, advantages)


@register_advantage("dr_grpo")
def dr_grpo_advantages(rewards, **unused) -> tuple[jax.Array, dict]:
  """Dr. GRPO (Liu et al. 2025): ``r - group mean``, without the std scaling that biases towards easy groups."""
  del unused
  rewards = _group_rewards(rewards)
  advantages = rewards - rewards.mean(axis=1, keepdims=True)
  return advantages, _advantage_metrics(rewards, advantages)


# ----------------------------------------------------------------------------------------------------------------------
# Per-token terms and their aggregation.


def aggregate(per_token, mask, mode: str, *, normalizer: float | None = None) -> jax.Array:
  """A scalar from ``per_token`` ``[B, T]`` weighted by ``mask`` ``[B, T]``.

  ``token_mean``: ``sum(x * m) / max(sum(m), 1)``, every response token weighs the same.
  ``sequence_mean``: the mean over rows with any token of that row's token mean (rows without tokens
  do not count; 0 if no row has one). ``token_sum``: ``sum(x * m) / normalizer``, with a constant
  normalizer such as rows * max response length (Dr. GRPO), so that a token's weight does not
  depend on the lengths of the other responses.
  """
  if mode not in AGGREGATIONS:
    raise ValueError(f"aggregation: one of {', '.join(AGGREGATIONS)}, got {mode!r}")
  mask = jnp.asarray(mask, jnp.float32)
  masked = jnp.asarray(per_token, jnp.float32) * mask
  if mode == "token_mean":
    return masked.sum() / jnp.maximum(mask.sum(), 1.0)
  if mode == "sequence_mean":
    row_counts = mask.sum(axis=-1)
    row_means = masked.sum(axis=-1) / jnp.maximum(row_counts, 1.0)
    has_tokens = (row_counts > 0).astype(jnp.float32)
    return (row_means * has_tokens).sum() / jnp.maximum(has_tokens.sum(), 1.0)
  if not v.is_number(normalizer) or not normalizer > 0:
    raise ValueError(f"normalizer: token_sum needs a positive number (resolve \"{AUTO}\" with "
                     f"xgen.rl.config.resolved_loss), got {normalizer!r}")
  return masked.sum() / normalizer


def kl_penalty(logprobs, ref_logprobs, kind: str) -> jax.Array:
  """Per-token estimate of KL(policy || reference) from the sampled tokens' log-probs.

  ``k1``: ``logprobs - ref_logprobs`` (unbiased, can be negative). ``k3`` (Schulman's low-variance,
  unbiased estimator, always >= 0): ``exp(ref - lp) - (ref - lp) - 1``, computed with ``expm1``.
  """
  if kind not in KL_ESTIMATORS:
    raise ValueError(f"kl_estimator: one of {', '.join(KL_ESTIMATORS)}, got {kind!r}")
  if kind == "k1":
    return logprobs - ref_logprobs
  log_ratio = ref_logprobs - logprobs
  return jnp.expm1(log_ratio) - log_ratio


def entropy_from_logits(logits) -> jax.Array:
  """Entropy ``[B, T]`` (float32, nats) of ``softmax(logits)`` for logits ``[B, T, V]``; -inf logits are allowed."""
  logp = jax.nn.log_softmax(jnp.asarray(logits, jnp.float32), axis=-1)
  p = jnp.exp(logp)
  return -(p * jnp.where(p > 0, logp, 0.0)).sum(axis=-1)


def token_logprobs(logits, targets) -> jax.Array:
  """``log softmax(logits)`` ``[B, T, V]`` at integer ``targets`` ``[B, T]``, as float32 ``[B, T]``."""
  logp = jax.nn.log_softmax(jnp.asarray(logits, jnp.float32), axis=-1)
  return jnp.take_along_axis(logp, jnp.asarray(targets)[..., None], axis=-1)[..., 0]


# ----------------------------------------------------------------------------------------------------------------------
# The loss.


@dataclasses.dataclass(frozen=True, kw_only=True)
class LossConfig:
  """The knobs of ``policy_loss``; frozen and hashable, so it can be a static argument of ``jax.jit``."""
  epsilon_low: float = 0.2          # ratio clipped below at 1 - epsilon_low (for negative advantages)
  epsilon_high: float = 0.2         # ratio clipped above at 1 + epsilon_high; DAPO "clip-higher" uses e.g. 0.28
  aggregation: str = "token_mean"   # one of AGGREGATIONS
  normalizer: float | str | None = None  # token_sum only: a constant, or "auto" (responses per update x max_new_tokens)
  beta: float = 0.0                 # KL coefficient; 0 means no reference model is needed
  kl_estimator: str = "k3"          # one of KL_ESTIMATORS
  entropy_coef: float = 0.0         # entropy bonus coefficient

  def __post_init__(self):
    v.number_in("LossConfig", "epsilon_low", self.epsilon_low, 0.0, 1.0, high_open=True)
    v.number_in("LossConfig", "epsilon_high", self.epsilon_high, 0.0, 1.0, high_open=True)
    v.choice("LossConfig", "aggregation", self.aggregation, AGGREGATIONS)
    if self.normalizer is None:
      if self.aggregation == "token_sum":
        raise ValueError(f"LossConfig.normalizer: aggregation 'token_sum' needs a positive number or "
                         f"\"{AUTO}\" (responses per update x max_new_tokens), got None")
    elif self.normalizer != AUTO:
      v.number_in("LossConfig", "normalizer", self.normalizer, 0.0, low_open=True)
    v.number_in("LossConfig", "beta", self.beta, 0.0)
    v.choice("LossConfig", "kl_estimator", self.kl_estimator, KL_ESTIMATORS)
    v.number_in("LossConfig", "entropy_coef", self.entropy_coef, 0.0)


def _masked_extreme(values: jax.Array, mask: jax.Array, reduce: Callable, fill: float) -> jax.Array:
  """``reduce`` (jnp.min or jnp.max) over tokens where ``mask > 0``; 0 when there are none."""
  selected = mask > 0
  return jnp.where(selected.any(), reduce(jnp.where(selected, values, fill)), 0.0)


def policy_loss(logprobs, old_logprobs, advantages, mask, config: LossConfig, *, ref_logprobs=None,
                entropy=None) -> tuple[jax.Array, dict[str, jax.Array]]:
  """The clipped policy-gradient loss and its metrics.

  ``logprobs``, ``old_logprobs``, ``mask``: ``[B, T]`` (mask 1 on response tokens); ``advantages``: ``[B]``,
  one per sequence, broadcast over its tokens. Per token, with ``ratio = exp(logprobs - old_logprobs)``:
  ``-min(ratio * A, clip(ratio, 1 - epsilon_low, 1 + epsilon_high) * A)``, plus ``beta * kl_penalty`` when
  ``beta > 0`` (needs ``ref_logprobs``), minus ``entropy_coef * entropy`` when ``entropy_coef > 0`` (needs
  ``entropy`` ``[B, T]``); the sum is aggregated with ``config.aggregation``.

  Metrics: ``loss`` (the returned value) and, as token means over the mask, ``pg_loss``, ``clip/low_fraction``
  (A < 0 and ratio < 1 - epsilon_low), ``clip/high_fraction`` (A > 0 and ratio > 1 + epsilon_high),
  ``clip/fraction`` (their sum), ``ratio/mean``, ``kl`` (whenever ``ref_logprobs`` is given) and ``entropy``
  (whenever ``entropy`` is given); ``ratio/min`` and ``ratio/max`` over masked tokens (0 if none);
  ``response_tokens``, the sum of the mask.
  """
  if config.beta > 0 and ref_logprobs is None:
    raise ValueError(f"policy_loss: LossConfig.beta={config.beta} needs ref_logprobs")
  if config.entropy_coef > 0 and entropy is None:
    raise ValueError(f"policy_loss: LossConfig.entropy_coef={config.entropy_coef} needs entropy")
  logprobs = jnp.asarray(logprobs, jnp.float32)
  mask = jnp.asarray(mask, jnp.float32)
  advantages = jnp.asarray(advantages, jnp.float32)
  if advantages.shape != logprobs.shape[:1]:
    raise ValueError(f"policy_loss: advantages must have shape {logprobs.shape[:1]} (one per row), "
                     f"got {advantages.shape}")
  advantage = advantages[:, None]

  ratio = jnp.exp(logprobs - old_logprobs)
  low, high = 1.0 - config.epsilon_low, 1.0 + config.epsilon_high
  pg = -jnp.minimum(ratio * advantage, jnp.clip(ratio, low, high) * advantage)
  per_token = pg
  clipped_low = ((advantage < 0) & (ratio < low)).astype(jnp.float32)
  clipped_high = ((advantage > 0) & (ratio > high)).astype(jnp.float32)

  def mean(x):
    return aggregate(x, mask, "token_mean")

  metrics = {
      "pg_loss": mean(pg),
      "clip/low_fraction": mean(clipped_low),
      "clip/high_fraction": mean(clipped_high),
      "clip/fraction": mean(clipped_low + clipped_high),
      "ratio/mean": mean(ratio),
      "ratio/min": _masked_extreme(ratio, mask, jnp.min, jnp.inf),
      "ratio/max": _masked_extreme(ratio, mask, jnp.max, -jnp.inf),
      "response_tokens": mask.sum(),
  }
  if ref_logprobs is not None:
    kl = kl_penalty(logprobs, ref_logprobs, config.kl_estimator)
    metrics["kl"] = mean(kl)
    if config.beta > 0:
      per_token = per_token + config.beta * kl
  if entropy is not None:
    metrics["entropy"] = mean(entropy)
    if config.entropy_coef > 0:
      per_token = per_token - config.entropy_coef * entropy
  loss = aggregate(per_token, mask, config.aggregation, normalizer=config.normalizer)
  metrics["loss"] = loss
  return loss, metrics
