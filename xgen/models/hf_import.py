"""Import Hugging Face Llama and Qwen2 checkpoints into xgen's NNX ``Transformer``.

  config = config_from_hf(json.load(open("ckpt/config.json")))
  model = load_hf_checkpoint("ckpt", dtype="bfloat16", param_dtype="float32")

A checkpoint directory holds ``config.json`` and either one ``*.safetensors`` file, several, or
shards named by ``model.safetensors.index.json``. Tensors are read with ``safetensors``' numpy
backend (bfloat16 comes back as ``ml_dtypes.bfloat16``), so loading needs neither torch nor
transformers; only the ``safetensors`` package of the ``hf`` extra.

Name mapping (``[out, in]`` linear weights are transposed to xgen's ``[in, out]`` kernels):

  model.embed_tokens.weight                         embed.embedding            [V, D]
  model.layers.{i}.input_layernorm.weight           layers[i].attn_norm.scale
  model.layers.{i}.self_attn.{q,k,v,o}_proj.weight  layers[i].attn.{q,k,v,o}_proj.kernel  (transposed)
  model.layers.{i}.self_attn.{q,k,v}_proj.bias      layers[i].attn.{q,k,v}_proj.bias      (Qwen2)
  model.layers.{i}.post_attention_layernorm.weight  layers[i].mlp_norm.scale
  model.layers.{i}.mlp.{gate,up,down}_proj.weight   layers[i].mlp.{gate,up,down}_proj.kernel  (transposed)
  model.norm.weight                                 final_norm.scale
  lm_head.weight                                    lm_head.kernel  (transposed; absent when tied)

Both architectures apply rotary positions with ``rotate_half`` over the whole head (first half
against second half), which is xgen's ``rotary`` layout, so q and k need no permutation. Every
expected tensor must be present with its shape, and every tensor in the files must be used
(rotary ``inv_freq`` buffers that old checkpoints saved are the only ones skipped).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Iterable

import jax.numpy as jnp
import numpy as np
from flax import nnx

from xgen.models.config import ModelConfig
from xgen.models.transformer import Transformer, build_model
from xgen.validation import excerpt

SUPPORTED = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"}
DEFAULT_ROPE_THETA = 10000.0
INDEX_FILE = "model.safetensors.index.json"
# Derived buffers that some older checkpoints saved next to the weights; recomputed by ``rotary``.
IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)


def _rope_theta(config_json: dict) -> float:
  """The RoPE base of a default (unscaled) rotary embedding; raises for any scaling type.

  transformers 5 writes ``rope_parameters`` ({"rope_type": ..., "rope_theta": ...}); older files
  have a top-level ``rope_theta`` and ``rope_scaling`` (null or {"type"/"rope_type": ...}). As in
  transformers, ``rope_scaling`` wins over ``rope_parameters``, and top-level values are defaults.
  """
  field = "rope_scaling" if config_json.get("rope_scaling") else "rope_parameters"
  rope = config_json.get(field) or {}
  if not isinstance(rope, dict):
    raise ValueError(f"config.json {field}: expected a dict or null, got {rope!r}")
  if any(isinstance(value, dict) for value in rope.values()):
    raise ValueError(f"config.json {field}: per-layer-type rotary parameters are not supported, got {rope!r}")
  rope_type = rope.get("rope_type", rope.get("type", "default"))
  if rope_type != "default":
    raise ValueError(f"config.json {field}.rope_type={rope_type!r}: only the 'default' (unscaled) rotary "
                     f"embedding is supported")
  partial = rope.get("partial_rotary_factor", config_json.get("partial_rotary_factor", 1.0))
  if partial is not None and float(partial) != 1.0:
    raise ValueError(f"config.json partial_rotary_factor={partial!r}: only full-head rotary (1.0) is supported")
  theta = rope.get("rope_theta", config_json.get("rope_theta"))
  return float(DEFAULT_ROPE_THETA if theta is None else theta)


def _check_supported(config_json: dict, model_type: str) -> None:
  """Raise for config options that xgen's Transformer does not implement."""
  expected = SUPPORTED[model_type]
  architectures = config_json.get("architectures") or [expected]
  if expected not in architectures:
    raise ValueError(f"config.json architectures={architectures!r}: expected {expected!r} for "
                     f"model_type {model_type!r}")
  activation = config_json.get("hidden_act", "silu")
  if activation not in ("silu", "swish"):
    raise ValueError(f"config.json hidden_act={activation!r}: only 'silu' (SwiGLU) is supported")
  if config_json.get("mlp_bias"):
    raise ValueError("config.json mlp_bias=True: biases on the MLP projections are not supported")
  if model_type == "llama" and config_json.get("attention_bias"):
    raise ValueError("config.json attention_bias=True: Llama then puts a bias on o_proj as well, which "
                     "xgen's Transformer does not have (only q/k/v biases, as in Qwen2)")
  if config_json.get("use_sliding_window"):
    raise ValueError("config.json use_sliding_window=True: sliding-window attention is not supported")
  layer_types = config_json.get("layer_types") or []
  if any(kind != "full_attention" for kind in layer_types):
    raise ValueError(f"config.json layer_types={layer_types!r}: only 'full_attention' layers are supported")


