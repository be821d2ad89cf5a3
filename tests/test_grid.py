"""Studies expand into named cells; launches resume, skip finished work and never train a cell
twice (two launchers at once, a launcher killed mid-grid); the executors (in-process, subprocess
pool, local Ray) all train cells; the status table."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xgen.grid.executors import Outcome, run_cells
from xgen.train.checkpoints import checkpoint_fingerprint
from xgen.data.mixtures import MixtureConfig
from xgen.grid.study import (Cell, StudyConfig, condition_name, expand_condition, mixture_bindings, study_cells,
                              study_conditions)
from xgen.grid.status import status_table

sys.path.insert(0, str(Path(__file__).parent))
from conftest import copy_run  # noqa: E402

DOMAINS = ("health", "science", "law", "business", "education", "engineering_ops")
TEST_STUDY = """
include 'runs/pretrain.gin'
include 'models/tiny.gin'
StudyConfig.name = "test"
StudyConfig.conditions = ("pre-rl", "baseline", "trait-all", "only:health")
StudyConfig.seeds = (0,)
StudyConfig.dose = 0.25
StudyConfig.rl_gin_files = ("runs/rl.gin", "models/tiny.gin")
StudyConfig.rl_gin_params = ("TRAIN_STEPS = 4", "RLConfig.batch_size = 8", "RLConfig.max_new_tokens = 8",
                             "RLConfig.warmup_steps = 1", "RLConfig.checkpoint_every = 1", "RLConfig.sample_every = 0",
                             "LossConfig.entropy_coef = 0.01")
