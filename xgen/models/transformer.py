"""A Llama-family decoder in Flax NNX: RMSNorm, rotary positions, SwiGLU, grouped-query attention.

One forward serves training, prefill and decoding:

  logits, cache = model(tokens, positions, mask, cache=None, cache_index=None)

``tokens`` and ``positions`` are [B, T]; ``mask`` is a boolean [B, T, S] saying which keys each
query may see (S = T without a cache, S = the cache length with one). With a cache, the new keys
and values are written at ``cache_index`` before attending, and the updated cache is returned.
Masks are built by the caller (``causal_mask``, ``segment_mask`` below), so packing, padding and
left-padded batches of prompts all go through the same code.

Parameters carry logical axis names (see ``xgen.models.sharding``) so that the same model runs on
one device, a mesh of devices, or several processes.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from xgen.models.config import ModelConfig

# Logical axis names of parameters and activations; xgen.models.sharding maps them onto a mesh.
EMBED, VOCAB, HEADS, KV_HEADS, MLP_AXIS = "embed", "vocab", "heads", "kv_heads", "mlp"


class LayerCache(NamedTuple):
  k: jax.Array  # [B, S, n_kv_heads, head_dim]
  v: jax.Array


Cache = tuple[LayerCache, ...]


def init_cache(config: ModelConfig, batch: int, length: int, dtype=None) -> Cache:
  shape = (batch, length, config.n_kv_heads, config.head_dim)
  dtype = dtype or config.jnp_dtype
  return tuple(LayerCache(jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)) for _ in range(config.n_layers))


def causal_mask(valid: jax.Array) -> jax.Array:
  """[B, T] -> [B, T, T]: each query sees earlier (and its own) valid keys."""
  length = valid.shape[-1]
  causal = jnp.tril(jnp.ones((length, length), dtype=bool))
  return causal[None] & valid[:, None, :]


def segment_mask(segment_ids: jax.Array) -> jax.Array:
  """[B, T] -> [B, T, T] for packed sequences: causal, within a segment, 0 is padding."""
  same = segment_ids[:, :, None] == segment_ids[:, None, :]
  return causal_mask(segment_ids != 0) & same


def segment_positions(segment_ids: jax.Array) -> jax.Array:
  """Positions that restart at 0 at every new segment of a packed row."""
  index = jnp.arange(segment_ids.shape[-1])
  starts = jnp.concatenate([jnp.ones_like(segment_ids[:, :1], dtype=bool),
                            segment_ids[:, 1:] != segment_ids[:, :-1]], axis=-1)
  last_start = jax.lax.cummax(jnp.where(starts, index[None], 0), axis=1)
  return index[None] - last_start


def rotary(x: jax.Array, positions: jax.Array, theta: float) -> jax.Array:
  """Rotary position embedding (half-split layout, as in Llama/Qwen2 in transformers). x: [B, T, H, D]."""
  half = x.shape[-1] // 2
  frequencies = 1.0 / (theta ** (jnp.arange(half, dtype=jnp.float32) * 2.0 / x.shape[-1]))
  angles = positions[..., None].astype(jnp.float32) * frequencies  # [B, T, half]
  sin, cos = jnp.sin(angles)[:, :, None, :], jnp.cos(angles)[:, :, None, :]
  x1, x2 = x[..., :half].astype(jnp.float32), x[..., half:].astype(jnp.float32)
  return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1).astype(x.dtype)


def _dense(config: ModelConfig, rngs: nnx.Rngs, fan_in: int, fan_out: int, axes: tuple[str, str],
           bias: bool = False) -> nnx.Linear:
  init = nnx.with_partitioning(nnx.initializers.normal(stddev=fan_in ** -0.5), axes)
  return nnx.Linear(fan_in, fan_out, use_bias=bias, dtype=config.jnp_dtype, param_dtype=config.jnp_param_dtype,
                    kernel_init=init, bias_init=nnx.with_partitioning(nnx.initializers.zeros, (axes[1],)),
                    rngs=rngs)


class RMSNorm(nnx.Module):
  def __init__(self, config: ModelConfig):
    self.eps = config.norm_eps
    self.scale = nnx.Param(jnp.ones((config.d_model,), config.jnp_param_dtype), out_sharding=(EMBED,))

  def __call__(self, x: jax.Array) -> jax.Array:
    x32 = x.astype(jnp.float32)
    normed = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps)
    return (normed * self.scale[...].astype(jnp.float32)).astype(x.dtype)


class Attention(nnx.Module):
  def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
    self.config = config
    hd, d = config.head_dim, config.d_model
    self.q_proj = _dense(config, rngs, d, config.n_heads * hd, (EMBED, HEADS), bias=config.attention_bias)
    self.k_proj = _dense(config, rngs, d, config.n_kv_heads * hd, (EMBED, KV_HEADS), bias=config.attention_bias)
    self.v_proj = _dense(config, rngs, d, config.n_kv_heads * hd, (EMBED, KV_HEADS), bias=config.attention_bias)
    self.o_proj = _dense(config, rngs, config.n_heads * hd, d, (HEADS, EMBED))

  def __call__(self, x, positions, mask, cache: LayerCache | None, cache_index):
    c = self.config
    batch, length, _ = x.shape
    q = self.q_proj(x).reshape(batch, length, c.n_heads, c.head_dim)
    k = self.k_proj(x).reshape(batch, length, c.n_kv_heads, c.head_dim)
    v = self.v_proj(x).reshape(batch, length, c.n_kv_heads, c.head_dim)
    q, k = rotary(q, positions, c.rope_theta), rotary(k, positions, c.rope_theta)
    if cache is not None:
      start = (0, cache_index, 0, 0)
      k = jax.lax.dynamic_update_slice(cache.k, k.astype(cache.k.dtype), start)
      v = jax.lax.dynamic_update_slice(cache.v, v.astype(cache.v.dtype), start)
      cache = LayerCache(k, v)
    groups = c.n_heads // c.n_kv_heads
    q = q.reshape(batch, length, c.n_kv_heads, groups, c.head_dim)
    scores = jnp.einsum("btkgd,bskd->bkgts", q, k.astype(q.dtype)).astype(jnp.float32) * c.head_dim ** -0.5
    scores = jnp.where(mask[:, None, None, :, :], scores, jnp.finfo(jnp.float32).min)
    weights = jax.nn.softmax(scores, axis=-1).astype(x.dtype)
    out = jnp.einsum("bkgts,bskd->btkgd", weights, v.astype(x.dtype)).reshape(batch, length, c.n_heads * c.head_dim)
    return self.o_proj(out), cache


class MLP(nnx.Module):
  """SwiGLU."""

  def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
    d, f = config.d_model, config.d_ff
    self.gate_proj = _dense(config, rngs, d, f, (EMBED, MLP_AXIS))
    self.up_proj = _dense(config, rngs, d, f, (EMBED, MLP_AXIS))
    self.down_proj = _dense(config, rngs, f, d, (MLP_AXIS, EMBED))

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.down_proj(jax.nn.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nnx.Module):
  def __init__(self, config: ModelConfig, rngs: nnx.Rngs):
    self.attn_norm = RMSNorm(config)
    self.attn = Attention(config, rngs)
    self.mlp_norm = RMSNorm(config)
    self.mlp = MLP(config, rngs)

  def __call__(self, x, positions, mask, cache, cache_index):
    attended, cache = self.attn(self.attn_norm(x), positions, mask, cache, cache_index)
    x = x + attended
    return x + self.mlp(self.mlp_norm(x)), cache


class Transformer(nnx.Module):
  def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
    self.config = config
    # With tied embeddings the same table makes the logits: unit-scale rows keep initial logits near 0.
    embed_init = nnx.with_partitioning(nnx.initializers.normal(stddev=config.d_model ** -0.5), (VOCAB, EMBED))
    self.embed = nnx.Embed(config.vocab_size, config.d_model, dtype=config.jnp_dtype,
                           param_dtype=config.jnp_param_dtype, embedding_init=embed_init, rngs=rngs)
    self.layers = nnx.List([Block(config, rngs) for _ in range(config.n_layers)])
    self.final_norm = RMSNorm(config)
    self.lm_head = None if config.tie_embeddings else _dense(config, rngs, config.d_model, config.vocab_size,
                                                             (EMBED, VOCAB))

  def __call__(self, tokens: jax.Array, positions: jax.Array, mask: jax.Array, cache: Cache | None = None,
               cache_index: jax.Array | int | None = None) -> tuple[jax.Array, Cache | None]:
    x, new_cache = self.hidden(tokens, positions, mask, cache, cache_index)
    return self.logits(x), new_cache

  def hidden(self, tokens: jax.Array, positions: jax.Array, mask: jax.Array, cache: Cache | None = None,
             cache_index: jax.Array | int | None = None) -> tuple[jax.Array, Cache | None]:
    """The final-normed hidden states [B, T, d_model] (and the updated cache), before the head."""
    x = self.embed(tokens)
    new_cache = []
    for index, layer in enumerate(self.layers):
      x, layer_cache = layer(x, positions, mask, None if cache is None else cache[index], cache_index)
      new_cache.append(layer_cache)
    return self.final_norm(x), (None if cache is None else tuple(new_cache))

  def logits(self, x: jax.Array) -> jax.Array:
    """The head: float32 logits of hidden states (of any leading shape). Callers that need the logits
    of a few positions only (the RL loss: response tokens) gather those hidden states first."""
    logits = self.embed.attend(x) if self.lm_head is None else self.lm_head(x)
    return logits.astype(jnp.float32)


def forward(model: Transformer, tokens: jax.Array, segment_ids: jax.Array) -> jax.Array:
  """Training forward over packed rows: logits [B, T, V]."""
  logits, _ = model(tokens, segment_positions(segment_ids), segment_mask(segment_ids))
  return logits


def build_model(config: ModelConfig, seed: int) -> Transformer:
  """A freshly initialized model on the default device. Parameters carry logical axis names but are
  not placed on a mesh here; ``xgen.models.sharding`` places them, so one construction path serves
  one device and many."""
  with nnx.use_eager_sharding(False):
    return Transformer(config, rngs=nnx.Rngs(params=seed))
