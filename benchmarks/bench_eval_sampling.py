"""Benchmark: an evaluation pass as ``xgen.rl.rollout.sample_stage`` samples it, against fixed full chunks.

  python benchmarks/bench_eval_sampling.py           # one pass of the reference study's shape (262 rows)
  python benchmarks/bench_eval_sampling.py --quick   # a fast smoke run (70 rows, 8 new tokens)

A cross-evaluation pass samples the items of several suites (``EvalConfig.suites_per_pass``) greedily in
chunks of ``EvalConfig.chunk_size`` rows. Its prompts differ in length (20 to 124 tokens in the reference
study's world) and its row count is rarely a multiple of the chunk. The peer run, side by side, samples the
same prompts the way xgen did before: in the given order, every chunk padded to the full chunk size.
``sample_stage`` takes greedy rows by prompt length and pads a short last chunk to a power of two of rows.
Both sample the default-study model greedily with no stop token (every row generates ``new_tokens``, the
worst case) and must return the same tokens. The last line is machine-readable:

  bench_eval_sampling: grouped_s=... fixed_s=... speedup=... grouped_padding=... fixed_padding=...

where ``*_padding`` is the fraction of the prompt slots sampled that are padding (rows or positions).
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import numpy as np

from xgen.models.config import model_config_from_gin
from xgen.models.sampler import PROMPT_BUCKET, SamplingConfig, generate
from xgen.models.transformer import build_model
from xgen.rl.rollout import padded_rows, sample_stage

MODEL = model_config_from_gin("models/small.gin", vocab_size=2048)  # the default study's policy


def eval_prompts(rows: int, seed: int) -> list[list[int]]:
  """Prompts of 20 to 124 tokens, more of them short (as in the embedded world's eval suites)."""
  rng = np.random.default_rng(seed)
  lengths = np.exp(rng.uniform(np.log(20), np.log(124), size=rows)).astype(int)
  return [rng.integers(8, MODEL.vocab_size, size=n).tolist() for n in lengths]


def fixed_chunks(model, prompts, config, key, chunk_size: int) -> list[list[int]]:
  """The peer: chunks in the given order, each padded to ``chunk_size`` rows."""
  out = []
  for index, start in enumerate(range(0, len(prompts), chunk_size)):
    chunk = prompts[start:start + chunk_size]
    result = generate(model, chunk + [chunk[0]] * (chunk_size - len(chunk)), config, jax.random.fold_in(key, index))
    tokens, lengths = np.asarray(result.tokens), np.asarray(result.lengths)
    out += [tokens[row, :int(lengths[row])].tolist() for row in range(len(chunk))]
  return out


def padding(chunks: list[list[list[int]]], chunk_rows: list[int]) -> float:
  """The fraction of sampled prompt slots (rows x bucketed length) that hold no prompt token."""
  slots = sum(rows * -(-max(len(p) for p in chunk) // PROMPT_BUCKET) * PROMPT_BUCKET
              for chunk, rows in zip(chunks, chunk_rows))
  return 1.0 - sum(len(p) for chunk in chunks for p in chunk) / slots


def timed(fn, repeats: int) -> tuple[float, object]:
  times, result = [], None
  for _ in range(repeats):
    start = time.perf_counter()
    result = fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times), result


def main(argv: list[str] | None = None) -> dict[str, float]:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--quick", action="store_true", help="fast smoke run: 70 rows, 8 new tokens, one timed run")
  parser.add_argument("--rows", type=int, default=None, help="rows in the pass (default 262: 8 suites of 32-34)")
  parser.add_argument("--chunk-size", type=int, default=128)
  parser.add_argument("--new-tokens", type=int, default=None, help="tokens generated per row (default 48)")
  parser.add_argument("--repeats", type=int, default=None, help="timed runs of each (default 3)")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)
  rows = args.rows or (70 if args.quick else 262)
  chunk_size = min(args.chunk_size, 32) if args.quick else args.chunk_size
  new_tokens = args.new_tokens or (8 if args.quick else 48)
  repeats = args.repeats or (1 if args.quick else 3)

  model = build_model(MODEL, seed=args.seed)
  config = SamplingConfig(max_new_tokens=new_tokens, temperature=0.0)
  key = jax.random.key(args.seed)
  prompts = eval_prompts(rows, args.seed)
  print(f"backend={jax.default_backend()} params={MODEL.num_params():,} rows={rows} chunk_size={chunk_size} "
        f"new_tokens={new_tokens} repeats={repeats}", flush=True)
  grouped = lambda: [ids for ids, _ in sample_stage(model, prompts, config, key, chunk_size=chunk_size, pad_id=0)]
  fixed = lambda: fixed_chunks(model, prompts, config, key, chunk_size)
  same = grouped() == fixed()   # also the warm-up: compiles both
  grouped_s, _ = timed(grouped, repeats)
  fixed_s, _ = timed(fixed, repeats)

  order = sorted(range(rows), key=lambda i: len(prompts[i]))
  by_length = [[prompts[i] for i in order[s:s + chunk_size]] for s in range(0, rows, chunk_size)]
  in_order = [prompts[s:s + chunk_size] for s in range(0, rows, chunk_size)]
  results = {"grouped_s": grouped_s, "fixed_s": fixed_s, "speedup": fixed_s / grouped_s,
             "grouped_padding": padding(by_length, [padded_rows(len(c), chunk_size) for c in by_length]),
             "fixed_padding": padding(in_order, [chunk_size] * len(in_order))}
  print(f"grouped by length, short last chunk: {grouped_s:.2f} s; fixed full chunks: {fixed_s:.2f} s; "
        f"same tokens: {same}", flush=True)
  if not same:
    raise SystemExit("bench_eval_sampling: the two ways sampled different tokens")
  print("bench_eval_sampling: " + " ".join(f"{name}={value:.3f}" for name, value in results.items()))
  return results


if __name__ == "__main__":
  main()
