"""KV-cache sampling (xgen.models.sampler) against full forward passes, on a tiny random model."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from xgen.models.config import ModelConfig
from xgen.models.sampler import (SampleOutput, SamplingConfig, full_recompute_generate, generate, pad_prompts,
                                 top_k_filter, top_p_filter, truncate)
from xgen.models.transformer import build_model, causal_mask

NEW_TOKENS = 10
PROMPTS = [
    [5, 17, 33],
    [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26],  # crosses the 16 bucket
    [40],
    [7, 100, 3, 64, 64, 2],
]


@pytest.fixture(scope="module")
def model():
  config = ModelConfig(vocab_size=128, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=128, max_seq_len=64)
  return build_model(config, seed=0)


@pytest.fixture(scope="module")
def greedy(model) -> SampleOutput:
  return generate(model, PROMPTS, SamplingConfig(max_new_tokens=NEW_TOKENS, temperature=0.0), jax.random.key(0))


REFERENCE_LENGTH = 32  # >= the longest prompt + NEW_TOKENS


@nnx.jit
def _causal_forward(model, tokens):
  positions = jnp.arange(tokens.shape[1])[None]
  return model(tokens, positions, causal_mask(jnp.ones_like(tokens, dtype=bool)))[0]


def full_logits(model, ids: list[int]) -> np.ndarray:
  """Logits [T, V] of one sequence, positions 0..T-1, no padding before or inside it. (It is run at a
  fixed length, to compile once, with filler after it: under the causal mask no position sees it.)"""
  tokens = np.zeros((1, REFERENCE_LENGTH), dtype=np.int32)
  tokens[0, :len(ids)] = ids
  return np.asarray(_causal_forward(model, jnp.asarray(tokens))[0, :len(ids)])


def reference_logits(model, out: SampleOutput, row: int) -> np.ndarray:
  """[n, V]: the full forward's logits that predict each of the row's n generated tokens."""
  prompt, n = PROMPTS[row], int(out.lengths[row])
  generated = np.asarray(out.tokens[row, :n]).tolist()
  return full_logits(model, prompt + generated)[len(prompt) - 1:len(prompt) - 1 + n]


def test_greedy_is_argmax_of_full_forward(model, greedy):
  assert greedy.tokens.shape == (len(PROMPTS), NEW_TOKENS) and greedy.tokens.dtype == jnp.int32
  assert greedy.logprobs.dtype == jnp.float32
  np.testing.assert_array_equal(greedy.lengths, NEW_TOKENS)
  np.testing.assert_array_equal(greedy.prompt_lengths, [len(p) for p in PROMPTS])
  for row in range(len(PROMPTS)):
    logits = reference_logits(model, greedy, row)
    np.testing.assert_array_equal(np.asarray(greedy.tokens[row]), logits.argmax(-1), err_msg=f"row {row}")
    # Greedy log-probs are under temperature 1.
    expected = jax.nn.log_softmax(logits, axis=-1)[np.arange(NEW_TOKENS), np.asarray(greedy.tokens[row])]
    np.testing.assert_allclose(greedy.logprobs[row], expected, atol=1e-4, rtol=1e-4)


def test_sampled_logprobs_are_untruncated_tempered(model):
  temperature = 0.7
  config = SamplingConfig(max_new_tokens=NEW_TOKENS, temperature=temperature, top_k=5, top_p=0.9)
  out = generate(model, PROMPTS, config, jax.random.key(3))
  for row in range(len(PROMPTS)):
    logits = reference_logits(model, out, row)
    tokens = np.asarray(out.tokens[row])
    expected = jax.nn.log_softmax(logits / temperature, axis=-1)[np.arange(NEW_TOKENS), tokens]
    np.testing.assert_allclose(out.logprobs[row], expected, atol=1e-4, rtol=1e-4)
    # Every sampled token survives top-k.
    ranks = (logits > logits[np.arange(NEW_TOKENS), tokens][:, None]).sum(-1)
    assert (ranks < 5).all()


def test_same_key_same_samples_different_key_different(model):
  config = SamplingConfig(max_new_tokens=NEW_TOKENS, temperature=1.0)
  first = generate(model, PROMPTS, config, jax.random.key(1))
  again = generate(model, PROMPTS, config, jax.random.key(1))
  other = generate(model, PROMPTS, config, jax.random.key(2))
  for a, b in zip(first, again):
    np.testing.assert_array_equal(a, b)
  assert not np.array_equal(first.tokens, other.tokens)


def test_stop_token_ends_row_and_pads(model, greedy):
  free = np.asarray(greedy.tokens)
  stop_id = int(free[0, 2])
  config = SamplingConfig(max_new_tokens=NEW_TOKENS, temperature=0.0, stop_ids=(stop_id,))
  out = generate(model, PROMPTS, config, jax.random.key(0), pad_id=0)
  assert int(out.lengths[0]) <= 3
  for row in range(len(PROMPTS)):
    hits = np.flatnonzero(free[row] == stop_id)
    length = int(hits[0]) + 1 if hits.size else NEW_TOKENS
    assert int(out.lengths[row]) == length, f"row {row}"
    np.testing.assert_array_equal(out.tokens[row, :length], free[row, :length])  # stop token included
    np.testing.assert_array_equal(out.tokens[row, length:], 0)
    np.testing.assert_array_equal(out.logprobs[row, length:], 0.0)
    np.testing.assert_allclose(out.logprobs[row, :length], greedy.logprobs[row, :length], atol=1e-5)


@pytest.mark.parametrize("overrides", [dict(top_k=1), dict(top_p=1e-6)])
def test_truncation_to_one_token_is_greedy(model, greedy, overrides):
  config = SamplingConfig(max_new_tokens=NEW_TOKENS, temperature=1.0, **overrides)
  out = generate(model, PROMPTS, config, jax.random.key(5))
  np.testing.assert_array_equal(out.tokens, greedy.tokens)
  # Log-probs are untruncated: at temperature 1 they match greedy's.
  np.testing.assert_allclose(out.logprobs, greedy.logprobs, atol=1e-5)


def test_full_recompute_matches_kv_cache(model, greedy):
  config = SamplingConfig(max_new_tokens=NEW_TOKENS, temperature=0.0)
  out = full_recompute_generate(model, PROMPTS, config, jax.random.key(0))
  np.testing.assert_array_equal(out.tokens, greedy.tokens)
  np.testing.assert_array_equal(out.lengths, greedy.lengths)
  np.testing.assert_allclose(out.logprobs, greedy.logprobs, atol=1e-4)


def test_same_bucket_and_structure_do_not_recompile(model, greedy):
  from xgen.models import sampler
  config = SamplingConfig(max_new_tokens=NEW_TOKENS, temperature=0.0)
  before = sampler._decode._cache_size(), sampler._prefill._cache_size()
  # Different prompt lengths, same padded length (32) and batch size.
  prompts = [[1] * 20, [2] * 17, [3] * 31, [4] * 25]
  generate(model, prompts, config, jax.random.key(0))
  generate(model, PROMPTS, config, jax.random.key(1))
  assert (sampler._decode._cache_size(), sampler._prefill._cache_size()) == before
  # Temperature, k and p are traced: one program serves them all.
  for temperature, top_k, top_p in [(0.5, 3, 1.0), (1.3, 0, 0.8)]:
    generate(model, PROMPTS, SamplingConfig(max_new_tokens=NEW_TOKENS, temperature=temperature, top_k=top_k,
                                            top_p=top_p), jax.random.key(0))
  assert sampler._decode._cache_size() <= before[0] + 1


def test_pad_prompts_left_pads_to_bucket():
  tokens, valid, lengths = pad_prompts([[5, 6], [7]], pad_id=0, vocab_size=10, bucket=4)
  np.testing.assert_array_equal(tokens, [[0, 0, 5, 6], [0, 0, 0, 7]])
  np.testing.assert_array_equal(valid, [[0, 0, 1, 1], [0, 0, 0, 1]])
  np.testing.assert_array_equal(lengths, [2, 1])
  with pytest.raises(ValueError, match="empty"):
    pad_prompts([[1], []], pad_id=0, vocab_size=10)
  with pytest.raises(ValueError, match=r"\[0, 10\)"):
    pad_prompts([[1, 10]], pad_id=0, vocab_size=10)


def test_filters():
  logits = jnp.log(jnp.asarray([[0.2, 0.5, 0.3]]))
  kept = lambda x: np.isfinite(np.asarray(x))[0].tolist()  # noqa: E731
  assert kept(top_k_filter(logits, 2)) == [False, True, True]
  assert kept(top_k_filter(logits, 10)) == [True, True, True]
  assert kept(top_p_filter(logits, 0.5)) == [False, True, False]   # 0.5 alone reaches p
  assert kept(top_p_filter(logits, 0.6)) == [False, True, True]
  assert kept(top_p_filter(logits, 1e-9)) == [False, True, False]  # the top token is always kept
  assert kept(top_p_filter(logits, 1.0)) == [True, True, True]
  # Top-p applies to what top-k leaves, renormalised: 0.5 / 0.8 = 0.625.
  assert kept(truncate(logits, 2, 0.6)) == [False, True, False]
  assert kept(truncate(logits, 2, 0.7)) == [False, True, True]


@pytest.mark.parametrize("kwargs, field", [
    (dict(max_new_tokens=0), "max_new_tokens"),
    (dict(max_new_tokens=4, temperature=-1.0), "temperature"),
    (dict(max_new_tokens=4, top_k=-1), "top_k"),
    (dict(max_new_tokens=4, top_p=0.0), "top_p"),
    (dict(max_new_tokens=4, top_p=1.5), "top_p"),
    (dict(max_new_tokens=4, stop_ids=(-1,)), "stop_ids"),
    (dict(max_new_tokens=4, stop_ids=5), "stop_ids"),
])
def test_config_validation_names_the_field(kwargs, field):
  with pytest.raises(ValueError, match=f"SamplingConfig.{field}"):
    SamplingConfig(**kwargs)


def test_config_is_hashable_and_normalizes_stop_ids():
  config = SamplingConfig(max_new_tokens=4, stop_ids=[7, 8])
  assert config.stop_ids == (7, 8)
  assert hash(config) == hash(SamplingConfig(max_new_tokens=4, stop_ids=(7, 8)))


def test_decode_consumes_the_donated_cache(model, greedy):
  from xgen.models import sampler
  structure, knobs = sampler._split_config(SamplingConfig(max_new_tokens=NEW_TOKENS, temperature=0.0))
  tokens, valid, lengths = pad_prompts(PROMPTS, 0, model.config.vocab_size)
  graphdef, state = nnx.split(model)
  last_logits, cache = sampler._prefill(graphdef, state, jnp.asarray(tokens), jnp.asarray(valid), NEW_TOKENS)
  out = sampler._decode(graphdef, state, cache, last_logits, jnp.asarray(valid), jnp.asarray(lengths),
                        jax.random.key(0), knobs, structure, 0)
  np.testing.assert_array_equal(out[0], greedy.tokens)
  assert all(layer.k.is_deleted() and layer.v.is_deleted() for layer in cache)
