"""A run directory's results, end to end: eval rows -> per-suite deltas and transfer matrices ->
``W/analysis/``: matrix files, heatmaps, the per-suite table (``suites.json``), the claims table
(``claims.{csv,json,md}``), ``report.html`` and, after a launch, ``launch.json``.

``write_study_report`` builds the whole directory in a staging folder and swaps it in
(``rundir.build_directory``) under the analysis lock, so ``W/analysis/`` is either the previous
analysis, byte for byte, or the complete new one. ``write_analysis`` (``xgen matrix --format png``)
writes chosen matrix formats into it, and ``write_claims_files`` (``xgen claims``) the claims table, each
file atomically. Used by ``xgen matrix``, ``xgen claims``, ``xgen report`` and at the end of ``xgen grid
launch``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from xgen import rundir
from xgen.analysis.clusters import twin_clusters
from xgen.analysis.counts import counts_by_group
from xgen.analysis.load import load_modes, load_variants
from xgen.analysis.protocols import PersistenceResults, persistence_results
from xgen.analysis.structure import permutation_band
from xgen.analysis.variance import variance_by_family
from xgen.analysis.transfer import SuiteDelta, TransferMatrix, aa_run_variance, suite_deltas, transfer_matrix
from xgen.report import claims as cl
from xgen.report import header as hd
from xgen.report.exports import FORMATS, write_matrix
from xgen.report.html import write_report
from xgen.report.persistence import persistence_section
from xgen.report.records import read_eval_records, read_study_records
from xgen.report.training import (finished_cells, metric_points, reward_rises, rise_lines, scope_line, scope_rises,
                                  treatment_caveat)
from xgen.rundir import locks
from xgen.world.personas import read_personas
from xgen.world.store import EVAL_SPLIT, open_world
# The files of W/analysis/ besides the matrix exports (named by ``exports.file_name``).
SUITES_FILE, REPORT_FILE, LAUNCH_FILE = "suites.json", "report.html", "launch.json"
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
  """Every comparison of a run directory's conditions with the baseline, and the settings it was made with."""
  baseline: str
  deltas: list[SuiteDelta]
  matrices: dict[str, TransferMatrix]   # view -> matrix
  refusal: dict[str, dict[str, float]]  # condition -> suite -> refusal rate
  conditions: list[str]
  scores: Mapping = dataclasses.field(default_factory=dict, repr=False, compare=False)
  n_resamples: int = 2000
  seed: int = 0
  sampled: list[SuiteDelta] = dataclasses.field(default_factory=list)  # the same, each item the mean of its samples
  tests: Mapping = dataclasses.field(default_factory=dict, repr=False, compare=False)  # how comparisons were tested
  persistence: PersistenceResults | None = None  # the persona and attack protocols, where the run has them


@dataclasses.dataclass(frozen=True)
class ClaimsTable:
  """The claims table with the study's header and caveats, as the report opens with them."""
  rows: list[cl.ClaimRow]
  header: list[tuple[str, str]]
  caveats: list[str]
  refusal: dict = dataclasses.field(default_factory=dict)  # cell -> eval family -> refusal rate
  rises: list = dataclasses.field(default_factory=list)    # RewardRise per metric and condition (training)
  scope_rises: list = dataclasses.field(default_factory=list)  # trait-all's RewardRise per trait and domain


def significance_options(workdir: str | Path) -> dict:
  """How every comparison is tested: where an arm has two or more seeds, Student's t over the training runs
  (``replicates``: seed K of each arm paired with seed K of the baseline, the runs' own spread plus the sampling
  of eval items, twins together), so that a difference between RL runs is not read as an effect of the
  condition; p-value and interval come from the same test. Where no arm has two seeds (a one-seed study),
  sign-flip p-values over items with the run-to-run variance of the condition's family of suites in the null
  (at least what the study's A/A arm shows, where it has one) and the bootstrap's interval. Twins are read from
  the world's eval items (none without a world)."""
  try:
    clusters = twin_clusters(open_world(workdir, verify=False).scenarios(EVAL_SPLIT))
  except FileNotFoundError:
    clusters = None
  return dict(p_values="runs", clusters=clusters, pair_seeds=True, run_variance="family",
              aa_condition=cl.AA_CONDITION)