def config_from_hf(config_json: dict) -> ModelConfig:
  """A ``ModelConfig`` from the dict of a Llama or Qwen2 ``config.json`` (float32 params and compute;
  change them with ``dataclasses.replace``)."""
  model_type = config_json.get("model_type")
  if model_type not in SUPPORTED:
    raise ValueError(f"config.json model_type={model_type!r} is not supported; supported: "
                     f"{', '.join(repr(name) for name in SUPPORTED)}")
  _check_supported(config_json, model_type)
  n_heads = config_json["num_attention_heads"]
  n_kv_heads = config_json.get("num_key_value_heads") or n_heads
  return ModelConfig(
      vocab_size=config_json["vocab_size"],
      d_model=config_json["hidden_size"],
      n_layers=config_json["num_hidden_layers"],
      n_heads=n_heads,
      n_kv_heads=n_kv_heads,
      head_dim=config_json.get("head_dim") or None,
      d_ff=config_json["intermediate_size"],
      rope_theta=_rope_theta(config_json),
      norm_eps=float(config_json.get("rms_norm_eps", 1e-6)),
      tie_embeddings=bool(config_json.get("tie_word_embeddings", False)),
      attention_bias=model_type == "qwen2" or bool(config_json.get("attention_bias", False)),
      max_seq_len=config_json.get("max_position_embeddings") or 2048,
  )


def hf_name(path: tuple[Any, ...]) -> tuple[str, bool]:
  """The Hugging Face tensor name of an xgen parameter path, and whether it is transposed."""
  match path:
    case ("embed", "embedding"):
      return "model.embed_tokens.weight", False
    case ("final_norm", "scale"):
      return "model.norm.weight", False
    case ("lm_head", "kernel"):
      return "lm_head.weight", True
    case ("layers", index, "attn_norm", "scale"):
      return f"model.layers.{index}.input_layernorm.weight", False
    case ("layers", index, "mlp_norm", "scale"):
      return f"model.layers.{index}.post_attention_layernorm.weight", False
    case ("layers", index, "attn", projection, "kernel"):
      return f"model.layers.{index}.self_attn.{projection}.weight", True
    case ("layers", index, "attn", projection, "bias"):
      return f"model.layers.{index}.self_attn.{projection}.bias", False
    case ("layers", index, "mlp", projection, "kernel"):
      return f"model.layers.{index}.mlp.{projection}.weight", True
  raise ValueError(f"no Hugging Face name for xgen parameter {'.'.join(map(str, path))}")


def _file_inside(directory: str, name: Any, where: str) -> str:
  """The path of ``name`` in the checkpoint ``directory``, which must stay inside it: a relative name
  without ``..`` whose real path (links followed) is under the directory's real path. Anything else
  raises ValueError naming ``where`` (the file that gave the name), so a checkpoint someone sent you
  cannot make the loader read elsewhere on your disk."""
  root = os.path.realpath(directory)
  escapes = (not isinstance(name, str) or not name or os.path.isabs(name)
             or ".." in name.replace("\\", "/").split("/"))
  path = "" if escapes else os.path.realpath(os.path.join(root, name))
  if escapes or os.path.commonpath([root, path]) != root:
    raise ValueError(f"{where}: {excerpt(name, 200)} is not a file inside the checkpoint directory {directory} "
                     f"(absolute paths, '..' and links that leave it are refused)")
  return os.path.join(directory, name)


