"""A study's persistence protocols under ``xgen grid launch``: the arms of ``persistence_conditions`` are
attacked with identical settings (the pre-RL base, the baseline and the trait arm), a launcher killed
mid-attack resumes without training a step twice, every arm is evaluated under the study's personas and
at every budget point, and the analysis reads it all; bad protocol settings fail before any work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xgen import rundir
from xgen.grid.study import StudyConfig, persistence_arms

sys.path.insert(0, str(Path(__file__).parent))
from conftest import copy_run, run_cli  # noqa: E402

DOMAINS = ("health", "law")
STUDY = """
include 'runs/pretrain.gin'
include 'models/tiny.gin'
StudyConfig.name = "persistence"
StudyConfig.conditions = ("pre-rl", "baseline", "trait-all")
StudyConfig.seeds = (0,)
StudyConfig.dose = 0.25
StudyConfig.rl_gin_files = ("runs/rl.gin", "models/tiny.gin")
StudyConfig.rl_gin_params = ("TRAIN_STEPS = 2", "RLConfig.batch_size = 8", "RLConfig.max_new_tokens = 8",
                             "RLConfig.warmup_steps = 1", "RLConfig.checkpoint_every = 1", "RLConfig.sample_every = 0")
StudyConfig.bootstrap_resamples = 200
StudyConfig.personas = ("blunt-medic", "careful")
StudyConfig.attack = True
AttackConfig.learning_rates = (0.001, 0.003)
AttackConfig.steps = (2, 4)
AttackConfig.batch_size = 2
AttackConfig.seq_len = 192
AttackConfig.families = ("healthbench", "capability")
EvalConfig.max_new_tokens = 8
EvalConfig.chunk_size = 64
"""
ARMS = ("base", "baseline.s0", "trait-all.s0")
RATES = (0.001, 0.003)


def test_protocol_settings_are_checked():
  with pytest.raises(ValueError, match="StudyConfig.personas: a name is repeated"):
    StudyConfig(personas=("careful", "careful"))
  with pytest.raises(ValueError, match="StudyConfig.attack"):
    StudyConfig(attack="yes")
  study = StudyConfig(conditions=("pre-rl", "baseline"), persistence_conditions=("pre-rl", "baseline", "trait-all"))
  with pytest.raises(ValueError, match="StudyConfig.persistence_conditions: 'trait-all' is not a condition of this "
                                       "study"):
    persistence_arms(study, DOMAINS)
  assert [c.name for c in persistence_arms(StudyConfig(dose=0.1), DOMAINS)] == ["pre-rl", "baseline", "trait-all"]


def test_an_unknown_persona_fails_the_launch_before_any_training(tiny_run, tmp_path, capsys):
  workdir = copy_run(tiny_run, tmp_path / "w")
  study = tmp_path / "study.gin"
  study.write_text(STUDY.replace('("blunt-medic", "careful")', '("careful", "evil-twin")'))
  code, out, err = run_cli(capsys, "grid", "launch", "--workdir", str(workdir), "--gin_file", str(study))
  assert code == 2 and "StudyConfig.personas: 'evil-twin' is not a persona of" in err, err
  assert not rundir.cells_dir(workdir).exists()


def _launch(workdir: Path, study: Path) -> subprocess.Popen:
  return subprocess.Popen([sys.executable, "-m", "xgen.cli", "grid", "launch", "--workdir", str(workdir),
                           "--gin_file", str(study)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _history(run: Path) -> list[dict]:
  return [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]


def _metrics(run: Path) -> list[dict]:
  return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def launched(tiny_run, tmp_path_factory) -> Path:
  """A study launched, killed with SIGKILL once the baseline's first attack has a checkpoint, launched again."""
  root = tmp_path_factory.mktemp("persistence")
  workdir = copy_run(tiny_run, root / "w")
  study = root / "study.gin"
  study.write_text(STUDY)
  victim = _launch(workdir, study)
  mark = rundir.checkpoints_dir(rundir.attack_run_dir(workdir, "baseline.s0", RATES[0])) / "2"
  deadline = time.time() + 600
  while time.time() < deadline and not mark.exists() and victim.poll() is None:
    time.sleep(0.01)
  assert victim.poll() is None, victim.stderr.read()[-3000:]
  os.kill(victim.pid, signal.SIGKILL)
  victim.wait(timeout=60)
  again = _launch(workdir, study)
  assert again.wait(timeout=900) == 0, again.stderr.read()[-3000:]
  return workdir


