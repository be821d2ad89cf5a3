"""Benchmark: a study's cells and evaluation two at a time (``--parallel 2``) against one after the other.

  python benchmarks/bench_parallel.py           # 2 reference-study cells of 40 steps, then their evaluation
  python benchmarks/bench_parallel.py --quick   # a fast smoke run (10 steps, a 20-step base)

Builds the default world and a short-pretrained default-study base in a temporary directory, then, side by side
in one run: trains the same two cells (the reference study's settings: 64 responses per step, a 25% trait dose,
seeds 0 and 1) with the subprocess executor one at a time and two at a time, in two copies of the run directory;
then evaluates the base and both cells on every eval suite in process and in two worker processes
(``xgen.grid.eval_pool``). Both ways must give the same cell parameters and the same eval files. No process
reads a compilation cache, so each way compiles its programs itself: with only 3 checkpoints each worker's
compilation weighs as much as its share of the evaluation (2026-12-03, --quick, two runs: cells 1.32x and
1.30x, evaluation 0.94x and 1.10x); a study's 19 checkpoints spread it thinner. The last line is
machine-readable:

  bench_parallel: cells_serial_s=... cells_parallel_s=... cells_speedup=... eval_serial_s=... eval_parallel_s=...
  eval_speedup=...
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from xgen import rundir
from xgen.config import COMPILATION_CACHE_ENV
from xgen.grid.executors import run_cells
from xgen.grid.study import Cell
from xgen.train.checkpoints import checkpoint_fingerprint

CELL_BINDINGS = ("RLConfig.batch_size = 64", "RLConfig.sample_every = 0", "DOSE = 0.25")


def xgen(*argv: str) -> None:
  subprocess.run([sys.executable, "-m", "xgen.cli", *argv], check=True, stdout=subprocess.DEVNULL)


def cells(steps: int) -> list[Cell]:
  return [Cell(f"trait-all.s{seed}", "trait-all", seed, ("runs/rl.gin",),
               (f"TRAIN_STEPS = {steps}", f"RLConfig.checkpoint_every = {steps}",
                f"RLConfig.warmup_steps = {steps // 4}", *CELL_BINDINGS, f"SEED = {seed}"))
          for seed in (0, 1)]


def train(workdir: Path, steps: int, parallel: int) -> float:
  start = time.perf_counter()
  outcomes = []
  run_cells("subprocess", workdir, cells(steps), outcomes.append, parallel=parallel)
  seconds = time.perf_counter() - start
  failed = [f"{o.cell}: {o.state} {o.message}" for o in outcomes if o.state != rundir.DONE]
  if failed:
    raise SystemExit("bench_parallel: " + "; ".join(failed))
  return seconds


def evaluate(workdir: Path, workers: int) -> float:
  """The base and both cells on every eval suite, as a launch evaluates them (``xgen.grid.eval_pool``)."""
  from xgen.eval.crosseval import EvalConfig, checkpoints_to_evaluate
  from xgen.grid import eval_pool
  from xgen.grid.persistence import Protocols
  from xgen.train.sft import saved_model_config
  start = time.perf_counter()
  eval_pool.evaluate_units(workdir, saved_model_config(rundir.base_dir(workdir)), EvalConfig(max_new_tokens=48),
                           Protocols((), None, ()), eval_pool.PLAIN, checkpoints_to_evaluate(workdir), workers,
                           lambda files: None, print)
  return time.perf_counter() - start


def fingerprints(workdir: Path, steps: int) -> list[str]:
  """The digests of the cells' final parameters."""
  return [checkpoint_fingerprint(rundir.cells_dir(workdir) / c.name, steps) for c in cells(steps)]


def eval_bytes(workdir: Path) -> dict[str, bytes]:
  root = rundir.eval_dir(workdir)
  return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.jsonl.gz"))}


def main(argv: list[str] | None = None) -> dict[str, float]:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--quick", action="store_true", help="fast smoke run: 10 RL steps, a 20-step base")
  parser.add_argument("--steps", type=int, default=None, help="RL steps per cell (default 40)")
  parser.add_argument("--base-steps", type=int, default=None, help="pretraining steps of the base (default 60)")
  args = parser.parse_args(argv)
  steps = args.steps or (10 if args.quick else 40)
  base_steps = args.base_steps or (20 if args.quick else 60)
  os.environ[COMPILATION_CACHE_ENV] = "off"  # every process compiles for itself, both ways alike
  with tempfile.TemporaryDirectory(prefix="xgen-bench-parallel-") as tmp:
    serial, parallel = Path(tmp) / "serial" / "w", Path(tmp) / "parallel" / "w"
    xgen("world", "build", "--workdir", str(serial))
    xgen("pretrain", "--workdir", str(serial), "--gin_param", f"SFTConfig.steps = {base_steps}",
         "--gin_param", f"SFTConfig.warmup_steps = {base_steps // 10}")
    shutil.copytree(serial, parallel)
    print(f"world and a {base_steps}-step base ready; 2 cells x {steps} steps of 64 responses", flush=True)
    results = {"cells_serial_s": train(serial, steps, 1), "cells_parallel_s": train(parallel, steps, 2)}
    if fingerprints(serial, steps) != fingerprints(parallel, steps):
      raise SystemExit("bench_parallel: the cells trained two at a time differ from those trained one at a time")
    results["cells_speedup"] = results["cells_serial_s"] / results["cells_parallel_s"]
    print(f"cells: one at a time {results['cells_serial_s']:.1f} s, two at a time {results['cells_parallel_s']:.1f} s",
          flush=True)
    results["eval_serial_s"], results["eval_parallel_s"] = evaluate(serial, 1), evaluate(parallel, 2)
    if eval_bytes(serial) != eval_bytes(parallel):
      raise SystemExit("bench_parallel: the eval files written in two processes differ from those written in one")
    results["eval_speedup"] = results["eval_serial_s"] / results["eval_parallel_s"]
    print(f"evaluation of 3 checkpoints: one process {results['eval_serial_s']:.1f} s, two "
          f"{results['eval_parallel_s']:.1f} s; same files", flush=True)
  print("bench_parallel: " + " ".join(f"{name}={value:.2f}" for name, value in results.items()))
  return results


if __name__ == "__main__":
  main()