def analyse(workdir: str | Path, *, baseline: str = "baseline", alpha: float = 0.05, n_resamples: int = 2000,
            seed: int = 0, condition_order: Sequence[str] | None = None) -> StudyAnalysis:
  modes = load_modes(workdir)
  scores, refusals = modes.get("greedy", ({}, {}))
  if baseline not in scores:
    raise FileNotFoundError(f"{rundir.eval_dir(workdir)}: no evaluated checkpoint of the baseline condition "
                            f"'{baseline}' (conditions evaluated: {', '.join(sorted(scores)) or 'none'})")
  others = [c for c in scores if c != baseline]
  order = [c for c in (condition_order or []) if c in others] + sorted(c for c in others if c not in
                                                                        (condition_order or []))
  if not order:
    raise FileNotFoundError(f"{rundir.eval_dir(workdir)}: only the baseline has been evaluated; nothing to compare")
  tests = dict(alpha=alpha, n_resamples=n_resamples, seed=seed, **significance_options(workdir))
  deltas = suite_deltas(scores, baseline, **tests)
  matrices = {view: transfer_matrix(scores, baseline, view=view, row_order=order, **tests) for view in VIEWS}
  sampled_scores = modes.get("sampled", ({}, {}))[0]
  sampled = suite_deltas(sampled_scores, baseline, mode="sampled", **tests) if baseline in sampled_scores else []
  refusal: dict[str, dict[str, float]] = {}
  for (condition, suite), rate in refusals.items():
    refusal.setdefault(condition, {})[suite] = rate
  persistence = analyse_persistence(workdir, scores, [baseline, *order], baseline, n_resamples=n_resamples, seed=seed)
  return StudyAnalysis(baseline, deltas, matrices, refusal, [baseline, *order], scores, n_resamples, seed, sampled,
                       tests, persistence)


PERSISTENCE_ARM = "trait-all"  # the arm C5 and C6 compare with the baseline (and, for C6, with pre-rl)


def analyse_persistence(workdir: str | Path, scores: Mapping, conditions: Sequence[str], baseline: str, *,
                        n_resamples: int, seed: int) -> PersistenceResults | None:
  """The persona and attack protocols' results (None when the run directory has no such rows)."""
  variants = load_variants(workdir)
  if not variants.personas and not variants.attacks:
    return None
  kinds = {}
  if variants.personas:
    kinds = {name: (p.kind, p.families) for name, p in read_personas(workdir).items()}
  pairs = [(PERSISTENCE_ARM, other) for other in (baseline, cl.PRE_RL)]
  return persistence_results(scores, variants.personas, variants.attacks, kinds, conditions, baseline,
                             comparisons=pairs, n_resamples=n_resamples, seed=seed)


def claims_table(workdir: str | Path, analysis: StudyAnalysis) -> ClaimsTable:
  """Each claim of the paper against this analysis, with the refusal-aware comparison beside it."""
  evals, records = read_eval_records(workdir), read_study_records(workdir)
  alpha, needed = analysis.matrices["domain"].alpha, {analysis.baseline, *(c.condition for c in cl.CLAIMS)}
  non_refusal = {c: seeds for c, seeds in evals.non_refusal.items() if c in needed}
  tests = analysis.tests or dict(alpha=alpha, n_resamples=analysis.n_resamples, seed=analysis.seed)
  non_refusal_deltas = suite_deltas(non_refusal, analysis.baseline, **tests) if analysis.baseline in non_refusal else []
  rows = cl.claim_rows(analysis.scores, non_refusal, analysis.deltas, non_refusal_deltas, baseline=analysis.baseline,
                       alpha=alpha, n_resamples=analysis.n_resamples, seed=analysis.seed,
                       persistence=analysis.persistence, p_values=tests.get("p_values", "bootstrap"),
                       clusters=tests.get("clusters"))
  header = hd.header_items(records.study, records.cells, analysis.deltas, samples=evals.samples,
                           pretrain_seconds=records.pretrain_seconds, rl_seconds=records.rl_seconds,
                           conditions=analysis.conditions)
  cells = finished_cells(workdir)
  rises = reward_rises(cells)
  treatment = treatment_caveat(rises)
  caveats = hd.caveats(records.study, analysis.deltas) + ([treatment] if treatment else [])
  return ClaimsTable(rows, header, caveats, evals.refusal, rises, scope_rises(cells))


