"""``xgen grid status``: a table of a run directory's cells and their states (from status.json)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from xgen.train.sft import read_status


def cell_rows(workdir: str | Path) -> list[dict]:
  cells = Path(workdir) / "cells"
  rows = []
  for directory in sorted(p for p in cells.iterdir() if p.is_dir()) if cells.is_dir() else []:
    status = read_status(directory) or {"state": "pending"}
    labels = json.loads((directory / "cell.json").read_text()) if (directory / "cell.json").exists() else {}
    rows.append({"cell": directory.name, "condition": labels.get("condition", "?"), "seed": labels.get("seed", "?"),
                 "state": status["state"], "step": status.get("step", 0), "steps": status.get("steps", "?"),
                 "updated": status.get("updated"), "reason": status.get("reason", "")})
  return rows


def status_table(workdir: str | Path) -> str:
  rows = cell_rows(workdir)
  base = read_status(Path(workdir) / "base") or {"state": "pending"}
  lines = [f"base: {base['state']}" + (f" at step {base['step']}" if "step" in base else "")]
  if not rows:
    return "\n".join(lines + [f"no cells in {Path(workdir) / 'cells'}"])
  header = ("cell", "condition", "seed", "state", "progress", "updated")
  table = [header] + [(r["cell"], str(r["condition"]), str(r["seed"]), r["state"], f"{r['step']}/{r['steps']}",
                       time.strftime("%Y-%m-%d %H:%M", time.localtime(r["updated"])) if r["updated"] else "")
                      for r in rows]
  widths = [max(len(row[i]) for row in table) for i in range(len(header))]
  lines += ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in table]
  counts = {}
  for row in rows:
    counts[row["state"]] = counts.get(row["state"], 0) + 1
  lines.append(", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
  lines += [f"{r['cell']}: {r['reason']}" for r in rows if r["reason"]]
  return "\n".join(lines)
