"""A run directory's results, end to end: eval rows -> per-suite deltas and transfer matrices ->
``W/analysis/`` (matrix files, heatmaps, per-suite table) and ``W/analysis/report.html``.

Used by ``xgen matrix``, ``xgen report`` and at the end of ``xgen grid launch``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

from xgen.analysis.load import load_scores
from xgen.analysis.transfer import SuiteDelta, TransferMatrix, suite_deltas, transfer_matrix, win_counts
from xgen.report.atomic import atomic_write_text
from xgen.report.exports import write_matrix
from xgen.report.html import write_report

ANALYSIS_DIR = "analysis"
VIEWS = ("domain", "family")
CURVES = {  # metric in metrics.jsonl -> the title of its plot
    "reward/mean": "reward, all items",
    "reward/standard/mean": "reward, standard items",
    "reward/trait/mean": "reward, trait items",
    "response_length": "response length (tokens)",
    "entropy": "entropy per response token",
}


@dataclasses.dataclass(frozen=True)
class StudyAnalysis:
  baseline: str
  deltas: list[SuiteDelta]
  matrices: dict[str, TransferMatrix]   # view -> matrix
  refusal: dict[str, dict[str, float]]  # condition -> suite -> refusal rate
  conditions: list[str]


def analyse(workdir: str | Path, *, baseline: str = "baseline", alpha: float = 0.05, n_resamples: int = 2000,
            seed: int = 0, condition_order: Sequence[str] | None = None) -> StudyAnalysis:
  scores, refusals = load_scores(workdir)
  if baseline not in scores:
    raise FileNotFoundError(f"{Path(workdir) / 'eval'}: no evaluated checkpoint of the baseline condition "
                            f"'{baseline}' (conditions evaluated: {', '.join(sorted(scores)) or 'none'})")
  others = [c for c in scores if c != baseline]
  order = [c for c in (condition_order or []) if c in others] + sorted(c for c in others if c not in
                                                                        (condition_order or []))
  if not order:
    raise FileNotFoundError(f"{Path(workdir) / 'eval'}: only the baseline has been evaluated; nothing to compare")
  deltas = suite_deltas(scores, baseline, alpha=alpha, n_resamples=n_resamples, seed=seed)
  matrices = {view: transfer_matrix(scores, baseline, view=view, alpha=alpha, n_resamples=n_resamples, seed=seed,
                                    row_order=order) for view in VIEWS}
  refusal: dict[str, dict[str, float]] = {}
  for (condition, suite), rate in refusals.items():
    refusal.setdefault(condition, {})[suite] = rate
  return StudyAnalysis(baseline, deltas, matrices, refusal, [baseline, *order])


def training_curves(workdir: str | Path) -> dict[str, dict[str, list[tuple[int, float]]]]:
  """metric -> cell -> [(step, value)] from every cell's metrics.jsonl."""
  curves: dict[str, dict[str, list[tuple[int, float]]]] = {name: {} for name in CURVES}
  cells = Path(workdir) / "cells"
  for metrics in sorted(cells.glob("*/metrics.jsonl")) if cells.is_dir() else []:
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    for name in CURVES:
      points = [(row["step"], row[name]) for row in rows if isinstance(row.get(name), (int, float))]
      if points:
        curves[name][metrics.parent.name] = points
  return {CURVES[name]: cells_ for name, cells_ in curves.items() if cells_}


def summary_lines(analysis: StudyAnalysis) -> list[str]:
  lines = [f"Every condition is compared with the compute-matched '{analysis.baseline}' on the same eval items "
           f"(paired bootstrap over items and seeds; Benjamini-Hochberg at "
           f"{analysis.matrices['domain'].alpha:g})."]
  for condition in analysis.conditions[1:]:
    lines.append(f"{condition}: {win_counts(analysis.deltas, condition).text}")
  return lines


def write_analysis(workdir: str | Path, analysis: StudyAnalysis, formats: Sequence[str] = ("csv", "json", "md",
                                                                                             "tex", "png")) -> list[Path]:
  out = Path(workdir) / ANALYSIS_DIR
  paths = []
  for view, matrix in analysis.matrices.items():
    paths += write_matrix(matrix, out, formats, deltas=analysis.deltas)
  rows = [dataclasses.asdict(d) for d in analysis.deltas]
  paths.append(atomic_write_text(out / "suites.json", json.dumps(rows, indent=1) + "\n"))
  return paths


def refusal_by_family(rates: dict[str, float]) -> dict[str, float]:
  """suite -> rate, averaged over the domains of each family."""
  families: dict[str, list[float]] = {}
  for suite, rate in rates.items():
    families.setdefault(suite.split(".")[0], []).append(rate)
  return {family: sum(values) / len(values) for family, values in sorted(families.items())}


def write_study_report(workdir: str | Path, analysis: StudyAnalysis, *, title: str) -> Path:
  refusal = {condition: refusal_by_family(rates) for condition, rates in analysis.refusal.items()}
  notes = ["Deltas are in points (score x 100) against the baseline; * marks q < alpha after BH correction.",
           "pre-rl is the base model before any RL: its row is the base minus the baseline, i.e. the opposite of "
           "what RL on standard data alone changed."]
  if analysis.deltas and max(d.n_seeds for d in analysis.deltas) == 1:
    notes.append("Each condition has one seed: the intervals cover the sampling of eval items only, not the "
                 "variation between RL runs, and every row shares the one baseline run. Run several seeds "
                 "before reading a cell as an effect.")
  return write_report(Path(workdir) / ANALYSIS_DIR / "report.html", title=title, summary_lines=summary_lines(analysis),
                      matrices=list(analysis.matrices.values()), deltas=analysis.deltas,
                      curves=training_curves(workdir), refusal=refusal, notes=notes)
