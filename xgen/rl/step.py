"""The RL update: episodes -> padded batches of response rows -> policy-gradient steps.

A mini-batch's rows are sorted by length and cut into length groups (``length_groups``), each padded to its
own length; the groups' gradients, weighted to give the mini-batch's loss, are summed before one optimizer
step. With one group the whole mini-batch is one padded batch (``rl_train_step``).

Each stage of each episode is one row: its prompt ids then its generated ids, right-padded to a
length rounded up to ``LENGTH_BUCKET`` (so only a few shapes compile); ``loss_mask`` is 1 on the
generated ids, and ``advantages`` holds the episode's advantage for each of its rows. The policy's
log-prob of a token is taken from ``logits / temperature``, the distribution it was sampled from.

Only response tokens are trained, so the head (the ``[.., V]`` logits, their softmax and entropy)
runs on a *response window* only: the ``window`` hidden states from each row's first response
target on (``starts``), gathered after the trunk. Every per-token array of the loss is
``[R, window]``: window position ``j`` of row ``r`` predicts token ``starts[r] + j + 1``.

``old_logprobs``: with one iteration and one mini-batch the batch was sampled from the very
parameters being updated, so the ratio is exactly 1 and ``stop_gradient`` of the current log-probs
is used (no extra forward). Otherwise they are computed once, before the first update, with
``sequence_logprobs``. ``ref_logprobs`` come from the frozen base when the KL coefficient is > 0.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from xgen.models.transformer import Transformer, segment_mask, segment_positions
from xgen.rl import algorithms
from xgen.rl.rollout import Episode

LENGTH_BUCKET = 16


class RLBatch(NamedTuple):
  tokens: jax.Array        # int32 [R, T]
  segment_ids: jax.Array   # int32 [R, T]: 1 on real tokens, 0 on padding
  loss_mask: jax.Array     # float32 [R, T]: 1 on generated tokens
  advantages: jax.Array    # float32 [R]
  starts: jax.Array        # int32 [R]: prompt length - 1, the position that predicts the first response token
  old_logprobs: jax.Array  # float32 [R, W] over the response window (zeros when unused)
  ref_logprobs: jax.Array  # float32 [R, W] over the response window (zeros when unused)


Row = tuple[tuple[int, ...], int, float]  # (prompt + completion ids, prompt length, advantage)


def episode_row_list(episodes: Sequence[Episode], advantages: np.ndarray, *, multiple_of: int = 1) -> list[Row]:
  """One row per (episode, stage), in episode order; empty rows (mask 0) are appended until the row count is a
  multiple of ``multiple_of`` (for equal mini-batches)."""
  rows = [(prompt + completion, len(prompt), advantage)
          for episode, advantage in zip(episodes, advantages)
          for prompt, completion in zip(episode.prompts, episode.completions)]
  return rows + [((), 0, 0.0)] * (-len(rows) % multiple_of)


def episode_rows(episodes: Sequence[Episode], advantages: np.ndarray, *, multiple_of: int = 1) -> RLBatch:
  """One row per (episode, stage), on the host (numpy), as one padded batch (``episode_row_list``)."""
  return padded_rows(episode_row_list(episodes, advantages, multiple_of=multiple_of))


def padded_rows(rows: Sequence[Row]) -> RLBatch:
  """The rows right-padded to one length bucket, with the response window of the longest response."""
  length = _bucket(max(len(ids) for ids, _, _ in rows))
  window = _bucket(max(len(ids) - prompt_length for ids, prompt_length, _ in rows))
  tokens = np.zeros((len(rows), length), np.int32)
  segment_ids = np.zeros((len(rows), length), np.int32)
  loss_mask = np.zeros((len(rows), length), np.float32)
  starts = np.zeros((len(rows),), np.int32)
  for r, (ids, prompt_length, _) in enumerate(rows):
    tokens[r, :len(ids)] = ids
    segment_ids[r, :len(ids)] = 1
    loss_mask[r, prompt_length:len(ids)] = 1.0
    starts[r] = max(prompt_length - 1, 0)
  zeros = np.zeros((len(rows), window), np.float32)
  return RLBatch(tokens, segment_ids, loss_mask, np.asarray([a for _, _, a in rows], np.float32), starts, zeros,
                 zeros)


def _bucket(length: int) -> int:
  return max(-(-length // LENGTH_BUCKET), 1) * LENGTH_BUCKET


def response_window(model: Transformer, batch: RLBatch, temperature: float) -> tuple[jax.Array, jax.Array,
                                                                                        jax.Array]:
  """(logits [R, W, V] of the distributions the response tokens were sampled from, the tokens
  [R, W], the mask [R, W]) over each row's response window (W = ``old_logprobs.shape[1]``)."""
  inputs, segments = batch.tokens[:, :-1], batch.segment_ids[:, :-1]
  hidden, _ = model.hidden(inputs, segment_positions(segments), segment_mask(segments))
  window = batch.old_logprobs.shape[1]
  index = batch.starts[:, None] + jnp.arange(window)[None, :]
  inside = index < inputs.shape[1]
  index = jnp.minimum(index, inputs.shape[1] - 1)
  gathered = jnp.take_along_axis(hidden, index[..., None], axis=1)
  targets = jnp.take_along_axis(batch.tokens[:, 1:], index, axis=1)
  mask = jnp.take_along_axis(batch.loss_mask[:, 1:], index, axis=1) * inside
  return model.logits(gathered) / temperature, targets, mask