def write_claims(directory: Path, table: ClaimsTable) -> list[Path]:
  """``claims.{csv,json,md}`` into ``directory``, each atomically; returns the paths."""
  texts = {"csv": cl.claims_csv(table.rows), "json": cl.claims_json(table.rows, table.caveats),
           "md": cl.claims_markdown(table.rows, table.caveats)}
  return [rundir.atomic_write_text(rundir.claims_path(directory, suffix), texts[suffix])
          for suffix in rundir.CLAIMS_FORMATS]


def write_claims_files(workdir: str | Path, table: ClaimsTable) -> list[Path]:
  """``write_claims`` into ``W/analysis/`` under the analysis lock, leaving its other files as they are."""
  with locks.held(workdir, locks.ANALYSIS_LOCK):
    return write_claims(rundir.analysis_dir(workdir), table)


def training_curves(workdir: str | Path) -> dict[str, dict[str, list[tuple[int, float]]]]:
  """metric -> cell -> [(step, value)] from every cell's metrics.jsonl (a torn last line is skipped)."""
  curves: dict[str, dict[str, list[tuple[int, float]]]] = {name: {} for name in CURVES}
  for entry in rundir.list_cells(workdir):
    rows = rundir.read_jsonl(rundir.metrics_path(entry.directory))
    for name in CURVES:
      points = metric_points(rows, name)
      if points:
        curves[name][entry.name] = points
  return {CURVES[name]: cells_ for name, cells_ in curves.items() if cells_}


def summary_lines(analysis: StudyAnalysis) -> list[str]:
  one_seed = max((d.n_seeds for d in analysis.deltas), default=1) == 1
  resampled = "items only: one seed per condition" if one_seed else "items and seeds"
  if any(d.p_method == "runs" for d in analysis.deltas):
    tested = "Student's t over the training runs, seed K paired with seed K, plus the sampling of items"
  else:
    tested = f"sign-flip p-values, intervals by paired bootstrap over {resampled}"
  lines = [f"Every condition is compared with the compute-matched '{analysis.baseline}' on the same eval items "
           f"({tested}; Benjamini-Hochberg at {analysis.matrices['domain'].alpha:g}). Alignment and capability "
           f"suites are counted apart."]
  for counts in counts_by_group(analysis.deltas):
    lines.append(f"{counts.condition}, {counts.group} suites: {counts.text}")
  if analysis.sampled:
    lines.append("With sampled responses (each item scored by the mean of its samples, temperature as in eval):")
    lines += [f"{c.condition}, {c.group} suites, sampled: {c.text}" for c in counts_by_group(analysis.sampled)]
  return lines


def write_tables(directory: Path, analysis: StudyAnalysis, formats: Sequence[str] = FORMATS) -> list[Path]:
  """Writes each view's matrix in ``formats`` and the per-suite table into ``directory``; returns the paths."""
  paths = []
  for matrix in analysis.matrices.values():
    paths += write_matrix(matrix, directory, formats, deltas=analysis.deltas)
  rows = [dataclasses.asdict(d) for d in analysis.deltas]
  paths.append(rundir.atomic_write_text(directory / SUITES_FILE, json.dumps(rows, indent=1) + "\n"))
  return paths


def write_analysis(workdir: str | Path, analysis: StudyAnalysis, formats: Sequence[str] = FORMATS) -> list[Path]:
  """Writes the matrices in ``formats`` and the per-suite table into ``W/analysis/``, each file atomically,
  leaving its other files as they are (``xgen matrix --format png``). ``locks.Busy`` if another process
  is writing the analysis."""
  with locks.held(workdir, locks.ANALYSIS_LOCK):
    return write_tables(rundir.analysis_dir(workdir), analysis, formats)