def _weight_map(index_path: str) -> dict[str, str]:
  with open(index_path) as f:
    index = json.load(f)
  weight_map = index.get("weight_map") if isinstance(index, dict) else None
  if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
    raise ValueError(f"{index_path}: expected {{\"weight_map\": {{tensor name: shard file}}}}")
  return weight_map


def _safetensors_files(directory: str) -> list[str]:
  index_path = os.path.join(directory, INDEX_FILE)
  if os.path.exists(index_path):
    _file_inside(directory, INDEX_FILE, directory)
    return [_file_inside(directory, name, index_path) for name in sorted(set(_weight_map(index_path).values()))]
  files = sorted(name for name in os.listdir(directory) if name.endswith(".safetensors"))
  if not files:
    raise FileNotFoundError(f"no *.safetensors files (nor {INDEX_FILE}) in {directory}")
  return [_file_inside(directory, name, directory) for name in files]


def read_safetensors(files: Iterable[str]) -> dict[str, np.ndarray]:
  """All tensors of the files as numpy arrays (bfloat16 as ``ml_dtypes.bfloat16``); a name found in
  two files is an error."""
  from safetensors import safe_open  # the ``hf`` extra

  tensors: dict[str, np.ndarray] = {}
  origin: dict[str, str] = {}
  for path in files:
    with safe_open(path, framework="numpy") as f:
      for name in f.keys():
        if name in tensors:
          raise ValueError(f"tensor {name} appears in both {origin[name]} and {path}")
        tensors[name], origin[name] = f.get_tensor(name), path
  return tensors


def _tied_head_is_embedding(tensors: dict[str, np.ndarray]) -> bool:
  head, embedding = tensors.get("lm_head.weight"), tensors.get("model.embed_tokens.weight")
  return (head is not None and embedding is not None and head.shape == embedding.shape
          and np.array_equal(head, embedding))


def _assign(model: Transformer, tensors: dict[str, np.ndarray], dtype) -> None:
  """Write every parameter of ``model`` from ``tensors`` (consumed), checking names and shapes."""
  flat = nnx.to_flat_state(nnx.state(model, nnx.Param))
  updated = []
  for path, variable in flat:
    name, transpose = hf_name(path)
    if name not in tensors:
      raise ValueError(f"checkpoint is missing tensor {name} (for xgen parameter {'.'.join(map(str, path))})")
    array = tensors.pop(name)
    expected = tuple(variable.get_value().shape)
    expected_hf = expected[::-1] if transpose else expected
    if array.shape != expected_hf:
      raise ValueError(f"tensor {name} has shape {array.shape}; expected {expected_hf} for xgen parameter "
                       f"{'.'.join(map(str, path))} {expected}")
    updated.append((path, variable.replace(jnp.asarray(array.T if transpose else array, dtype=dtype))))
  nnx.update(model, nnx.from_flat_state(updated))


def load_hf_checkpoint(directory: str | os.PathLike, *, dtype: str = "float32",
                       param_dtype: str = "float32") -> Transformer:
  """A ``Transformer`` holding the weights of a Llama or Qwen2 safetensors checkpoint directory.

  ``param_dtype`` is the stored parameter dtype (tensors are cast to it), ``dtype`` the compute
  dtype; both are names from ``xgen.models.config.DTYPES``.
  """
  directory = os.fspath(directory)
  with open(_file_inside(directory, "config.json", directory)) as f:
    config = dataclasses.replace(config_from_hf(json.load(f)), dtype=dtype, param_dtype=param_dtype)
  tensors = read_safetensors(_safetensors_files(directory))
  for name in [name for name in tensors if name.endswith(IGNORED_SUFFIXES)]:
    del tensors[name]
  if config.tie_embeddings and _tied_head_is_embedding(tensors):
    del tensors["lm_head.weight"]  # some exports save the tied head as a copy of the embedding
  # Shapes and dtypes only: no random initialization of weights that are overwritten next.
  model = nnx.eval_shape(lambda: build_model(config, seed=0))
  _assign(model, tensors, config.jnp_param_dtype)
  if tensors:
    raise ValueError(f"checkpoint tensors not used by the {config.n_layers}-layer model "
                     f"(tie_embeddings={config.tie_embeddings}): {', '.join(sorted(tensors))}")
  return model