@functools.partial(nnx.jit, static_argnames=("temperature",))
def sequence_logprobs(model: Transformer, batch: RLBatch, temperature: float) -> jax.Array:
  """[R, W]: log-prob of each response-window token (for the old policy and the reference model)."""
  logits, targets, _ = response_window(model, batch, temperature)
  return algorithms.token_logprobs(logits, targets)


def rl_loss(model: Transformer, batch: RLBatch, loss_config: algorithms.LossConfig, temperature: float,
            recomputed_old: bool) -> tuple[jax.Array, dict]:
  logits, targets, mask = response_window(model, batch, temperature)
  logprobs = algorithms.token_logprobs(logits, targets)
  old = batch.old_logprobs if recomputed_old else jax.lax.stop_gradient(logprobs)
  entropy = algorithms.entropy_from_logits(logits)
  if loss_config.entropy_coef == 0:
    entropy = jax.lax.stop_gradient(entropy)
  ref = batch.ref_logprobs if loss_config.beta > 0 else None
  loss, metrics = algorithms.policy_loss(logprobs, old, batch.advantages, mask, loss_config, ref_logprobs=ref,
                                         entropy=entropy)
  return loss, {**metrics, **row_statistics(logprobs, old, ref, entropy, batch.advantages, mask, loss_config)}


def row_statistics(logprobs, old_logprobs, ref_logprobs, entropy, advantages, mask,
                   loss_config: algorithms.LossConfig) -> dict[str, jax.Array]:
  """Per-row sums over response tokens ([R] each), so that the trainer can report entropy, KL and
  clipping per domain and trait: ``row/tokens``, ``row/entropy``, ``row/clipped`` and ``row/kl``."""
  logprobs, entropy = jax.lax.stop_gradient(logprobs), jax.lax.stop_gradient(entropy)
  ratio = jnp.exp(logprobs - old_logprobs)
  advantage = advantages[:, None]
  clipped = jnp.where(advantage > 0, ratio > 1 + loss_config.epsilon_high,
                      jnp.where(advantage < 0, ratio < 1 - loss_config.epsilon_low, False))
  rows = {"row/tokens": mask.sum(1), "row/entropy": (entropy * mask).sum(1), "row/clipped": (clipped * mask).sum(1)}
  if ref_logprobs is not None:
    rows["row/kl"] = (algorithms.kl_penalty(logprobs, ref_logprobs, loss_config.kl_estimator) * mask).sum(1)
  return rows


@functools.partial(nnx.jit, static_argnames=("loss_config", "temperature", "recomputed_old"),
                   donate_argnums=(0, 1))
def rl_train_step(model: Transformer, optimizer: nnx.Optimizer, batch: RLBatch, loss_config: algorithms.LossConfig,
                  temperature: float, recomputed_old: bool) -> dict:
  """One optimizer update on ``batch``; returns the loss's metrics and the gradient norm."""
  (_, metrics), grads = nnx.value_and_grad(rl_loss, has_aux=True)(model, batch, loss_config, temperature,
                                                                  recomputed_old)
  optimizer.update(model, grads)
  metrics["grad_norm"] = optax.tree.norm(grads)
  return metrics


class LengthGroups(NamedTuple):
  """One mini-batch's rows cut into groups of similar length, each padded to its own length bucket and response
  window, so that a short row is not padded to the longest row of the whole mini-batch."""
  batches: tuple[RLBatch, ...]
  rows: tuple[np.ndarray, ...]      # each group's rows, as indices into the mini-batch's rows
  weights: tuple[float, ...]        # each group's weight in the mini-batch's loss: its share of the normalizer
  token_shares: tuple[float, ...]   # each group's share of the mini-batch's response tokens (for token means)


