"""Benchmark: KV-cache generation (``xgen.models.sampler.generate``) against full recompute.

  python benchmarks/bench_sampler.py            # default-study model, 64 new tokens, batches 32 and 128
  python benchmarks/bench_sampler.py --quick    # a fast smoke run (8 new tokens, one timed run)

Greedy, no stop tokens, so every row generates exactly ``new_tokens`` tokens. Each method is
compiled by one untimed warm-up run per batch size (whose tokens are also compared across the two
methods); the reported time is the median of the timed runs, each ending in ``block_until_ready``.
Full recompute is slow, so it gets fewer timed runs by default. The last line is machine-readable:

  bench_sampler: kv_tok_s_b32=... recompute_tok_s_b32=... kv_over_recompute_b32=... ... kv_over_recompute=...

where ``kv_over_recompute`` is the minimum speed-up over the batch sizes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import jax
import numpy as np

from xgen.models.config import model_config_from_gin
from xgen.models.sampler import SamplingConfig, full_recompute_generate, generate
from xgen.models.transformer import build_model

MODEL = model_config_from_gin("models/small.gin", vocab_size=2048)  # the default study's policy
BATCHES = (32, 128)


def make_prompts(batch: int, length: int, vocab_size: int, seed: int) -> list[list[int]]:
  """Random prompts of ``length - 4`` to ``length`` tokens (ids above the fixed special ids)."""
  rng = np.random.default_rng(seed)
  lengths = rng.integers(max(1, length - 4), length + 1, size=batch)
  return [rng.integers(8, vocab_size, size=n).tolist() for n in lengths]


def time_runs(fn: Callable[[], object], repeats: int) -> float:
  """Median wall time of ``repeats`` runs (compile beforehand)."""
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, float]:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--quick", action="store_true", help="fast smoke run: 8 new tokens, 16-token prompts, 1 run")
  parser.add_argument("--new-tokens", type=int, default=None, help="tokens generated per row (default 64)")
  parser.add_argument("--prompt-len", type=int, default=None, help="longest prompt (default 32)")
  parser.add_argument("--repeats", type=int, default=None, help="timed KV-cache runs (default 5)")
  parser.add_argument("--recompute-repeats", type=int, default=None, help="timed full-recompute runs (default 2)")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)
  new_tokens = args.new_tokens or (8 if args.quick else 64)
  prompt_len = args.prompt_len or (16 if args.quick else 32)
  repeats = args.repeats or (1 if args.quick else 5)
  recompute_repeats = args.recompute_repeats or (1 if args.quick else 2)

  model = build_model(MODEL, seed=args.seed)
  config = SamplingConfig(max_new_tokens=new_tokens, temperature=0.0)
  key = jax.random.key(args.seed)
  print(f"backend={jax.default_backend()} devices={jax.devices()} params={MODEL.num_params():,} "
        f"new_tokens={new_tokens} prompt_len<={prompt_len} repeats={repeats} recompute_repeats={recompute_repeats}")

  results: dict[str, float] = {}
  for batch in BATCHES:
    prompts = make_prompts(batch, prompt_len, MODEL.vocab_size, args.seed + batch)
    kv_out = jax.block_until_ready(generate(model, prompts, config, key))  # warm-up: compiles
    ref_out = jax.block_until_ready(full_recompute_generate(model, prompts, config, key))
    agree = float(np.mean(np.asarray(kv_out.tokens) == np.asarray(ref_out.tokens)))
    kv_s = time_runs(lambda: generate(model, prompts, config, key), repeats)
    recompute_s = time_runs(lambda: full_recompute_generate(model, prompts, config, key), recompute_repeats)
    kv_tok_s, recompute_tok_s = batch * new_tokens / kv_s, batch * new_tokens / recompute_s
    results[f"kv_tok_s_b{batch}"] = kv_tok_s
    results[f"recompute_tok_s_b{batch}"] = recompute_tok_s
    results[f"kv_over_recompute_b{batch}"] = kv_tok_s / recompute_tok_s
    print(f"batch={batch}: kv {kv_s * 1e3:.1f} ms ({kv_tok_s:,.0f} new tok/s), recompute {recompute_s * 1e3:.1f} ms "
          f"({recompute_tok_s:,.0f} new tok/s), speed-up {kv_tok_s / recompute_tok_s:.1f}x, "
          f"greedy tokens agree {agree:.1%}", flush=True)
  results["kv_over_recompute"] = min(results[f"kv_over_recompute_b{b}"] for b in BATCHES)
  print("bench_sampler: " + " ".join(f"{name}={value:.1f}" for name, value in results.items()))
  return results


if __name__ == "__main__":
  main()
