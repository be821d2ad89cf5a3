"""Hugging Face import: tiny random Llama and Qwen2 models from transformers give the same logits in
xgen; broken checkpoints and unsupported configs fail with errors that name the culprit."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")

import jax.numpy as jnp  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402

from xgen.models.hf_import import config_from_hf, load_hf_checkpoint  # noqa: E402
from xgen.models.transformer import causal_mask  # noqa: E402

VOCAB, BATCH, LENGTH = 256, 2, 12
TOLERANCE = 1e-4


def _hf_model(model_type: str, tied: bool, **overrides):
  """A tiny random model; weights drawn wider than the default init (norm scales around 1, nonzero
  biases) so that a mis-mapped tensor shows in the logits."""
  config_class, model_class = {"llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM),
                               "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM)}[model_type]
  config = config_class(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        num_key_value_heads=2, intermediate_size=128, tie_word_embeddings=tied,
                        max_position_embeddings=64, **overrides)
  torch.manual_seed(0)
  model = model_class(config).eval()
  with torch.no_grad():
    for name, parameter in model.named_parameters():
      if "norm" in name:
        parameter.uniform_(0.5, 1.5)
      else:
        parameter.normal_(0.0, 0.15)
  if tied:
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
  return model


def _tokens() -> np.ndarray:
  return np.random.default_rng(0).integers(0, VOCAB, size=(BATCH, LENGTH))


def _hf_logits(model, tokens: np.ndarray) -> np.ndarray:
  with torch.no_grad():
    ids = torch.from_numpy(tokens)
    positions = torch.arange(LENGTH)[None].expand(BATCH, LENGTH)
    return model(input_ids=ids, position_ids=positions).logits.float().numpy()


def _xgen_logits(model, tokens: np.ndarray) -> np.ndarray:
  positions = jnp.broadcast_to(jnp.arange(LENGTH), (BATCH, LENGTH))
  mask = causal_mask(jnp.ones((BATCH, LENGTH), dtype=bool))
  logits, _ = model(jnp.asarray(tokens), positions, mask)
  return np.asarray(logits)


def _max_diff(hf_model, directory) -> float:
  model = load_hf_checkpoint(directory)
  tokens = _tokens()
  expected, actual = _hf_logits(hf_model, tokens), _xgen_logits(model, tokens)
  assert actual.shape == expected.shape == (BATCH, LENGTH, VOCAB)
  assert np.abs(expected).max() > 1.0  # logits are not trivially near zero
  return float(np.abs(expected - actual).max())


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("model_type,overrides", [
    ("llama", {}),
    ("llama", {"head_dim": 24, "rope_theta": 500000.0}),
    ("qwen2", {"rope_theta": 1000000.0}),
], ids=["llama", "llama-head24", "qwen2"])
def test_logits_match_transformers(tmp_path, model_type, overrides, tied):
  hf_model = _hf_model(model_type, tied, **overrides)
  hf_model.save_pretrained(tmp_path)
  diff = _max_diff(hf_model, tmp_path)
  print(f"{model_type} {overrides} tied={tied}: max |logit diff| = {diff:.2e}")
  assert diff < TOLERANCE


def test_config_from_saved_config(tmp_path):
  _hf_model("qwen2", tied=False, rope_theta=1000000.0).save_pretrained(tmp_path)
  config = config_from_hf(json.loads((tmp_path / "config.json").read_text()))
  assert (config.vocab_size, config.d_model, config.n_layers, config.n_heads, config.n_kv_heads) == (VOCAB, 64, 2, 4, 2)
  assert (config.head_dim, config.d_ff, config.max_seq_len) == (16, 128, 64)
  assert config.rope_theta == 1000000.0 and config.attention_bias and not config.tie_embeddings


def test_sharded_bfloat16_checkpoint(tmp_path):
  _hf_model("qwen2", tied=False).to(torch.bfloat16).save_pretrained(tmp_path, max_shard_size="60KB")
  assert (tmp_path / "model.safetensors.index.json").exists()
  assert len(list(tmp_path.glob("*.safetensors"))) > 1
  # The reference runs in float32 on the same bfloat16-rounded weights (a fresh float32 model, as
  # ``.to(bfloat16)`` also rounds the rotary frequencies).
  reference = _hf_model("qwen2", tied=False)
  with torch.no_grad():
    for parameter in reference.parameters():
      parameter.copy_(parameter.to(torch.bfloat16).float())
  diff = _max_diff(reference, tmp_path)
  print(f"qwen2 bfloat16 sharded: max |logit diff| = {diff:.2e}")
  assert diff < TOLERANCE


def _rewrite(directory, edit) -> None:
  path = directory / "model.safetensors"
  tensors = load_file(path)
  edit(tensors)
  save_file(tensors, path, metadata={"format": "pt"})


def test_missing_tensor_is_named(tmp_path):
  _hf_model("llama", tied=False).save_pretrained(tmp_path)
  _rewrite(tmp_path, lambda tensors: tensors.pop("model.layers.1.mlp.up_proj.weight"))
  with pytest.raises(ValueError, match=r"missing tensor model\.layers\.1\.mlp\.up_proj\.weight"):
    load_hf_checkpoint(tmp_path)


def test_unused_and_misshapen_tensors_are_named(tmp_path):
  _hf_model("llama", tied=True).save_pretrained(tmp_path)
  _rewrite(tmp_path, lambda tensors: tensors.update(extra=np.zeros(3, np.float32)))
  with pytest.raises(ValueError, match=r"not used.*extra"):
    load_hf_checkpoint(tmp_path)

  def shrink(tensors):
    del tensors["extra"]
    tensors["model.layers.0.self_attn.k_proj.weight"] = np.zeros((16, 64), np.float32)
  _rewrite(tmp_path, shrink)
  with pytest.raises(ValueError, match=r"model\.layers\.0\.self_attn\.k_proj\.weight has shape \(16, 64\)"):
    load_hf_checkpoint(tmp_path)


def test_unsupported_configs_are_named():
  base = {"vocab_size": VOCAB, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 128}
  with pytest.raises(ValueError, match=r"model_type='gpt2'.*'llama'.*'qwen2'"):
    config_from_hf({**base, "model_type": "gpt2"})
  with pytest.raises(ValueError, match=r"rope_parameters\.rope_type='llama3'"):
    config_from_hf({**base, "model_type": "llama", "rope_parameters": {"rope_type": "llama3", "factor": 8.0}})
  with pytest.raises(ValueError, match=r"rope_scaling\.rope_type='linear'"):
    config_from_hf({**base, "model_type": "llama", "rope_scaling": {"type": "linear", "factor": 2.0}})
  with pytest.raises(ValueError, match=r"mlp_bias"):
    config_from_hf({**base, "model_type": "llama", "mlp_bias": True})
  with pytest.raises(ValueError, match=r"attention_bias"):
    config_from_hf({**base, "model_type": "llama", "attention_bias": True})
  legacy = config_from_hf({**base, "model_type": "llama", "rope_theta": 5e5, "rope_scaling": None})
  assert legacy.rope_theta == 5e5 and legacy.n_kv_heads == 4 and not legacy.attention_bias


@pytest.mark.parametrize("shard", ["../outside.safetensors", "absolute", "link.safetensors",
                                   "sub/../../outside.safetensors"])
def test_shards_outside_the_checkpoint_directory_are_refused(tmp_path, shard):
  """A checkpoint someone sent you must not make the loader read other files: the index's shard names
  may not be absolute, climb out with '..', or be links that leave the directory."""
  checkpoint = tmp_path / "checkpoint"
  _hf_model("llama", tied=True).save_pretrained(checkpoint)
  outside = tmp_path / "outside.safetensors"
  (checkpoint / "model.safetensors").rename(outside)  # a perfectly loadable file, just not in the checkpoint
  if shard == "absolute":
    shard = str(outside)
  if shard == "link.safetensors":
    (checkpoint / shard).symlink_to(outside)
  index = {"metadata": {}, "weight_map": {name: shard for name in load_file(outside)}}
  (checkpoint / "model.safetensors.index.json").write_text(json.dumps(index))
  with pytest.raises(ValueError, match="is not a file inside the checkpoint directory") as caught:
    load_hf_checkpoint(checkpoint)
  message = str(caught.value)
  assert "\n" not in message and message.startswith(str(checkpoint / "model.safetensors.index.json"))
  assert repr(shard) in message


def test_a_link_that_stays_inside_the_checkpoint_is_fine(tmp_path):
  hf_model = _hf_model("llama", tied=True)
  hf_model.save_pretrained(tmp_path)
  (tmp_path / "blobs").mkdir()
  (tmp_path / "model.safetensors").rename(tmp_path / "blobs" / "weights")
  (tmp_path / "model.safetensors").symlink_to(tmp_path / "blobs" / "weights")
  assert _max_diff(hf_model, tmp_path) < TOLERANCE
