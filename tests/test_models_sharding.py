"""xgen.models.sharding: the rule mapping, and train steps on meshes of 8 simulated CPU devices
matching one device.

The mesh runs happen in one child interpreter (``tests/distributed_worker.py``) started with
``--xla_force_host_platform_device_count=8``, since the device count is fixed when JAX starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from jax.sharding import AbstractMesh, AxisType, PartitionSpec as P

from xgen.models import sharding

WORKER = Path(__file__).with_name("distributed_worker.py")
MESHES = ("2,4,1", "4,2,1", "2,2,2")
# LLVM optimization off: the tiny model compiles ~2x faster, and every run shares the setting.
FAST_COMPILE = "--xla_backend_optimization_level=0"


def abstract_mesh(data: int, fsdp: int, tensor: int) -> AbstractMesh:
  return AbstractMesh((data, fsdp, tensor), sharding.MESH_AXES, axis_types=(AxisType.Auto,) * 3)


def test_rules_map_logical_names_to_mesh_axes():
  mesh = abstract_mesh(2, 4, 8)
  spec = lambda names, shape=None: sharding.logical_to_partition_spec(names, mesh, shape=shape)  # noqa: E731
  assert spec(("vocab", "embed")) == P("tensor", "fsdp")
  assert spec(("embed", "heads")) == P("fsdp", "tensor")
  assert spec(("mlp", "embed")) == P("tensor", "fsdp")
  assert spec(("embed",)) == P("fsdp")
  assert spec(("batch", "length")) == P(("data", "fsdp"))
  assert spec((None, "embed")) == P(None, "fsdp")
  assert spec(None) == P() and spec(()) == P()


def test_indivisible_dimensions_fall_back_to_replication():
  mesh = abstract_mesh(2, 4, 8)
  spec = lambda names, shape: sharding.logical_to_partition_spec(names, mesh, shape=shape)  # noqa: E731
  assert spec(("embed", "kv_heads"), (64, 12)) == P("fsdp")          # 12 kv columns over tensor=8
  assert spec(("embed", "kv_heads"), (6, 16)) == P(None, "tensor")  # 6 over fsdp=4
  assert spec(("batch", None), (8, 33)) == P(("data", "fsdp"))
  assert spec(("batch", None), (2, 33)) == P("data")                 # keeps the prefix that divides
  assert spec(("batch", None), (3, 33)) == P()


def test_size_one_axes_are_left_out_and_axes_used_once():
  assert sharding.logical_to_partition_spec(("embed", "heads"), abstract_mesh(8, 1, 1)) == P()
  assert sharding.logical_to_partition_spec(("batch",), abstract_mesh(1, 4, 1)) == P("fsdp")
  assert sharding.logical_to_partition_spec(("embed", "embed"), abstract_mesh(1, 4, 1)) == P("fsdp")


def test_unknown_logical_name_is_an_error():
  with pytest.raises(ValueError, match="'bogus'"):
    sharding.logical_to_partition_spec(("bogus",), abstract_mesh(1, 2, 1))


def test_make_mesh_checks_the_device_count():
  one = jax.devices()[:1]
  with pytest.raises(ValueError, match=r"2\*3\*1 = 6, but there are 1 devices"):
    sharding.make_mesh(data=2, fsdp=3, devices=one)
  with pytest.raises(ValueError, match="positive"):
    sharding.make_mesh(data=0, devices=one)
  mesh = sharding.make_mesh(devices=one)
  assert mesh.axis_names == sharding.MESH_AXES
  assert all(t == AxisType.Auto for t in mesh.axis_types)


def test_one_device_mesh_places_model_and_batch():
  from xgen.models.config import ModelConfig
  from xgen.models.transformer import build_model
  from xgen.train.step import Batch

  mesh = sharding.make_mesh(devices=jax.devices()[:1])
  config = ModelConfig(vocab_size=64, d_model=32, n_layers=1, n_heads=2, n_kv_heads=1, d_ff=64)
  model = sharding.shard_model(build_model(config, 0), mesh)
  kernel = model.layers[0].mlp.down_proj.kernel.get_value()
  assert isinstance(kernel.sharding, jax.sharding.NamedSharding) and kernel.sharding.mesh == mesh
  batch = sharding.shard_batch(Batch(*(np.ones((4, 9), dtype) for dtype in (np.int32, np.int32, np.float32))), mesh)
  assert batch.tokens.sharding.spec == P(("data", "fsdp"), None) and batch.tokens.shape == (4, 9)


@pytest.fixture(scope="module")
def mesh_runs(tmp_path_factory) -> dict[str, dict[str, np.ndarray]]:
  out = tmp_path_factory.mktemp("mesh_runs")
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             XLA_FLAGS=f"--xla_force_host_platform_device_count=8 {FAST_COMPILE}")
  command = [sys.executable, str(WORKER), "--out", str(out), "--run", "single"]
  for mesh in MESHES:
    command += ["--run", mesh]
  completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=150)
  assert completed.returncode == 0, completed.stderr[-4000:]
  return {name: dict(np.load(out / (name.replace(",", "_") + ".npz"))) for name in ("single", *MESHES)}


def params(run: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  return {key: value for key, value in run.items() if key.startswith("param/")}


@pytest.mark.parametrize("mesh", MESHES)
def test_mesh_steps_match_one_device(mesh_runs, mesh):
  reference, run = mesh_runs["single"], mesh_runs[mesh]
  np.testing.assert_allclose(run["losses"], reference["losses"], rtol=1e-5)
  assert params(run).keys() == params(reference).keys()
  for key, value in params(reference).items():
    np.testing.assert_allclose(params(run)[key], value, rtol=1e-5, atol=1e-5, err_msg=key)


@pytest.mark.parametrize("mesh", MESHES)
def test_mesh_sampling_matches_one_device(mesh_runs, mesh):
  # Greedy and temperature-1 tokens from the trained model, KV-cache sampler on the mesh.
  reference, run = mesh_runs["single"]["sampled"], mesh_runs[mesh]["sampled"]
  assert reference.shape == (2, 8, 12)
  np.testing.assert_array_equal(run, reference)


def test_fsdp_mesh_really_shards_parameters(mesh_runs):
  run = mesh_runs["2,4,1"]
  key = "layers/0/mlp/up_proj/kernel"
  assert "fsdp" in str(run["spec/" + key])
  assert tuple(run["shard/" + key]) == (16, 128)  # [64, 128] split 4 ways along embed
  assert str(run["mu_spec/" + key]) == str(run["spec/" + key])  # Adam's moment follows


def test_tensor_mesh_uses_every_rule(mesh_runs):
  run = mesh_runs["2,2,2"]
  expected = {"embed/embedding": "P('tensor', 'fsdp')", "final_norm/scale": "P('fsdp',)",
              "layers/0/attn/q_proj/kernel": "P('fsdp', 'tensor')",
              "layers/0/attn/k_proj/kernel": "P('fsdp', 'tensor')",
              "layers/0/attn/o_proj/kernel": "P('tensor', 'fsdp')",
              "layers/1/mlp/gate_proj/kernel": "P('fsdp', 'tensor')",
              "layers/1/mlp/down_proj/kernel": "P('tensor', 'fsdp')"}
  for key, spec in expected.items():
    assert str(run["spec/" + key]) == spec, key
    assert str(run["mu_spec/" + key]) == spec, key
