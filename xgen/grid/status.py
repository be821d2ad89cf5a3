"""``xgen grid status``: a table of a run directory's cells and their states (from ``xgen.rundir``).

A cell whose status.json or cell.json cannot be read shows as failed, with the reason, never as a
traceback.
"""

from __future__ import annotations

import time
from pathlib import Path

from xgen import rundir


def cell_row(entry: rundir.CellEntry) -> dict:
  """One line of the table: the cell, its labels and its state (failed with the reason if damaged)."""
  status = entry.status
  if entry.problem is not None:
    status = {**status, "state": rundir.FAILED, "reason": entry.problem}
  return {"cell": entry.name, "condition": entry.record.get("condition", "?"), "seed": entry.record.get("seed", "?"),
          "state": status["state"], "step": status.get("step", 0), "steps": status.get("steps", "?"),
          "updated": status.get("updated"), "reason": status.get("reason", "")}


def cell_rows(workdir: str | Path) -> list[dict]:
  return [cell_row(entry) for entry in rundir.list_cells(workdir)]


def updated_text(updated) -> str:
  return time.strftime("%Y-%m-%d %H:%M", time.localtime(updated)) if isinstance(updated, (int, float)) else ""


def status_table(workdir: str | Path) -> str:
  rows = cell_rows(workdir)
  base = rundir.read_status(rundir.base_dir(workdir)) or {"state": rundir.PENDING}
  lines = [f"base: {base['state']}" + (f" at step {base['step']}" if "step" in base else "")
           + (f" ({base['reason']})" if base["state"] in rundir.STOPPED and base.get("reason") else "")]
  if not rows:
    return "\n".join(lines + [f"no cells in {rundir.cells_dir(workdir)}", *attack_lines(workdir)])
  header = ("cell", "condition", "seed", "state", "progress", "updated")
  table = [header] + [(r["cell"], str(r["condition"]), str(r["seed"]), r["state"], f"{r['step']}/{r['steps']}",
                       updated_text(r["updated"])) for r in rows]
  widths = [max(len(row[i]) for row in table) for i in range(len(header))]
  lines += ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in table]
  counts = {}
  for row in rows:
    counts[row["state"]] = counts.get(row["state"], 0) + 1
  lines.append(", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
  lines += [f"{r['cell']}: {r['reason']}" for r in rows if r["reason"]]
  return "\n".join(lines + attack_lines(workdir))


def attack_lines(workdir: str | Path) -> list[str]:
  """One line per attacked checkpoint: the state of its run at each learning rate."""
  runs: dict[str, list[str]] = {}
  for cell, rate, run in rundir.attack_runs(workdir):
    status = rundir.read_status(run) or {"state": rundir.PENDING}
    progress = f"{status.get('step', 0)}/{status.get('steps', '?')}"
    runs.setdefault(cell, []).append(f"lr {rate:g} {status['state']} {progress}")
  return [f"attack of {cell}: {', '.join(parts)}" for cell, parts in runs.items()]
