"""The decoder: shapes, parameter count, masks, packing and the KV cache agree with full forwards."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xgen.models.config import ModelConfig, model_config_from_gin
from xgen.models.transformer import (build_model, causal_mask, forward, init_cache, rotary, segment_mask,
                                     segment_positions)

CONFIG = ModelConfig(vocab_size=97, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=64)


@pytest.fixture(scope="module")
def model():
  return build_model(CONFIG, seed=0)


@pytest.mark.parametrize("tied", [True, False])
def test_parameter_count_matches_the_config(tied):
  config = ModelConfig(vocab_size=97, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=64,
                       tie_embeddings=tied, attention_bias=not tied)
  leaves = jax.tree.leaves(nnx.state(build_model(config, 0), nnx.Param))
  assert sum(x.size for x in leaves) == config.num_params()


def test_packed_rows_equal_separate_sequences(model):
  a, b = jnp.array([[5, 6, 7, 8]]), jnp.array([[9, 10, 11]])
  packed = jnp.array([[5, 6, 7, 8, 9, 10, 11, 0]])
  segments = jnp.array([[1, 1, 1, 1, 2, 2, 2, 0]])
  np.testing.assert_array_equal(segment_positions(segments), [[0, 1, 2, 3, 0, 1, 2, 0]])
  logits = forward(model, packed, segments)
  alone_a = forward(model, a, jnp.ones_like(a))
  alone_b = forward(model, b, jnp.ones_like(b))
  np.testing.assert_allclose(logits[:, :4], alone_a, atol=1e-5)
  np.testing.assert_allclose(logits[:, 4:7], alone_b, atol=1e-5)


def test_masks():
  mask = segment_mask(jnp.array([[1, 1, 2, 0]]))[0]
  expected = [[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
  np.testing.assert_array_equal(mask, np.array(expected, bool))
  np.testing.assert_array_equal(causal_mask(jnp.array([[False, True, True]]))[0],
                                np.array([[0, 0, 0], [0, 1, 0], [0, 1, 1]], bool))


def test_kv_cache_decoding_equals_the_full_forward(model):
  tokens = jax.random.randint(jax.random.PRNGKey(1), (2, 9), 1, 97)
  full, _ = model(tokens, jnp.broadcast_to(jnp.arange(9), (2, 9)), causal_mask(jnp.ones((2, 9), bool)))
  # Prefill 4 tokens, then one token at a time.
  cache = init_cache(CONFIG, 2, 12)
  prefill_mask = jnp.broadcast_to(jnp.arange(12)[None, :] <= jnp.arange(4)[:, None], (2, 4, 12))
  logits, cache = model(tokens[:, :4], jnp.broadcast_to(jnp.arange(4), (2, 4)), prefill_mask, cache, 0)
  steps = [logits]
  for t in range(4, 9):
    mask = jnp.broadcast_to(jnp.arange(12) <= t, (2, 1, 12))
    logits, cache = model(tokens[:, t:t + 1], jnp.full((2, 1), t), mask, cache, t)
    steps.append(logits)
  np.testing.assert_allclose(jnp.concatenate(steps, axis=1), full, atol=1e-5)


def test_rotary_is_a_rotation_that_depends_on_relative_position():
  x = jax.random.normal(jax.random.PRNGKey(0), (1, 1, 1, 8))
  y = jax.random.normal(jax.random.PRNGKey(1), (1, 1, 1, 8))
  at = lambda v, p: rotary(v, jnp.array([[p]]), 10000.0)  # noqa: E731
  np.testing.assert_allclose(jnp.linalg.norm(at(x, 5)), jnp.linalg.norm(x), rtol=1e-6)
  dot = lambda p, q: float(jnp.sum(at(x, p) * at(y, q)))  # noqa: E731
  assert dot(3, 1) == pytest.approx(dot(12, 10), rel=1e-5)


@pytest.mark.parametrize("field, value, message", [
    ("n_kv_heads", 3, "multiple of"), ("d_model", 30, "not divisible"), ("dtype", "float8", "ModelConfig.dtype"),
    ("n_layers", 0, "ModelConfig.n_layers")])
def test_config_errors_name_the_field(field, value, message):
  fields = dict(vocab_size=97, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=64)
  fields[field] = value
  with pytest.raises(ValueError, match=message):
    ModelConfig(**fields)


@pytest.mark.parametrize("name, lower, upper", [("models/tiny.gin", 5e4, 5e5), ("models/small.gin", 1e6, 5e6),
                                                ("models/llama_1b.gin", 1e9, 1.5e9)])
def test_size_files(name, lower, upper):
  vocab = 128256 if "llama" in name else 2048
  assert lower < model_config_from_gin(name, vocab_size=vocab).num_params() < upper
