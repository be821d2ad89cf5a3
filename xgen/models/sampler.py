"""Jitted autoregressive sampling with a KV cache.

  out = generate(model, prompts, SamplingConfig(max_new_tokens=64, temperature=1.0, stop_ids=(end_id,)), key)

Prompts (lists of token ids, of any lengths) are left-padded to a common length ``P``, rounded up to
a multiple of ``PROMPT_BUCKET`` so that prompts of similar lengths share one compiled program. One
forward over all prompt tokens (the prefill) fills a cache of length ``P + max_new_tokens`` and gives
the logits of generated token 0; then a ``jax.lax.while_loop`` decodes one token per step: generated token
``t`` is fed back at the next step, its key and value written at cache index ``P + t`` (so N tokens
cost one prefill and at most N - 1 single-token forwards: the loop stops once every row is done). Every row's positions start at 0 at its first
real token, and the mask of each step lets a query see exactly its row's real prompt tokens and the
tokens generated so far, so padding never changes what a row produces. A row that has emitted a
stop token emits ``pad_id`` (log-prob 0) from then on.

Sampling: greedy argmax when ``temperature == 0``; otherwise ``logits / temperature``, then top-k,
then top-p (nucleus), then ``jax.random.categorical`` with the key ``jax.random.fold_in(key, t)``
at step ``t``. The same key and inputs give identical outputs.

The model is split into a graph definition (static, hashable) and its state (arrays), and pure
functions of both are ``jax.jit``-compiled at module level, so repeated calls with the same model
structure and padded shapes reuse the compiled programs. Of the config only ``max_new_tokens``,
``stop_ids`` and whether sampling is greedy or truncated (top-k or top-p on) are static: the
temperature, k and p are traced scalars, so sweeping them does not recompile.

``full_recompute_generate`` samples the same way without a cache (a full forward over prompt and
generated tokens at every step); it is the reference for the tests and the benchmark.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from xgen import validation as v
from xgen.models.transformer import Cache, Transformer, causal_mask, init_cache

PROMPT_BUCKET = 16  # Prompts are left-padded to a multiple of this, to limit recompilation.


@dataclasses.dataclass(frozen=True, kw_only=True)
class SamplingConfig:
  """How to sample (frozen, hashable).

  ``stop_ids``: token ids that end a sequence (e.g. the end-of-turn id); the stop token is part of
  the output and counts in its length.
  """

  max_new_tokens: int
  temperature: float = 1.0  # 0 = greedy
  top_k: int = 0            # 0 = off
  top_p: float = 1.0        # 1.0 = off
  stop_ids: tuple[int, ...] = ()

  def __post_init__(self):
    v.positive_int("SamplingConfig", "max_new_tokens", self.max_new_tokens)
    v.number_in("SamplingConfig", "temperature", self.temperature, 0.0)
    v.non_negative_int("SamplingConfig", "top_k", self.top_k)
    v.number_in("SamplingConfig", "top_p", self.top_p, 0.0, 1.0, low_open=True)
    if isinstance(self.stop_ids, (str, bytes)) or not isinstance(self.stop_ids, Sequence):
      raise v.fail("SamplingConfig", "stop_ids", "a tuple of token ids", self.stop_ids)
    for token in self.stop_ids:
      v.non_negative_int("SamplingConfig", "stop_ids", token)
    object.__setattr__(self, "stop_ids", tuple(int(i) for i in self.stop_ids))
    object.__setattr__(self, "temperature", float(self.temperature))
    object.__setattr__(self, "top_p", float(self.top_p))

  @property
  def greedy(self) -> bool:
    return self.temperature == 0.0


class SampleOutput(NamedTuple):
  """What ``generate`` returns (device arrays).

  ``tokens``: int32 [B, max_new_tokens], ``pad_id`` after a row's stop token.
  ``logprobs``: float32 [B, max_new_tokens], the log-probability of each sampled token under the
    plain softmax of ``logits / temperature`` over the whole vocabulary (temperature 1.0 when
    greedy), i.e. WITHOUT the top-k / top-p truncation that the token was actually drawn with. This
    is what a trainer recomputes from the model's logits at the same temperature, so it is the
    right denominator of an importance ratio; with truncation on it is not the probability of the
    truncated distribution the sampler drew from. 0.0 after a row's stop token.
  ``lengths``: int32 [B], generated tokens per row, including the stop token.
  ``prompt_lengths``: int32 [B], unpadded prompt lengths.
  """

  tokens: jax.Array
  logprobs: jax.Array
  lengths: jax.Array
  prompt_lengths: jax.Array


# ----------------------------------------------------------------------------------------------
# Sampling from one step's logits.


class _Structure(NamedTuple):
  """The parts of a SamplingConfig that shape the compiled program (static arguments)."""

  max_new_tokens: int
  greedy: bool
  truncate: bool  # top-k or top-p is on
  stop_ids: tuple[int, ...]


class _Knobs(NamedTuple):
  """The parts passed as traced scalars, so that changing them does not recompile."""

  temperature: jax.Array  # float32, 1.0 when greedy
  top_k: jax.Array        # int32, 0 = off
  top_p: jax.Array        # float32, 1.0 = off


def _split_config(config: SamplingConfig) -> tuple[_Structure, _Knobs]:
  structure = _Structure(config.max_new_tokens, config.greedy, config.top_k > 0 or config.top_p < 1.0,
                         config.stop_ids)
  knobs = _Knobs(jnp.float32(1.0 if config.greedy else config.temperature), jnp.int32(config.top_k),
                 jnp.float32(config.top_p))
  return structure, knobs


def truncate(logits: jax.Array, top_k: jax.Array | int, top_p: jax.Array | float) -> jax.Array:
  """[B, V]: top-k, then top-p (nucleus) over what is left; dropped logits set to -inf.

  Top-k keeps the k largest logits (ties with the k-th are kept); 0 = off. Top-p keeps the smallest
  prefix of the sorted probabilities whose sum is >= p, always at least the top token; 1.0 = off.
  Both may be traced scalars: one descending sort of each row serves both.
  """
  vocab = logits.shape[-1]
  rank = jnp.arange(vocab)
  sorted_logits = -jnp.sort(-logits, axis=-1)
  k = jnp.where(top_k > 0, jnp.minimum(top_k, vocab), vocab)
  sorted_logits = jnp.where(rank < k, sorted_logits, -jnp.inf)
  sorted_probs = jax.nn.softmax(sorted_logits, axis=-1)
  before = jnp.cumsum(sorted_probs, axis=-1) - sorted_probs  # probability mass strictly above each
  keep = (rank < k) & ((before < top_p) | (top_p >= 1.0))
  count = jnp.maximum(jnp.sum(keep, axis=-1, keepdims=True), 1)
  threshold = jnp.take_along_axis(sorted_logits, count - 1, axis=-1)
  return jnp.where(logits >= threshold, logits, -jnp.inf)


def top_k_filter(logits: jax.Array, k: jax.Array | int) -> jax.Array:
  """[B, V]: logits below the k-th largest of each row set to -inf (ties with it are kept)."""
  return truncate(logits, k, 1.0)


def top_p_filter(logits: jax.Array, p: jax.Array | float) -> jax.Array:
  """[B, V]: keeps the smallest set of most likely tokens whose probability sums to >= p (always
  at least the top token); the rest set to -inf."""
  return truncate(logits, 0, p)


def _sample(logits: jax.Array, key: jax.Array, structure: _Structure, knobs: _Knobs) -> tuple[jax.Array, jax.Array]:
  """Samples one token per row from [B, V] float32 logits: (tokens int32 [B], logprobs float32 [B]).

  The log-prob is under softmax(logits / temperature) (temperature 1 when greedy), untruncated.
  """
  scaled = logits if structure.greedy else logits / knobs.temperature
  log_probs = jax.nn.log_softmax(scaled, axis=-1)
  if structure.greedy:
    tokens = jnp.argmax(logits, axis=-1)
  else:
    filtered = truncate(scaled, knobs.top_k, knobs.top_p) if structure.truncate else scaled
    tokens = jax.random.categorical(key, filtered, axis=-1)
  tokens = tokens.astype(jnp.int32)
  return tokens, jnp.take_along_axis(log_probs, tokens[:, None], axis=-1)[:, 0]


def _is_stop(tokens: jax.Array, stop_ids: tuple[int, ...]) -> jax.Array:
  stop = jnp.zeros(tokens.shape, dtype=bool)
  for stop_id in stop_ids:
    stop = stop | (tokens == stop_id)
  return stop


def _finish(tokens, logprobs, done, lengths, structure: _Structure, pad_id: int):
  """Finished rows emit pad_id (log-prob 0) and do not change; returns the updated step state."""
  tokens = jnp.where(done, pad_id, tokens)
  logprobs = jnp.where(done, 0.0, logprobs)
  lengths = lengths + (~done).astype(jnp.int32)
  done = done | _is_stop(tokens, structure.stop_ids)
  return tokens, logprobs, done, lengths


# ----------------------------------------------------------------------------------------------
# Prompt padding.


def pad_prompts(prompts: Sequence[Sequence[int]], pad_id: int, vocab_size: int,
                bucket: int = PROMPT_BUCKET) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Left-pads prompts to a multiple of ``bucket``: (tokens int32 [B, P], valid bool [B, P],
  prompt_lengths int32 [B])."""
  if not prompts:
    raise ValueError("generate: prompts is empty")
  lengths = np.array([len(p) for p in prompts], dtype=np.int32)
  if lengths.min() < 1:
    raise ValueError(f"generate: prompt {int(np.argmin(lengths))} is empty")
  padded = -(-int(lengths.max()) // bucket) * bucket
  tokens = np.full((len(prompts), padded), pad_id, dtype=np.int32)
  for row, prompt in enumerate(prompts):
    tokens[row, padded - len(prompt):] = prompt
  valid = np.arange(padded)[None, :] >= (padded - lengths)[:, None]
  real = tokens[valid]
  if real.min() < 0 or real.max() >= vocab_size:
    raise ValueError(f"generate: token ids must be in [0, {vocab_size}), got {real.min()}..{real.max()}")
  return tokens, valid, lengths


def _prompt_positions(valid: jax.Array) -> jax.Array:
  """Position 0 at each row's first real token; padding gets 0 (it is masked anyway)."""
  return jnp.maximum(jnp.cumsum(valid.astype(jnp.int32), axis=-1) - 1, 0)


# ----------------------------------------------------------------------------------------------
# KV-cache generation.


@functools.partial(jax.jit, static_argnames=("graphdef", "max_new_tokens"))
def _prefill(graphdef: nnx.GraphDef, state: nnx.State, tokens: jax.Array, valid: jax.Array,
             max_new_tokens: int) -> tuple[jax.Array, Cache]:
  """One forward over the padded prompts into a fresh cache of length P + max_new_tokens:
  (logits at the last prompt position [B, V], cache)."""
  model: Transformer = nnx.merge(graphdef, state)
  batch, length = tokens.shape
  cache = init_cache(model.config, batch, length + max_new_tokens)
  mask = jnp.pad(causal_mask(valid), ((0, 0), (0, 0), (0, max_new_tokens)))
  hidden, cache = model.hidden(tokens, _prompt_positions(valid), mask, cache, 0)
  return model.logits(hidden[:, -1]), cache  # the head on the last position only: no other logit is read


# The cache is donated: it is by far the largest buffer here ([B, P + N, kv_heads, head_dim] per
# layer, twice). Without donation the caller still owns the input buffer, so XLA must copy it into a
# fresh buffer on every call before the loop can update it; donated, the input buffer becomes the
# (aliased) output and the loop updates it in place. The updated cache is returned for that reason.
@functools.partial(jax.jit, static_argnames=("graphdef", "structure", "pad_id"), donate_argnames=("cache",))
def _decode(graphdef: nnx.GraphDef, state: nnx.State, cache: Cache, last_logits: jax.Array,
            valid: jax.Array, prompt_lengths: jax.Array, key: jax.Array, knobs: _Knobs,
            structure: _Structure, pad_id: int) -> tuple[jax.Array, jax.Array, jax.Array, Cache]:
  """Samples max_new_tokens tokens per row: (tokens [B, N], logprobs [B, N], lengths [B], cache)."""
  model: Transformer = nnx.merge(graphdef, state)
  batch, prompt_len = valid.shape
  cache_len = cache[0].k.shape[1]
  # Keys a query may see: the row's real prompt tokens, plus generated slots enabled step by step.
  prompt_visible = jnp.pad(valid, ((0, 0), (0, cache_len - prompt_len)))
  slots = jnp.arange(cache_len)

  # Token 0 comes from the prefill's logits; each loop step feeds the previous token and samples
  # the next, so N tokens take N - 1 single-token forwards.
  first, first_lp = _sample(last_logits, jax.random.fold_in(key, 0), structure, knobs)
  done = jnp.zeros((batch,), dtype=bool)
  lengths = jnp.zeros((batch,), dtype=jnp.int32)
  first, first_lp, done, lengths = _finish(first, first_lp, done, lengths, structure, pad_id)

  # A while loop rather than a scan: it stops as soon as every row has emitted a stop token. The
  # steps it skips would only have written pad_id (log-prob 0), which the buffers already hold.
  tokens = jnp.full((batch, structure.max_new_tokens), pad_id, jnp.int32).at[:, 0].set(first)
  logprobs = jnp.zeros((batch, structure.max_new_tokens), jnp.float32).at[:, 0].set(first_lp)

  def unfinished(carry):
    _, _, done, _, t, _, _ = carry
    return (t < structure.max_new_tokens) & ~jnp.all(done)

  def step(carry):
    cache, token, done, lengths, t, tokens, logprobs = carry
    index = prompt_len + t - 1  # cache slot of the token fed at this step
    visible = prompt_visible | ((slots >= prompt_len) & (slots <= index))[None, :]
    positions = (prompt_lengths + t - 1)[:, None]
    logits, cache = model(token[:, None], positions, visible[:, None, :], cache, index)
    token, logprob = _sample(logits[:, 0], jax.random.fold_in(key, t), structure, knobs)
    token, logprob, done, lengths = _finish(token, logprob, done, lengths, structure, pad_id)
    tokens = jax.lax.dynamic_update_index_in_dim(tokens, token, t, axis=1)
    logprobs = jax.lax.dynamic_update_index_in_dim(logprobs, logprob.astype(jnp.float32), t, axis=1)
    return cache, token, done, lengths, t + 1, tokens, logprobs

  carry = (cache, first, done, lengths, jnp.int32(1), tokens, logprobs)
  cache, _, _, lengths, _, tokens, logprobs = jax.lax.while_loop(unfinished, step, carry)
  return tokens, logprobs, lengths, cache


def generate(model: Transformer, prompts: Sequence[Sequence[int]], config: SamplingConfig, key: jax.Array,
             *, pad_id: int = 0) -> SampleOutput:
  """Samples up to ``config.max_new_tokens`` tokens after each prompt with a KV cache.

  ``prompts``: lists of token ids (not empty, any lengths). ``key``: a JAX PRNG key; the same key
  and inputs give identical outputs. No host synchronisation: the result holds device arrays.
  """
  tokens, valid, prompt_lengths = pad_prompts(prompts, pad_id, model.config.vocab_size)
  graphdef, state = nnx.split(model)
  structure, knobs = _split_config(config)
  valid, prompt_lengths = jnp.asarray(valid), jnp.asarray(prompt_lengths)
  last_logits, cache = _prefill(graphdef, state, jnp.asarray(tokens), valid, config.max_new_tokens)
  out_tokens, logprobs, lengths, _ = _decode(graphdef, state, cache, last_logits, valid, prompt_lengths, key,
                                             knobs, structure, pad_id)
  return SampleOutput(out_tokens, logprobs, lengths, prompt_lengths)


# ----------------------------------------------------------------------------------------------
# Reference: no cache, a full forward at every step.


@functools.partial(jax.jit, static_argnames=("graphdef", "structure", "pad_id"),
                   donate_argnames=("buffer", "valid"))
def _recompute_step(graphdef: nnx.GraphDef, state: nnx.State, buffer: jax.Array, valid: jax.Array,
                    positions: jax.Array, done: jax.Array, lengths: jax.Array, t: jax.Array, key: jax.Array,
                    knobs: _Knobs, structure: _Structure, pad_id: int):
  """Step t over the whole [B, P + N] buffer: full forward, sample from position P + t - 1, write
  the token at P + t."""
  model: Transformer = nnx.merge(graphdef, state)
  prompt_len = buffer.shape[1] - structure.max_new_tokens
  logits, _ = model(buffer, positions, causal_mask(valid))
  last = jax.lax.dynamic_index_in_dim(logits, prompt_len + t - 1, axis=1, keepdims=False)
  token, logprob = _sample(last, jax.random.fold_in(key, t), structure, knobs)
  token, logprob, done, lengths = _finish(token, logprob, done, lengths, structure, pad_id)
  buffer = jax.lax.dynamic_update_index_in_dim(buffer, token, prompt_len + t, axis=1)
  valid = jax.lax.dynamic_update_index_in_dim(valid, jnp.ones_like(done), prompt_len + t, axis=1)
  return buffer, valid, done, lengths, token, logprob


def full_recompute_generate(model: Transformer, prompts: Sequence[Sequence[int]], config: SamplingConfig,
                            key: jax.Array, *, pad_id: int = 0) -> SampleOutput:
  """Same sampling as ``generate`` without a KV cache: every step runs the full forward over the
  padded prompt and the tokens generated so far (one jitted step at a fixed padded length).
  For tests and benchmarks only."""
  tokens, valid, prompt_lengths = pad_prompts(prompts, pad_id, model.config.vocab_size)
  graphdef, state = nnx.split(model)
  structure, knobs = _split_config(config)
  n = config.max_new_tokens
  buffer = jnp.asarray(np.pad(tokens, ((0, 0), (0, n)), constant_values=pad_id))
  valid_all = np.pad(valid, ((0, 0), (0, n)), constant_values=True)
  positions = jnp.asarray(np.maximum(np.cumsum(valid_all, axis=-1) - 1, 0).astype(np.int32))
  valid = jnp.asarray(np.pad(valid, ((0, 0), (0, n))))
  done = jnp.zeros((len(prompts),), dtype=bool)
  lengths = jnp.zeros((len(prompts),), dtype=jnp.int32)
  out_tokens, out_logprobs = [], []
  for t in range(n):
    buffer, valid, done, lengths, token, logprob = _recompute_step(
        graphdef, state, buffer, valid, positions, done, lengths, jnp.int32(t), key, knobs, structure, pad_id)
    out_tokens.append(token)
    out_logprobs.append(logprob)
  return SampleOutput(jnp.stack(out_tokens, axis=1), jnp.stack(out_logprobs, axis=1), lengths,
                      jnp.asarray(prompt_lengths))