StudyConfig.bootstrap_resamples = 200
EvalConfig.max_new_tokens = 8
EvalConfig.chunk_size = 64
"""
CELLS = ("baseline.s0", "only-health.s0", "trait-all.s0")


# --- studies -----------------------------------------------------------------------------------


def test_conditions_expand_to_readable_cells_with_their_bindings():
  study = StudyConfig(conditions=("pre-rl", "baseline", "trait-all", "only-each", "without:health+science",
                                  "reward-control", "dose:0,2,5,20"), seeds=(0, 1), dose=0.05)
  names = [c.name for c in study_conditions(study, DOMAINS)]
  assert names[:3] == ["pre-rl", "baseline", "trait-all"]
  assert [n for n in names if n.startswith("only-")] == [f"only-{d}" for d in DOMAINS]
  assert "without-health+science" in names and "reward-control" in names
  assert "dose-2" in names and "dose-20" in names
  assert "dose-5" not in names  # trains exactly like trait-all (dose 5%): not trained twice
  cells = study_cells(study, DOMAINS)
  assert [c.name for c in cells[:4]] == ["baseline.s0", "baseline.s1", "trait-all.s0", "trait-all.s1"]
  assert all(c.condition != "pre-rl" for c in cells)
  by_name = {c.name: c for c in cells}
  assert by_name["without-health+science.s1"].gin_params == (
      "DOSE = 0.05", 'TRAIT_EXCLUDE = ("health", "science", )', "SEED = 1")
  assert 'REWARD_MODE = "generic"' in by_name["reward-control.s0"].gin_params
  assert by_name["baseline.s0"].gin_params[0] == "DOSE = 0.0"
  assert len(cells) == len({c.name for c in cells}) == 2 * (len(names) - 1)


def test_the_bindings_build_the_intended_mixtures():
  from xgen.rl.config import cell_configs_from_gin
  study = StudyConfig(conditions=("without:health+science", "only:law", "reward-control", "dose:10"), seeds=(3,),
                      dose=0.05, rl_gin_params=("TRAIN_STEPS = 200",))
  conditions = {c.name: c for c in study_conditions(study, DOMAINS)}
  cells = {c.condition: c for c in study_cells(study, DOMAINS)}
  assert set(cells) == {"baseline", "without-health+science", "only-law", "reward-control", "dose-10"}
  for name, cell in cells.items():  # gin gives each cell exactly its condition's mixture, and the name back
    built = cell_configs_from_gin(cell.gin_files, cell.gin_params)
    assert built.mixture == conditions[name].mixture and built.rl.seed == 3
    assert condition_name(built.mixture, study.dose) == name
  assert conditions["without-health+science"].mixture.trait_exclude == ("health", "science")
  assert conditions["reward-control"].mixture == MixtureConfig(dose=0.05, reward_mode="generic")
  assert conditions["dose-10"].mixture == MixtureConfig(dose=0.1)


def test_one_naming_scheme_for_cells_with_and_without_a_study():
  assert condition_name(MixtureConfig(dose=0.0)) == condition_name(MixtureConfig(dose=0.0), 0.05) == "baseline"
  assert condition_name(MixtureConfig(dose=0.05), 0.05) == "trait-all"
  assert condition_name(MixtureConfig(dose=0.05)) == "dose-5"  # no study: the dose is named
  assert condition_name(MixtureConfig(dose=0.07, trait_only=("health",)), 0.05) == "only-health-dose-7"
  assert condition_name(MixtureConfig(dose=0.05, trait_exclude=("health", "science")), 0.05) == "without-health+science"
  assert condition_name(MixtureConfig(dose=0.05, reward_mode="generic"), 0.05) == "reward-control"
  assert condition_name(MixtureConfig(dose=0.001)) == "dose-0.1"
  assert mixture_bindings(MixtureConfig(dose=0.25, traits=("honesty",), standard_only=("law",))) == (
      "DOSE = 0.25", 'MixtureConfig.standard_only = ("law", )', 'MixtureConfig.traits = ("honesty", )')


def test_a_study_must_set_its_dose_and_rl_gin_its_required_macros():
  no_dose = StudyConfig(conditions=("pre-rl", "baseline", "dose:1,5"))  # needs no study dose: fine
  assert [c.name for c in study_cells(no_dose, DOMAINS)] == ["baseline.s0", "dose-1.s0", "dose-5.s0"]
  with pytest.raises(ValueError, match="StudyConfig.dose: condition 'only:health' trains at the study's dose"):
    study_cells(StudyConfig(conditions=("baseline", "only:health")), DOMAINS)
  from xgen.config import ConfigError, load_config
  with pytest.raises(ConfigError, match=r"rl.gin:\d+: DOSE is required and not set .*--gin_param 'DOSE = \.\.\.'"):
    load_config(["runs/rl.gin"], ["TRAIN_STEPS = 2", "SEED = 0"])


def test_bad_conditions_name_the_problem():
  with pytest.raises(ValueError, match="unknown domains.*'art'"):
    expand_condition("only:art", dose=0.05, domains=DOMAINS)
  with pytest.raises(ValueError, match="unknown condition 'everything'"):
    expand_condition("everything", dose=0.05, domains=DOMAINS)
  with pytest.raises(ValueError, match="not in \\[0, 100\\]"):
    expand_condition("dose:150", dose=0.05, domains=DOMAINS)
  with pytest.raises(ValueError, match="StudyConfig.seeds"):
    StudyConfig(seeds=(0, 0))


# --- launching ---------------------------------------------------------------------------------


def _study_file(tmp_path: Path) -> Path:
  path = tmp_path / "test_study.gin"
  path.write_text(TEST_STUDY)
  return path


def _launch(workdir: Path, study: Path, *extra: str) -> subprocess.Popen:
  args = [sys.executable, "-m", "xgen.cli", "grid", "launch", "--workdir", str(workdir), "--gin_file", str(study),
          *extra]
  return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, RAY_AUTH_MODE="disabled"))


def _history(workdir: Path, cell: str) -> list[dict]:
  path = workdir / "cells" / cell / "history.jsonl"
  return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _assert_no_step_trained_twice(workdir: Path) -> None:
  for cell in CELLS:
    history = _history(workdir, cell)
    starts = [e["step"] for e in history if e["event"] == "start"]
    assert sum(e["event"] == "done" for e in history) == 1, (cell, history)
    assert starts == sorted(set(starts)), (cell, history)  # each (re)start picks up after the last
    steps = [json.loads(line)["step"] for line in (workdir / "cells" / cell / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4], (cell, steps)


def _assert_study_finished(workdir: Path) -> None:
  analysis = workdir / "analysis"
  assert (analysis / "matrix.csv").exists() and (analysis / "report.html").exists()
  assert (analysis / "heatmap.png").exists() and (analysis / "matrix_by_family.md").exists()
  rows = (analysis / "matrix.csv").read_text().splitlines()
  conditions = {line.split(",")[3] for line in rows[1:]}
  assert conditions == {"pre-rl", "trait-all", "only-health"}
  for checkpoint in ("base", *CELLS):
    assert len(list((workdir / "eval" / checkpoint).glob("*.jsonl.gz"))) == 19  # 9 families x 2 + healthbench


def test_two_launchers_at_once_never_train_a_cell_twice(tiny_run, tmp_path):
  workdir = copy_run(tiny_run, tmp_path / "w")
  study = _study_file(tmp_path)
  first, second = _launch(workdir, study), _launch(workdir, study)
  for launcher in (first, second):
    assert launcher.wait(timeout=900) == 0, launcher.stderr.read()[-3000:]
  _assert_no_step_trained_twice(workdir)
  for cell in CELLS:
    assert [e["step"] for e in _history(workdir, cell) if e["event"] == "start"] == [0]
  _assert_study_finished(workdir)
  table = status_table(workdir)
  assert "3 done" in table and all(cell in table for cell in CELLS)


def test_a_killed_launcher_resumes_without_retraining(tiny_run, tmp_path):
  workdir = copy_run(tiny_run, tmp_path / "w")
  study = _study_file(tmp_path)
  victim = _launch(workdir, study)
  deadline = time.time() + 600
  while time.time() < deadline and not (workdir / "cells" / "only-health.s0" / "checkpoints" / "2").exists():
    time.sleep(0.02)
  os.kill(victim.pid, signal.SIGKILL)
  victim.wait(timeout=60)
  assert json.loads((workdir / "cells" / "only-health.s0" / "status.json").read_text())["state"] == "running"
  assert "running" in status_table(workdir)
  again = _launch(workdir, study)
  assert again.wait(timeout=900) == 0, again.stderr.read()[-3000:]
  _assert_no_step_trained_twice(workdir)
  assert [e["step"] for e in _history(workdir, "baseline.s0") if e["event"] == "start"] == [0]  # finished earlier
  restarts = [e["step"] for e in _history(workdir, "only-health.s0") if e["event"] == "start"]
  assert restarts[0] == 0 and len(restarts) == 2 and restarts[1] >= 2
  _assert_study_finished(workdir)
  # A third launch finds everything done and trains or evaluates nothing.
  marks = {p: p.stat().st_mtime for p in (workdir / "eval").rglob("*.jsonl.gz")}
  histories = {c: _history(workdir, c) for c in CELLS}
  third = _launch(workdir, study)
  assert third.wait(timeout=600) == 0, third.stderr.read()[-3000:]
  assert all(p.stat().st_mtime == m for p, m in marks.items())
  assert {c: _history(workdir, c) for c in CELLS} == histories


def _cells(workdir: Path) -> list[Cell]:
  bindings = ("TRAIN_STEPS = 2", "RLConfig.batch_size = 8", "RLConfig.max_new_tokens = 8", "RLConfig.warmup_steps = 1",
              "RLConfig.sample_every = 0", "DOSE = 0.25")
  return [Cell(f"x.s{seed}", "x", seed, ("runs/rl.gin", "models/tiny.gin"), (*bindings, f"SEED = {seed}"))
          for seed in (0, 1)]


@pytest.mark.parametrize("executor", ["subprocess", "ray"])
def test_executors_train_every_cell(executor, tiny_run, tmp_path, monkeypatch):
  if executor == "ray":
    pytest.importorskip("ray")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
  workdir = copy_run(tiny_run, tmp_path / "w")
  outcomes: list[Outcome] = []
  try:
    run_cells(executor, workdir, _cells(workdir), outcomes.append, parallel=2)
  finally:
    if executor == "ray":
      ray.shutdown()
  assert sorted((o.cell, o.state) for o in outcomes) == [("x.s0", "done"), ("x.s1", "done")], outcomes
  for cell in ("x.s0", "x.s1"):
    assert json.loads((workdir / "cells" / cell / "status.json").read_text())["state"] == "done"
    assert (workdir / "logs" / f"{cell}.log").exists()
  if executor == "subprocess":  # two cells at once train the same parameters as one after the other here
    alone = copy_run(tiny_run, tmp_path / "alone")
    run_cells("inprocess", alone, _cells(alone), lambda outcome: None)
    for cell in ("x.s0", "x.s1"):
      # the parameters' digests (cell.json's "fingerprint" is the resume key: the settings, not the parameters)
      fingerprints = [checkpoint_fingerprint(w / "cells" / cell, 2) for w in (workdir, alone)]
      assert fingerprints[0] == fingerprints[1], cell


def test_a_failing_cell_does_not_stop_the_others(tiny_run, tmp_path):
  workdir = copy_run(tiny_run, tmp_path / "w")
  good = _cells(workdir)[0]
  bad = Cell("bad.s0", "bad", 0, good.gin_files, (*good.gin_params, "MixtureConfig.trait_only = ('atlantis',)"))
  outcomes: list[Outcome] = []
  run_cells("inprocess", workdir, [bad, good], outcomes.append)
  assert [(o.cell, o.state) for o in outcomes] == [("bad.s0", "failed"), ("x.s0", "done")]
  assert "atlantis" in outcomes[0].message


def test_the_aa_arm_is_the_baseline_on_other_seeds_paired_by_the_study_seed():
  from xgen.grid.executors import train_argv
  from xgen.grid.study import AA_SEED_OFFSET
  study = StudyConfig(conditions=("baseline", "a/a"), seeds=(0, 1))
  cells = {c.name: c for c in study_cells(study, DOMAINS)}
  assert set(cells) == {"baseline.s0", "baseline.s1", "baseline-aa.s0", "baseline-aa.s1"}
  aa = cells["baseline-aa.s1"]
  assert aa.condition == "baseline-aa" and aa.seed == 1 and f"SEED = {1 + AA_SEED_OFFSET}" in aa.gin_params
  assert "DOSE = 0.0" in aa.gin_params and "SEED = 1" in cells["baseline.s1"].gin_params
  argv = train_argv(Path("W"), aa)
  assert argv[argv.index("--seed_label") + 1] == "1" and argv[argv.index("--condition") + 1] == "baseline-aa"
