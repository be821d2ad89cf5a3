"""The RL update: episodes -> a padded batch of response rows -> policy-gradient steps.

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


def episode_rows(episodes: Sequence[Episode], advantages: np.ndarray, *, multiple_of: int = 1) -> RLBatch:
  """One row per (episode, stage), on the host (numpy); empty rows (mask 0) are appended until the
  row count is a multiple of ``multiple_of`` (for equal mini-batches)."""
  rows = [(prompt + completion, len(prompt), advantage)
          for episode, advantage in zip(episodes, advantages)
          for prompt, completion in zip(episode.prompts, episode.completions)]
  rows += [((), 0, 0.0)] * (-len(rows) % multiple_of)
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


def minibatch(batch: RLBatch, index: int, count: int) -> RLBatch:
  """Rows ``[index * R / count, (index + 1) * R / count)`` of every array."""
  size = batch.tokens.shape[0] // count
  return RLBatch(*(x[index * size:(index + 1) * size] for x in batch))


def device_batch(batch: RLBatch) -> RLBatch:
  return RLBatch(*(jnp.asarray(x) for x in batch))
