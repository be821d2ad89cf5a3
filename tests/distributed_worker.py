"""Child process for the sharding tests: a few train steps of a tiny model on a mesh.

Run by ``tests/test_models_sharding.py`` and ``tests/test_models_distributed.py`` in fresh
interpreters, because the number of (simulated) devices and ``jax.distributed`` must be fixed
before JAX starts. Writes, per run, the losses of each step and the final parameters (gathered
to every process) to ``<out>/<name>.npz``; process 0 writes, other processes only compute.

  python tests/distributed_worker.py --out DIR --run single --run 2,4,1 ...
  python tests/distributed_worker.py --out DIR --run 2,1,1 --coordinator 127.0.0.1:PORT \
      --num-processes 2 --process-id 0
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CONFIG = dict(vocab_size=128, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=128)
SEED, BATCH, LENGTH, STEPS = 0, 8, 33, 3


def make_batch():
  """Packed rows: two segments per row, a padded tail, loss on the second half of each segment."""
  rng = np.random.default_rng(SEED)
  tokens = rng.integers(1, CONFIG["vocab_size"], (BATCH, LENGTH)).astype(np.int32)
  segment_ids = np.zeros((BATCH, LENGTH), np.int32)
  loss_mask = np.zeros((BATCH, LENGTH), np.float32)
  for row in range(BATCH):
    cut, end = 10 + row, LENGTH - row % 3
    segment_ids[row, :cut], segment_ids[row, cut:end] = 1, 2
    loss_mask[row, cut // 2:cut], loss_mask[row, (cut + end) // 2:end] = 1.0, 1.0
  return tokens, segment_ids, loss_mask


def sample(model, mesh) -> np.ndarray:
  """Greedy and temperature-1 continuations of prompts of different lengths, with the KV-cache sampler."""
  import contextlib

  import jax

  from xgen.models import sharding
  from xgen.models.sampler import SamplingConfig, generate
  rng = np.random.default_rng(SEED + 1)
  prompts = [rng.integers(1, CONFIG["vocab_size"], size=3 + 2 * i).tolist() for i in range(BATCH)]
  outputs = []
  with sharding.mesh_context(mesh) if mesh is not None else contextlib.nullcontext():
    for temperature in (0.0, 1.0):
      config = SamplingConfig(max_new_tokens=12, temperature=temperature)
      out = generate(model, prompts, config, jax.random.PRNGKey(SEED))
      outputs.append(np.asarray(jax.device_get(out.tokens)))
  return np.stack(outputs)


def run(name: str, process_local: bool) -> dict[str, np.ndarray]:
  import jax
  from flax import nnx
  from jax.experimental import multihost_utils

  from xgen.models import sharding
  from xgen.models.config import ModelConfig
  from xgen.models.transformer import build_model
  from xgen.train.step import Batch, make_optimizer, train_step

  model = build_model(ModelConfig(**CONFIG), SEED)
  optimizer = make_optimizer(model, learning_rate=1e-3, weight_decay=0.1)
  arrays = make_batch()
  result: dict[str, np.ndarray] = {}
  if name == "single":
    batch = Batch(*map(jax.numpy.asarray, arrays))
    context = None
  else:
    data, fsdp, tensor = map(int, name.split(","))
    mesh = sharding.make_mesh(data, fsdp, tensor)
    sharding.shard_model(model, mesh)
    sharding.shard_optimizer(optimizer, mesh)
    if process_local:
      rows = sharding.process_rows(BATCH)
      arrays = tuple(a[rows] for a in arrays)
    batch = sharding.shard_batch(Batch(*arrays), mesh, process_local=process_local)
    result["batch_shape"] = np.array(batch.tokens.shape)
    result["batch_shard_shape"] = np.array(batch.tokens.addressable_shards[0].data.shape)
    context = mesh
  losses = []
  for _ in range(STEPS):
    if context is None:
      metrics = train_step(model, optimizer, batch)
    else:
      with sharding.mesh_context(context):
        metrics = train_step(model, optimizer, batch)
    losses.append(float(metrics["loss"]))
  result["losses"] = np.array(losses)
  result["sampled"] = sample(model, context)
  params = nnx.to_flat_state(nnx.state(model, nnx.Param))
  moments = dict(nnx.to_flat_state(nnx.state(optimizer)))
  for path, variable in params:
    value = variable.get_value()
    key = "/".join(map(str, path))
    if context is not None:  # where the parameter and its first Adam moment live after the steps
      result["spec/" + key] = np.array(str(value.sharding.spec))
      result["shard/" + key] = np.array(value.addressable_shards[0].data.shape)
      moment = moments[("opt_state", 1, 0, "mu", *path)].get_value()
      result["mu_spec/" + key] = np.array(str(moment.sharding.spec))
    if not value.is_fully_addressable:
      value = multihost_utils.process_allgather(value, tiled=True)
    result["param/" + key] = np.asarray(value)
  return result


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--out", required=True)
  parser.add_argument("--run", action="append", required=True,
                      help="'single' (one device, no mesh) or 'data,fsdp,tensor'")
  parser.add_argument("--coordinator")
  parser.add_argument("--num-processes", type=int, default=1)
  parser.add_argument("--process-id", type=int, default=0)
  parser.add_argument("--process-local", action="store_true", help="feed each process only its rows")
  args = parser.parse_args()

  import jax
  if args.coordinator:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=args.coordinator, num_processes=args.num_processes,
                               process_id=args.process_id, initialization_timeout=60)
  for name in args.run:
    start = time.perf_counter()
    result = run(name, args.process_local)
    if jax.process_index() == 0:
      np.savez(os.path.join(args.out, name.replace(",", "_") + ".npz"), **result)
    print(f"{name}: losses={result['losses'].tolist()} {time.perf_counter() - start:.1f}s", flush=True)
  if args.coordinator:
    jax.distributed.shutdown()


if __name__ == "__main__":
  main()