def refusal_by_family(rates: dict[str, float]) -> dict[str, float]:
  """suite -> rate, averaged over the domains of each family."""
  families: dict[str, list[float]] = {}
  for suite, rate in rates.items():
    families.setdefault(suite.split(".")[0], []).append(rate)
  return {family: sum(values) / len(values) for family, values in sorted(families.items())}


def report_notes(analysis: StudyAnalysis) -> list[str]:
  """The notes at the end of the report: units, the pre-rl row, which numbers are adjusted."""
  return ["Deltas are in points (score x 100) against the baseline; * marks q < alpha after BH correction.",
          "pre-rl is the base model before any RL: its row is the base minus the baseline, i.e. the opposite of "
          "what RL on standard data alone changed.",
          f"Confidence intervals are unadjusted {hd.interval_kind(analysis.deltas)}; q-values are Benjamini-Hochberg "
          "adjusted (within a condition for suites, across the matrix for its cells, within a claim's family "
          "for the claims table).", *variance_lines(analysis), *power_lines(analysis), *structure_lines(analysis)]


def structure_matrix(scores: Mapping, capability_families: Sequence[str] = ("capability",)) -> np.ndarray | None:
  """[checkpoints, alignment suites]: each evaluated checkpoint's (condition x seed) mean score on every
  alignment suite all of them share; None with fewer than 3 checkpoints or 2 suites."""
  units = [(condition, seed) for condition in sorted(scores) for seed in sorted(scores[condition])]
  shared = set.intersection(*(set(scores[c][s]) for c, s in units)) if units else set()
  suites = sorted(x for x in shared if x.split(".")[0] not in capability_families)
  if len(units) < 3 or len(suites) < 2:
    return None
  return np.array([[np.mean(list(scores[c][s][suite].values())) for suite in suites] for c, s in units])


def structure_lines(analysis: StudyAnalysis) -> list[str]:
  """Shared structure across alignment suites (STUDY.md section 1), each statistic against its null band."""
  matrix = structure_matrix(analysis.scores)
  if matrix is None:
    return []
  parts = []
  for name, label, scale, unit in (("mean_spearman", "mean Spearman correlation between suites", 1, ""),
                                   ("pc1_share", "variance on the first principal component", 100, "%")):
    result = permutation_band(matrix, name, seed=analysis.seed)
    parts.append(f"{label} {scale * result.observed:.3g}{unit} (null 95% band [{scale * result.null_low:.3g}{unit}, "
                 f"{scale * result.null_high:.3g}{unit}], one-sided p = {result.p_value:.2g})")
  return [f"Shared structure across {matrix.shape[1]} alignment suites and {matrix.shape[0]} checkpoints: "
          f"{'; '.join(parts)}; the paper: 0.107 against [-0.019, 0.029], and 28.2% against [15.3%, 20.8%]."]


def variance_lines(analysis: StudyAnalysis) -> list[str]:
  """Per eval family, how much a suite mean moves with the items drawn, between seeds of the baseline, and
  between two runs of the baseline (the A/A arm), in points (standard deviations)."""
  if analysis.baseline not in analysis.scores:
    return []
  runs = aa_run_variance(analysis.scores, analysis.baseline, cl.AA_CONDITION)
  lines = []
  for split in variance_by_family(analysis.scores, analysis.baseline):
    parts = [f"items {100 * math.sqrt(split.item_term):.1f}"]
    if math.isfinite(split.seed_variance):
      parts.append(f"seeds {100 * math.sqrt(max(split.seed_variance, 0.0)):.1f} ({split.n_seeds} seeds)")
    if split.family in runs:
      parts.append(f"runs (A/A delta) {100 * math.sqrt(runs[split.family]):.1f}")
    lines.append(f"Spread of a {split.family} suite mean of the baseline, sd in points: {', '.join(parts)}.")
  return lines


MDE_TARGET = 0.05  # the detectable effect a family pooled over domains should reach (the reference study's aim)


