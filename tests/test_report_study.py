"""The study report: ``W/analysis/`` is written as one directory (all of it or none of it, one writer
at a time), ``xgen matrix --format png`` adds heatmaps beside it, and training curves tolerate a torn
last line of metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xgen import rundir
from xgen.report import study as study_report
from xgen.report.study import analyse, training_curves, write_analysis, write_study_report
from xgen.rundir import locks
from xgen.rundir.evalrows import EvalRow, write_eval_file

SUITES = ("honesty_pressure.health", "honesty_pressure.law", "reward_hacking.health", "reward_hacking.law")
ANALYSIS_FILES = ["claims.csv", "claims.json", "claims.md", "heatmap.png", "heatmap_by_family.png", "launch.json",
                  "matrix.csv", "matrix.json", "matrix.md", "matrix.tex", "matrix_by_family.csv",
                  "matrix_by_family.json", "matrix_by_family.md", "matrix_by_family.tex", "report.html", "suites.json"]


def eval_row(condition: str, suite: str, item: int, score: float) -> EvalRow:
  family, domain = suite.split(".")
  return EvalRow(checkpoint=f"{condition}.s0", cell=f"{condition}.s0", condition=condition, seed=0, step=2,
                 suite=suite, family=family, domain=domain, item_id=f"{suite}/{item}", mode="greedy", sample=0,
                 persona=None, responses=("...",), score=score, refused=False, fingerprint="f")


@pytest.fixture
def workdir(tmp_path) -> Path:
  for condition, shift in (("baseline", 0.0), ("trait-all", 0.25)):
    for suite in SUITES:
      rows = [eval_row(condition, suite, i, min(1.0, (i % 4) / 4 + shift)) for i in range(8)]
      write_eval_file(rundir.eval_file(tmp_path, f"{condition}.s0", suite), rows)
    metrics = [{"step": step, "reward/mean": 0.1 * step + shift} for step in (1, 2)]
    rundir.append_jsonl(rundir.metrics_path(rundir.cell_dir(tmp_path, f"{condition}.s0")), metrics)
  return tmp_path


def snapshot(directory: Path) -> dict[str, bytes]:
  return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def leftovers(workdir: Path) -> list[str]:
  return sorted(p.name for p in workdir.iterdir() if p.name.startswith(".analysis"))


def test_the_report_writes_the_whole_analysis_directory(workdir):
  analysis = analyse(workdir, n_resamples=50)
  report = write_study_report(workdir, analysis, title="t", launch={"cells": {"trait-all.s0": "done"}})
  directory = rundir.analysis_dir(workdir)
  assert report == directory / "report.html" and "trait-all" in report.read_text()
  assert sorted(snapshot(directory)) == ANALYSIS_FILES
  assert json.loads((directory / "launch.json").read_text()) == {"cells": {"trait-all.s0": "done"}}
  assert leftovers(workdir) == []


def test_a_failure_mid_way_leaves_the_previous_analysis_byte_identical(workdir, monkeypatch):
  write_study_report(workdir, analyse(workdir, n_resamples=50), title="first", launch={"cells": {}})
  directory = rundir.analysis_dir(workdir)
  before = snapshot(directory)
  assert sorted(before) == ANALYSIS_FILES

  def broken(*args, **kwargs):
    raise OSError("disk full")

  monkeypatch.setattr(study_report, "write_report", broken)  # fails after the matrices were written
  with pytest.raises(OSError, match="disk full"):
    write_study_report(workdir, analyse(workdir, n_resamples=60, seed=1), title="second")
  assert snapshot(directory) == before
  assert leftovers(workdir) == []


def test_a_report_on_the_same_scores_is_byte_identical(workdir):
  write_study_report(workdir, analyse(workdir, n_resamples=50), title="t")
  first = snapshot(rundir.analysis_dir(workdir))
  write_study_report(workdir, analyse(workdir, n_resamples=50), title="t")
  assert snapshot(rundir.analysis_dir(workdir)) == first


def test_matrix_png_adds_heatmaps_beside_the_report(workdir):
  write_study_report(workdir, analyse(workdir, n_resamples=50), title="t")
  directory = rundir.analysis_dir(workdir)
  report = (directory / "report.html").read_bytes()
  paths = write_analysis(workdir, analyse(workdir, n_resamples=60, seed=1), formats=("png",))
  assert sorted(p.name for p in paths) == ["heatmap.png", "heatmap_by_family.png", "suites.json"]
  assert all(p.parent == directory for p in paths)
  assert (directory / "report.html").read_bytes() == report
  assert not [p for p in directory.iterdir() if p.name.startswith(".")]


def test_one_writer_of_the_analysis_at_a_time(workdir):
  analysis = analyse(workdir, n_resamples=50)
  with locks.held(workdir, locks.ANALYSIS_LOCK):
    with pytest.raises(locks.Busy):
      write_study_report(workdir, analysis, title="t")
    with pytest.raises(locks.Busy):
      write_analysis(workdir, analysis, formats=("png",))
  assert not rundir.analysis_dir(workdir).exists()
  write_study_report(workdir, analysis, title="t")
  assert (rundir.analysis_dir(workdir) / "report.html").exists()


def test_training_curves_skip_a_torn_last_line(tmp_path):
  metrics = rundir.metrics_path(rundir.cell_dir(tmp_path, "trait-all.s0"))
  metrics.parent.mkdir(parents=True)
  metrics.write_text(json.dumps({"step": 1, "reward/mean": 0.25, "entropy": 2.0}) + "\n"
                     + json.dumps({"step": 2, "reward/mean": 0.5}) + "\n" + '{"step": 3, "reward/me')
  rundir.cell_dir(tmp_path, "baseline.s0").mkdir()  # a cell without metrics yet
  assert training_curves(tmp_path) == {"reward, all items": {"trait-all.s0": [(1, 0.25), (2, 0.5)]},
                                       "entropy per response token": {"trait-all.s0": [(1, 2.0)]}}


def test_the_claims_say_whether_the_trait_training_took_and_the_report_gives_each_conditions_rise(workdir):
  def finished_cell(condition: str, seed: int, trait_slope: float, mode: str = "rubric") -> None:
    directory = rundir.cell_dir(workdir, f"{condition}.s{seed}")
    rundir.atomic_write_json(rundir.cell_record_path(directory),
                             {"condition": condition, "seed": seed, "mixture": {"reward_mode": mode}})
    rundir.write_status(directory, rundir.DONE, step=40)
    rows = [{"step": step, "reward/standard/mean": 0.3,
             "reward/trait/mean": 0.2 + trait_slope * step + 0.01 * (step % 3)} for step in range(1, 41)]
    metrics = rundir.metrics_path(directory)
    metrics.unlink(missing_ok=True)
    rundir.append_jsonl(metrics, rows)

  for seed in (0, 1):
    finished_cell("trait-all", seed, 0.005)
    finished_cell("reward-control", seed, 0.0, mode="generic")
  analysis = analyse(workdir, n_resamples=50)
  write_study_report(workdir, analysis, title="t")
  claims = (rundir.analysis_dir(workdir) / "claims.md").read_text()
  assert "The trait training took: trait-all's trait reward rose by +0.099 [" in claims  # 20 steps x 0.005
  report = (rundir.analysis_dir(workdir) / "report.html").read_text()
  assert "Training trait reward" in report
  assert "reward-control (trait items graded by the generic reward) " in report

  for seed in (0, 1):
    finished_cell("trait-all", seed, 0.0)
  write_study_report(workdir, analyse(workdir, n_resamples=50), title="t")
  claims = (rundir.analysis_dir(workdir) / "claims.md").read_text()
  assert "The trait training did not measurably take: trait-all's trait reward changed by " in claims


def test_the_report_breaks_trait_alls_trait_reward_down_by_trait_and_domain(tmp_path):
  from xgen.report.training import finished_cells, scope_line, scope_rises
  for seed in (0, 1):
    directory = rundir.cell_dir(tmp_path, f"trait-all.s{seed}")
    rundir.atomic_write_json(rundir.cell_record_path(directory), {"condition": "trait-all", "seed": seed})
    rundir.write_status(directory, rundir.DONE, step=40)
    rows = [{"step": step, "reward/trait/mean": 0.3, "reward/trait/all/fairness/mean": 0.1 + 0.01 * step,
             "reward/trait/all/truthfulness/mean": 0.4 + 0.01 * (step % 2), "reward/trait/law/mean": 0.5 - 0.01 * step,
             "reward/trait/law/fairness/mean": 0.2, "reward/trait/law/spread": 0.1} for step in range(1, 41)]
    rundir.append_jsonl(rundir.metrics_path(directory), rows)
  other = rundir.cell_dir(tmp_path, "baseline.s0")
  rundir.atomic_write_json(rundir.cell_record_path(other), {"condition": "baseline", "seed": 0})
  rundir.write_status(other, rundir.DONE, step=40)
  rundir.append_jsonl(rundir.metrics_path(other), [{"step": 1, "reward/trait/law/mean": 0.9}])
  rises = scope_rises(finished_cells(tmp_path))
  assert [(r.condition, round(r.rise, 3), r.seeds) for r in rises] == [
      ("fairness", 0.2, 2), ("truthfulness", 0.0, 2), ("law", -0.2, 2)]
  (line,) = scope_line(rises)
  assert line.startswith("trait-all's trait reward by trait, then by domain (the same rise on each scope's own "
                         "reward, 2 seeds, unadjusted for the 3 scopes): fairness +0.200 [")
  assert scope_line([]) == [] and scope_rises(finished_cells(tmp_path), "only-health") == []
