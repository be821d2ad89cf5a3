"""The supervised step: masked next-token cross-entropy over packed rows, and one optimizer update.

A batch is three [B, T] arrays: ``tokens``, ``segment_ids`` (1, 2, ... per packed conversation,
0 for padding) and ``loss_mask`` (1 where a token is a training target, e.g. an assistant reply).
The loss predicts ``tokens[:, 1:]`` from ``tokens[:, :-1]``, weighted by ``loss_mask[:, 1:]``, and
never across a segment boundary. Pure functions; the loop lives in ``xgen.train.sft``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from xgen.models.transformer import Transformer, forward


class Batch(NamedTuple):
  tokens: jax.Array       # int32 [B, T]
  segment_ids: jax.Array  # int32 [B, T]
  loss_mask: jax.Array    # float32 [B, T]


def target_weights(batch: Batch) -> jax.Array:
  """[B, T-1]: the weight of predicting token t+1 from the prefix ending at t."""
  same_segment = (batch.segment_ids[:, 1:] == batch.segment_ids[:, :-1]) & (batch.segment_ids[:, 1:] != 0)
  return batch.loss_mask[:, 1:].astype(jnp.float32) * same_segment


def token_losses(logits: jax.Array, targets: jax.Array) -> jax.Array:
  """Cross-entropy of each target under ``logits`` (float32)."""
  return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), targets)


def loss_fn(model: Transformer, batch: Batch) -> tuple[jax.Array, dict]:
  inputs = Batch(batch.tokens[:, :-1], batch.segment_ids[:, :-1], batch.loss_mask[:, :-1])
  logits = forward(model, inputs.tokens, inputs.segment_ids)
  weights = target_weights(batch)
  losses = token_losses(logits, batch.tokens[:, 1:])
  count = jnp.maximum(weights.sum(), 1.0)
  loss = (losses * weights).sum() / count
  correct = (jnp.argmax(logits, axis=-1) == batch.tokens[:, 1:]) * weights
  return loss, {"loss": loss, "accuracy": correct.sum() / count, "target_tokens": weights.sum()}


@nnx.jit(donate_argnums=(0, 1))
def train_step(model: Transformer, optimizer: nnx.Optimizer, batch: Batch) -> dict:
  """One update; returns the loss, accuracy, gradient norm and target token count of the batch."""
  (_, metrics), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, batch)
  optimizer.update(model, grads)
  metrics["grad_norm"] = optax.tree.norm(grads)
  return metrics


def make_optimizer(model: Transformer, *, learning_rate: float | optax.Schedule, weight_decay: float,
                   b1: float = 0.9, b2: float = 0.95, clip_norm: float = 1.0) -> nnx.Optimizer:
  """AdamW with global-norm clipping; weight decay skips norms and embeddings-free 1-D params."""
  decay_mask = lambda params: jax.tree.map(lambda p: p.ndim > 1, params)  # noqa: E731
  tx = optax.chain(optax.clip_by_global_norm(clip_norm),
                   optax.adamw(learning_rate, b1=b1, b2=b2, weight_decay=weight_decay, mask=decay_mask))
  return nnx.Optimizer(model, tx, wrt=nnx.Param)