def length_groups(rows: Sequence[Row], count: int, aggregation: str, *, row_multiple: int = 1) -> LengthGroups:
  """``rows`` sorted by length (ties in row order) and cut into ``count`` groups of (nearly) equal row count,
  each a multiple of ``row_multiple`` rows (the devices the rows are sharded over; fewer groups if need be).
  The weights make the sum of the groups' weighted losses the loss of the whole mini-batch under
  ``aggregation``: ``token_mean`` a group's share of the response tokens, ``sequence_mean`` its share of the
  rows with any, ``token_sum`` (a constant normalizer) 1. ``count`` 1 keeps the rows as they are."""
  units = len(rows) // row_multiple
  if count == 1 or units < 2 or len(rows) % row_multiple:
    parts = [np.arange(len(rows))]
  else:
    order = np.asarray(sorted(range(len(rows)), key=lambda r: len(rows[r][0])))
    bounds = np.cumsum([0] + [len(u) * row_multiple for u in np.array_split(np.arange(units), min(count, units))])
    parts = [order[start:end] for start, end in zip(bounds, bounds[1:])]
  tokens = [np.array([len(rows[r][0]) - rows[r][1] for r in part], float) for part in parts]
  total_tokens, total_rows = sum(t.sum() for t in tokens), sum((t > 0).sum() for t in tokens)
  shares = tuple(float(t.sum() / total_tokens) if total_tokens else 0.0 for t in tokens)
  if aggregation == "token_mean":
    weights = shares if len(parts) > 1 else (1.0,)
  elif aggregation == "sequence_mean":
    weights = tuple(float((t > 0).sum() / total_rows) if total_rows else 0.0 for t in tokens)
  else:
    weights = (1.0,) * len(parts)
  return LengthGroups(tuple(padded_rows([rows[r] for r in part]) for part in parts), tuple(parts), weights, shares)


def minibatch_groups(rows: Sequence[Row], minibatches: int, count: int, aggregation: str, *,
                     row_multiple: int = 1) -> list[LengthGroups]:
  """The rows (a multiple of ``minibatches``) cut into contiguous mini-batches, each into ``length_groups``."""
  size = len(rows) // minibatches
  return [length_groups(rows[i * size:(i + 1) * size], count, aggregation, row_multiple=row_multiple)
          for i in range(minibatches)]


@functools.partial(nnx.jit, static_argnames=("loss_config", "temperature", "recomputed_old"))
def rl_group_grads(model: Transformer, batch: RLBatch, weight: jax.Array, loss_config: algorithms.LossConfig,
                   temperature: float, recomputed_old: bool) -> tuple[nnx.State, dict]:
  """The gradient of ``weight`` x the loss on one length group, and the group's (unweighted) loss metrics."""

  def weighted(model: Transformer) -> tuple[jax.Array, dict]:
    loss, metrics = rl_loss(model, batch, loss_config, temperature, recomputed_old)
    return weight * loss, metrics

  (_, metrics), grads = nnx.value_and_grad(weighted, has_aux=True)(model)
  return grads, metrics


@functools.partial(nnx.jit, donate_argnums=(0, 1))
def apply_grads(model: Transformer, optimizer: nnx.Optimizer, grads: nnx.State) -> jax.Array:
  """One optimizer update with ``grads``; returns their global norm."""
  optimizer.update(model, grads)
  return optax.tree.norm(grads)


MIN_MAX = {"ratio/min": min, "ratio/max": max}


def merged_metrics(groups: LengthGroups, metrics: Sequence[dict]) -> dict[str, float | np.ndarray]:
  """One mini-batch's loss metrics from its groups' (on the host): ``loss`` the weighted sum,
  ``response_tokens`` the sum, ``ratio/min``/``max`` over groups with tokens, every other metric (a token mean)
  by token share; per-row ``row/...`` statistics back in the mini-batch's row order."""
  host = [{name: np.asarray(value) for name, value in m.items()} for m in metrics]
  order = np.argsort(np.concatenate(groups.rows), kind="stable")
  merged: dict[str, float | np.ndarray] = {}
  for name in host[0]:
    values = [h[name] for h in host]
    if name.startswith("row/"):
      merged[name] = np.concatenate(values)[order]
    elif name == "loss":
      merged[name] = float(sum(w * float(v) for w, v in zip(groups.weights, values)))
    elif name == "response_tokens":
      merged[name] = float(sum(float(v) for v in values))
    elif name in MIN_MAX:
      with_tokens = [float(v) for v, share in zip(values, groups.token_shares) if share > 0]
      merged[name] = MIN_MAX[name](with_tokens) if with_tokens else 0.0
    else:
      merged[name] = float(sum(share * float(v) for share, v in zip(groups.token_shares, values)))
  return merged


def device_batch(batch: RLBatch) -> RLBatch:
  return RLBatch(*(jnp.asarray(x) for x in batch))