def power_lines(analysis: StudyAnalysis) -> list[str]:
  """Per eval family, the minimum detectable effect of a family delta (a condition with the baseline's seeds,
  mean over the family's suites) from this study's own item, seed and A/A variance (``power.family_power``)."""
  from xgen.analysis.power import family_power, seeds_for
  if analysis.baseline not in analysis.scores:
    return []
  alpha = analysis.tests.get("alpha", 0.05)
  lines = []
  runs_test = analysis.tests.get("p_values") == "runs"
  for fp in family_power(analysis.scores, analysis.baseline, aa_condition=cl.AA_CONDITION, alpha=alpha,
                         runs_test=runs_test):
    suites = f"{fp.suites} suite{'s' if fp.suites != 1 else ''}"
    target = ""
    if fp.suites > 1 and fp.mde > MDE_TARGET:
      needed = seeds_for(fp, MDE_TARGET)
      at = (f": {needed} seeds per arm would bring it to {100 * MDE_TARGET:g} at this variance" if needed
            else "" if fp.lower_bound else ": more than 1000 seeds per arm would be needed at this variance")
      target = f"; above the {100 * MDE_TARGET:g}-point target for a family pooled over domains{at}"
    lines.append(f"Minimum detectable effect ({100 * fp.power:g}% power, alpha {fp.alpha:g}) of a {fp.family} family "
                 f"delta ({suites}): {fp.text()}{target}.")
  return lines


def fill_analysis(directory: Path, workdir: str | Path, analysis: StudyAnalysis, *, title: str,
                  launch: dict | None = None) -> list[Path]:
  """Writes everything of an analysis directory into ``directory``: every matrix format, the per-suite
  table, the claims table, ``report.html`` and, if given, the launch record; returns the paths (the report
  last)."""
  paths = write_tables(directory, analysis)
  table = claims_table(workdir, analysis)
  paths += write_claims(directory, table)
  if launch is not None:
    paths.append(rundir.atomic_write_json(directory / LAUNCH_FILE, launch))
  refusal = table.refusal or {condition: refusal_by_family(rates) for condition, rates in analysis.refusal.items()}
  paths.append(write_report(directory / REPORT_FILE, title=title, summary_lines=summary_lines(analysis),
                            matrices=list(analysis.matrices.values()), deltas=analysis.deltas,
                            curves=training_curves(workdir), refusal=refusal,
                            notes=report_notes(analysis) + rise_lines(table.rises) + scope_line(table.scope_rises),
                            header=table.header, caveats=table.caveats, claims=table.rows,
                            sections=persistence_sections(analysis)))
  return paths


def persistence_sections(analysis: StudyAnalysis) -> list[str]:
  """The report's persistence section, when the run has persona or attack rows."""
  results = analysis.persistence
  if results is None:
    return []
  pairs = [(PERSISTENCE_ARM, other) for other in (analysis.baseline, cl.PRE_RL)]
  return [persistence_section(results.comparisons, results.attack, results.summaries, pairs,
                              capability=results.attack_capability)]


def publish_analysis(workdir: str | Path, analysis: StudyAnalysis, *, title: str,
                     launch: dict | None = None) -> list[Path]:
  """Replaces ``W/analysis/`` as a whole with this analysis (see ``fill_analysis``), under the analysis
  lock: on any error the previous directory is left as it was. Returns the final paths (the report
  last); ``locks.Busy`` if another process is writing the analysis."""
  target = rundir.analysis_dir(workdir)

  def fill(staging: Path) -> list[Path]:
    paths = fill_analysis(staging, workdir, analysis, title=title, launch=launch)
    return [target / path.relative_to(staging) for path in paths]

  with locks.held(workdir, locks.ANALYSIS_LOCK):
    return rundir.build_directory(target, fill)


def write_study_report(workdir: str | Path, analysis: StudyAnalysis, *, title: str,
                       launch: dict | None = None) -> Path:
  """Writes the whole of ``W/analysis/`` (``publish_analysis``); returns the path of ``report.html``."""
  return publish_analysis(workdir, analysis, title=title, launch=launch)[-1]
