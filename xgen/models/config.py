"""The policy's shape: a Llama-family decoder, bound by gin (``gin/models/*.gin``)."""

from __future__ import annotations

import dataclasses

import gin
import jax.numpy as jnp

from xgen import validation as v

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


@gin.configurable
@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelConfig:
  vocab_size: int = 2048
  d_model: int = 256
  n_layers: int = 4
  n_heads: int = 4
  n_kv_heads: int = 2
  head_dim: int | None = None     # defaults to d_model // n_heads
  d_ff: int = 704
  rope_theta: float = 10000.0
  norm_eps: float = 1e-5
  tie_embeddings: bool = True
  attention_bias: bool = False    # Qwen2 puts a bias on the q, k and v projections
  max_seq_len: int = 256
  param_dtype: str = "float32"
  dtype: str = "float32"          # compute dtype of matmuls; norms and softmax stay in float32

  def __post_init__(self):
    for field in ("vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads", "d_ff", "max_seq_len"):
      v.positive_int("ModelConfig", field, getattr(self, field))
    if self.head_dim is not None:
      v.positive_int("ModelConfig", "head_dim", self.head_dim)
    v.number_in("ModelConfig", "rope_theta", self.rope_theta, 0.0, low_open=True)
    v.number_in("ModelConfig", "norm_eps", self.norm_eps, 0.0, low_open=True)
    for field in ("tie_embeddings", "attention_bias"):
      v.boolean("ModelConfig", field, getattr(self, field))
    for field in ("param_dtype", "dtype"):
      v.choice("ModelConfig", field, getattr(self, field), DTYPES)
    if self.n_heads % self.n_kv_heads:
      raise ValueError(f"ModelConfig.n_heads ({self.n_heads}) must be a multiple of "
                       f"ModelConfig.n_kv_heads ({self.n_kv_heads}) for grouped-query attention")
    if self.head_dim is None:
      if self.d_model % self.n_heads:
        raise ValueError(f"ModelConfig.d_model ({self.d_model}) is not divisible by ModelConfig.n_heads "
                         f"({self.n_heads}); set ModelConfig.head_dim")
      object.__setattr__(self, "head_dim", self.d_model // self.n_heads)
    if self.head_dim % 2:
      raise ValueError(f"ModelConfig.head_dim must be even for rotary positions, got {self.head_dim}")

  @property
  def jnp_dtype(self):
    return DTYPES[self.dtype]

  @property
  def jnp_param_dtype(self):
    return DTYPES[self.param_dtype]

  def num_params(self) -> int:
    """Parameters, counting tied embeddings once."""
    hd = self.head_dim
    attention = self.d_model * hd * (self.n_heads * 2 + self.n_kv_heads * 2)
    if self.attention_bias:
      attention += hd * (self.n_heads + 2 * self.n_kv_heads)
    mlp = 3 * self.d_model * self.d_ff
    per_layer = attention + mlp + 2 * self.d_model
    embeddings = self.vocab_size * self.d_model * (1 if self.tie_embeddings else 2)
    return self.n_layers * per_layer + embeddings + self.d_model

  def flops_per_token(self, seq_len: int) -> float:
    """Training FLOPs per token (forward and backward), as in the PaLM paper's appendix B:
    6 N for the N matmul parameters plus 12 L H Q T for attention (no discount for causality);
    the embedding lookup is not a matmul and is left out."""
    hd = self.head_dim
    matmul = self.n_layers * (self.d_model * hd * (2 * self.n_heads + 2 * self.n_kv_heads) + 3 * self.d_model * self.d_ff)
    matmul += self.vocab_size * self.d_model  # the output projection
    attention = 12.0 * self.n_layers * self.n_heads * hd * seq_len
    return 6.0 * matmul + attention


def model_config_from_gin(gin_file: str, vocab_size: int) -> ModelConfig:
  """A ModelConfig from one gin size file (e.g. ``models/small.gin``) with the given vocabulary."""
  from xgen.config import load_config
  load_config([gin_file], [f"ModelConfig.vocab_size = {vocab_size}"])
  try:
    return ModelConfig()
  finally:
    gin.clear_config()  # the bindings were for this one config; leave none behind
