"""Summarize RL cells' reward curves per pool x domain x trait (or task) and plot them.

  python scripts/cell_curves.py --workdir W [--cell C ...] [--window 20] [--out W/analysis/curves]

For every cell: the mean reward of each scope (overall, per pool, per pool x domain, per pool x
trait) over the first and the last ``window`` logged steps (a quarter of them where fewer), their change, the mean seconds per step,
and one PNG per pool with a curve per domain (a moving average over ``window`` steps).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from xgen.report.heatmap import plot_curves


def read_rows(cell_dir: Path) -> list[dict]:
  return [json.loads(line) for line in (cell_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]


def scope_means(rows: list[dict], name: str, window: int) -> tuple[float, float, int] | None:
  """(mean over the first window rows that have it, mean over the last window, how many rows have it);
  the window shrinks to a quarter of the rows for scopes logged at few steps, so the two never overlap."""
  values = [row[name] for row in rows if isinstance(row.get(name), (int, float))]
  if not values:
    return None
  window = max(1, min(window, len(values) // 4))
  return float(np.mean(values[:window])), float(np.mean(values[-window:])), len(values)


def moving_average(points: list[tuple[int, float]], window: int) -> list[tuple[int, float]]:
  steps, values = zip(*points)
  kernel = min(window, len(values))
  smooth = np.convolve(values, np.ones(kernel) / kernel, mode="valid")
  return list(zip(steps[kernel - 1:], smooth.tolist()))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--cell", action="append")
  parser.add_argument("--window", type=int, default=20)
  parser.add_argument("--out")
  args = parser.parse_args()
  workdir = Path(args.workdir)
  cells = args.cell or sorted(p.name for p in (workdir / "cells").iterdir() if (p / "metrics.jsonl").exists())
  out = Path(args.out) if args.out else workdir / "analysis" / "curves"
  out.mkdir(parents=True, exist_ok=True)
  for cell in cells:
    rows = read_rows(workdir / "cells" / cell)
    seconds = [row["time/step_seconds"] for row in rows if "time/step_seconds" in row]
    print(f"## {cell}: {len(rows)} steps, {np.mean(seconds):.2f} s/step mean, {np.median(seconds):.2f} median")
    print(f"{'scope':<48} {'first':>6} {'last':>6} {'change':>7} {'n':>5}")
    scopes = sorted({k[len("reward/"):-len("/mean")] for row in rows for k in row
                     if k.startswith("reward/") and k.endswith("/mean")} - {""})
    for scope in ["", *scopes]:
      name = f"reward/{scope}/mean" if scope else "reward/mean"
      summary = scope_means(rows, name, args.window)
      if summary and (scope.count("/") <= 1 or scope.split("/")[1] == "all"):
        first, last, count = summary
        print(f"{scope or 'all':<48} {first:6.3f} {last:6.3f} {last - first:+7.3f} {count:5d}")
    for pool in ("standard", "trait"):
      curves = {}
      for scope in scopes:
        parts = scope.split("/")
        if parts[0] == pool and len(parts) == 2:
          points = [(row["step"], row[f"reward/{scope}/mean"]) for row in rows if f"reward/{scope}/mean" in row]
          curves[parts[1]] = moving_average(points, args.window)
      if curves:
        path = plot_curves(curves, out / f"{cell}.{pool}.png", title=f"{cell}: {pool} reward by domain "
                           f"(moving average over {args.window} logged steps)", ylabel="reward")
        print(f"plot: {path}")


if __name__ == "__main__":
  main()
