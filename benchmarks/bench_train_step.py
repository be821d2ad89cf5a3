"""Train-step throughput and model FLOPs utilisation (MFU) on this machine.

The peak is measured in the same run: the best of several jitted float32 2048x2048 matmuls
(2 n^3 FLOPs each). Then ``train_step`` runs on packed rows of random tokens for two model sizes,
and MFU = ``config.flops_per_token(T) * tokens_per_s / peak``. The last line is machine-readable:

  bench_train_step: peak_gflops=... d128_tok_s=... d128_mfu=... tok_s=... mfu=...

(``tok_s``/``mfu`` are the default study size, d_model 256.)

  python benchmarks/bench_train_step.py [--quick] [--batch B] [--length T]

Per-call NNX overhead (graph traversal in ``nnx.jit``) is a few milliseconds against steps of
seconds here, so the benchmark times ``xgen.train.step.train_step`` itself.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from xgen.models.config import ModelConfig, model_config_from_gin  # noqa: E402
from xgen.models.transformer import build_model  # noqa: E402
from xgen.train import step as step_lib  # noqa: E402

SIZES = {
    "d128": ModelConfig(vocab_size=2048, d_model=128, n_layers=4, n_heads=4, n_kv_heads=2, d_ff=352),
    # The default study's size, as gin/models/small.gin sets it, with the default world's vocabulary.
    "default": model_config_from_gin("models/small.gin", vocab_size=2048),
}


def matmul_peak_flops(n: int = 2048, repeats: int = 10) -> float:
  """Best observed float32 matmul FLOP/s."""
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
  dot = jax.jit(jnp.dot)
  dot(a, b).block_until_ready()
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    dot(a, b).block_until_ready()
    best = min(best, time.perf_counter() - start)
  return 2.0 * n ** 3 / best


def random_batch(config: ModelConfig, batch: int, length: int, seed: int = 0) -> step_lib.Batch:
  """Packed rows of random tokens: four segments per row, loss on every token."""
  rng = np.random.default_rng(seed)
  tokens = rng.integers(1, config.vocab_size, (batch, length)).astype(np.int32)
  segment_ids = np.repeat(np.arange(1, 5, dtype=np.int32), length // 4 + 1)[:length]
  segment_ids = np.broadcast_to(segment_ids, (batch, length)).copy()
  return step_lib.Batch(jnp.asarray(tokens), jnp.asarray(segment_ids), jnp.ones((batch, length), jnp.float32))


def time_steps(config: ModelConfig, batch: int, length: int, warmup: int, steps: int) -> float:
  """Median seconds per train step (after ``warmup`` steps, compilation included there)."""
  model = build_model(config, 0)
  optimizer = step_lib.make_optimizer(model, learning_rate=1e-4, weight_decay=0.1)
  data = random_batch(config, batch, length)
  for _ in range(warmup):
    jax.block_until_ready(step_lib.train_step(model, optimizer, data))
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    jax.block_until_ready(step_lib.train_step(model, optimizer, data))
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="fewer timed steps")
  parser.add_argument("--batch", type=int, default=16)
  parser.add_argument("--length", type=int, default=256)
  args = parser.parse_args()
  warmup, steps = (2, 5) if args.quick else (3, 20)

  peak = matmul_peak_flops(repeats=5 if args.quick else 20)
  print(f"devices={jax.devices()} peak_gflops={peak / 1e9:.1f}", flush=True)
  results = {}
  for name, config in SIZES.items():
    seconds = time_steps(config, args.batch, args.length, warmup, steps)
    tok_s = args.batch * args.length / seconds
    mfu = config.flops_per_token(args.length) * tok_s / peak
    results[name] = (tok_s, mfu)
    print(f"{name}: params={config.num_params()} step_ms={seconds * 1e3:.1f} tok_s={tok_s:.0f} mfu={mfu:.3f}",
          flush=True)
  print(f"bench_train_step: peak_gflops={peak / 1e9:.1f} d128_tok_s={results['d128'][0]:.0f} "
        f"d128_mfu={results['d128'][1]:.3f} tok_s={results['default'][0]:.0f} mfu={results['default'][1]:.3f}")


if __name__ == "__main__":
  main()