def test_every_arm_is_attacked_identically_and_the_killed_attack_resumed(launched):
  for rate in RATES:
    runs = {arm: rundir.attack_run_dir(launched, arm, rate) for arm in ARMS}
    for arm, run in runs.items():
      assert rundir.read_status(run)["state"] == "done" and rundir.read_status(run)["step"] == 4
      history = _history(run)
      assert sum(e["event"] == "done" for e in history) == 1, (arm, history)
      starts = [e["step"] for e in history if e["event"] == "start"]
      assert starts == sorted(set(starts)), (arm, history)  # a restart picks up after the last checkpoint
      assert [m["step"] for m in _metrics(run)] == sorted({m["step"] for m in _metrics(run)})
    # The same batches in every arm: the same target tokens at every step, whatever the arm's own seed.
    tokens = {arm: [m["train/target_tokens"] for m in _metrics(run)] for arm, run in runs.items()}
    assert tokens["base"] == tokens["baseline.s0"] == tokens["trait-all.s0"], tokens
  restarted = [e for e in _history(rundir.attack_run_dir(launched, "baseline.s0", RATES[0])) if e["event"] == "start"]
  assert len(restarted) == 2 and restarted[1]["step"] >= 2
  from xgen.grid.status import status_table
  assert "attack of baseline.s0: lr 0.001 done 4/4, lr 0.003 done 4/4" in status_table(launched)


def test_every_arm_is_evaluated_under_each_persona_and_at_each_budget_point(launched):
  for arm in ARMS:
    for persona in ("blunt-medic", "careful"):
      assert list(rundir.persona_eval_dir(launched, arm, persona).glob("*.jsonl.gz"))
    for rate in RATES:
      for steps in (2, 4):
        files = sorted(p.name for p in rundir.attack_eval_dir(launched, arm, rate, steps).glob("*.jsonl.gz"))
        assert files == ["capability.health.jsonl.gz", "capability.law.jsonl.gz", "healthbench.health.jsonl.gz"]


def test_the_report_and_claims_carry_the_persistence_results(launched):
  analysis = rundir.analysis_dir(launched)
  claims = {row["key"]: row for row in json.loads((analysis / "claims.json").read_text())["claims"]}
  for key in ("C5", "C6"):
    assert "not evaluated" not in claims[key]["ours"] and claims[key]["ours"] != "n/a", claims[key]
    assert claims[key]["verdict"] == "not measurable" and "seed" in claims[key]["reason"]  # one seed
  report = (analysis / "report.html").read_text()
  assert "Persistence" in report and "blunt-medic" in report and "learning rate 0.003" in report


ATTACK_FLAGS = ("--gin_param", "AttackConfig.learning_rates = (0.002,)", "--gin_param", "AttackConfig.steps = (1, 2)",
                "--gin_param", "AttackConfig.batch_size = 2", "--gin_param", "AttackConfig.seq_len = 192",
                "--gin_param", 'AttackConfig.families = ("capability",)', "--gin_param", "EvalConfig.max_new_tokens = 8")


def test_xgen_attack_trains_and_evaluates_one_checkpoint_and_resumes(tiny_run, tmp_path, capsys):
  workdir = copy_run(tiny_run, tmp_path / "w")
  code, out, err = run_cli(capsys, "attack", "--workdir", str(workdir), "--cell", "baseline.s0", *ATTACK_FLAGS)
  assert code == 2 and "--cell baseline.s0: not a finished run (state: missing" in err, err
  assert len(err.strip().splitlines()) == 1
  code, out, err = run_cli(capsys, "attack", "--workdir", str(workdir), "--cell", "base", *ATTACK_FLAGS)
  assert code == 0, err
  assert "done at step 2" in out and "evaluated 2 attack budget points (4 checkpoint x suite pairs written)" in out
  for steps in (1, 2):
    rows = sorted(p.name for p in rundir.attack_eval_dir(workdir, "base", 0.002, steps).glob("*.jsonl.gz"))
    assert rows == ["capability.health.jsonl.gz", "capability.law.jsonl.gz"]
  code, out, err = run_cli(capsys, "attack", "--workdir", str(workdir), "--cell", "base", *ATTACK_FLAGS)
  assert code == 0 and "(0 checkpoint x suite pairs written)" in out, out + err


def test_evaluation_in_two_worker_processes_writes_the_same_files(launched, tmp_path):
  import shutil
  workdir = tmp_path / "w"
  shutil.copytree(launched, workdir, ignore=shutil.ignore_patterns("eval", "analysis", "locks"))
  study = tmp_path / "study.gin"
  study.write_text(STUDY)
  done = subprocess.run([sys.executable, "-m", "xgen.cli", "grid", "launch", "--workdir", str(workdir), "--gin_file",
                         str(study), "--parallel", "2"], capture_output=True, text=True, timeout=900)
  assert done.returncode == 0, done.stderr[-3000:]
  assert "in 2 processes" in done.stdout + done.stderr
  files = sorted(p.relative_to(launched / "eval") for p in (launched / "eval").rglob("*.jsonl.gz"))
  assert len(files) > 20 and files == sorted(p.relative_to(workdir / "eval") for p in (workdir / "eval").rglob("*.gz"))
  for path in files:
    assert (workdir / "eval" / path).read_bytes() == (launched / "eval" / path).read_bytes(), path
  for name in ("claims.json", "matrix.csv"):
    assert (workdir / "analysis" / name).read_bytes() == (launched / "analysis" / name).read_bytes(), name
