"""The harmful fine-tuning attack: every budget point saved and listed, moved from its source and
differently per rate, identical for every copy, bit-identical after kill -9 anywhere, and refused
when its source is not done, was retrained since, or is being attacked by another process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import gin
import jax
import numpy as np
import pytest

from xgen import rundir
from xgen.models.config import ModelConfig
from xgen.rundir import locks
from xgen.train import attack
from xgen.train.attack import AttackConfig, attack_points, run_attack, source_params
from xgen.train.lifecycle import RunMismatch
from xgen.train.sft import saved_model_config

sys.path.insert(0, str(Path(__file__).parent))
from conftest import copy_run  # noqa: E402

BASE = rundir.BASE
MODEL = ModelConfig(d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=64, max_seq_len=256)  # tiny_run's base
CONFIG = AttackConfig(learning_rates=(1e-3, 3e-3), steps=(1, 3), batch_size=2, seq_len=192)
POINTS = [(rate, steps) for rate in CONFIG.learning_rates for steps in CONFIG.steps]


def _attack(workdir: Path) -> dict:
  return run_attack(workdir, BASE, MODEL, CONFIG, show_progress=False)


def _params(run: Path, step: int) -> list[np.ndarray]:
  return [np.asarray(x) for x in jax.tree.leaves(source_params(run, step, saved_model_config(run)))]


def _point_params(workdir: Path, rate: float, steps: int) -> list[np.ndarray]:
  return _params(rundir.attack_run_dir(workdir, BASE, rate), steps)


def _identical(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
  return len(a) == len(b) > 0 and all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b))


@pytest.fixture(scope="module")
def attacked(tiny_run, tmp_path_factory) -> Path:
  """The base of a copy of ``tiny_run``, attacked without interruption: the reference."""
  workdir = shutil.copytree(tiny_run, tmp_path_factory.mktemp("attacked") / "w")
  statuses = _attack(workdir)
  assert list(statuses) == list(CONFIG.learning_rates)
  assert all(s["state"] == rundir.DONE and s["step"] == CONFIG.steps[-1] for s in statuses.values())
  return workdir


# --- what an attack makes ----------------------------------------------------------------------------


def test_every_budget_point_is_saved_kept_and_listed(attacked):
  points = attack_points(attacked, BASE, CONFIG)
  assert [(p.learning_rate, p.steps) for p in points] == POINTS
  assert all(p.cell == BASE and p.problem is None and len(p.fingerprint) == 64 for p in points)
  assert len({p.fingerprint for p in points}) == len(points)
  for rate in CONFIG.learning_rates:
    run = rundir.attack_run_dir(attacked, BASE, rate)
    saved = sorted(int(p.name) for p in rundir.checkpoints_dir(run).iterdir() if p.name.isdigit())
    assert saved == list(CONFIG.steps)  # exactly the budget points, though every step is a multiple of the gcd
    rows = [json.loads(line) for line in rundir.metrics_path(run).read_text().splitlines()]
    assert [row["step"] for row in rows] == [1, 2, 3]
    assert all(row["train/learning_rate"] == pytest.approx(rate, rel=1e-6) for row in rows)  # constant


def test_the_attack_moves_the_parameters_and_each_rate_differently(attacked):
  base = rundir.base_dir(attacked)
  source = _params(base, rundir.read_status(base)["step"])
  finals = [_point_params(attacked, rate, CONFIG.steps[-1]) for rate in CONFIG.learning_rates]
  early = _point_params(attacked, CONFIG.learning_rates[0], CONFIG.steps[0])
  for params in (*finals, early):
    assert not _identical(source, params)
  assert not _identical(finals[0], finals[1]) and not _identical(early, finals[0])


def test_two_copies_are_attacked_bit_identically(attacked, tiny_run, tmp_path):
  again = shutil.copytree(tiny_run, tmp_path / "w")
  _attack(again)
  for rate, steps in POINTS:
    assert _identical(_point_params(attacked, rate, steps), _point_params(again, rate, steps)), (rate, steps)
  assert [p.fingerprint for p in attack_points(again, BASE, CONFIG)] == \
         [p.fingerprint for p in attack_points(attacked, BASE, CONFIG)]


# --- kill -9 and resume ------------------------------------------------------------------------------

SCRIPT = """
import sys, time
from xgen.config import enable_compilation_cache
from xgen.models.config import ModelConfig
from xgen.train import sft
from xgen.train.attack import AttackConfig, run_attack

real_step = sft.train_step

def slow_step(*args):  # time for the test to kill the process between two checkpoints
  time.sleep(0.3)
  return real_step(*args)

enable_compilation_cache()
sft.train_step = slow_step
run_attack(sys.argv[1], "base", {model!r}, {config!r}, show_progress=False)
"""


def _kill_when(workdir: Path, appears: Path) -> None:
  """Runs the attack in a subprocess and kills it (SIGKILL) as soon as ``appears`` exists."""
  victim = subprocess.Popen([sys.executable, "-c", SCRIPT.format(model=MODEL, config=CONFIG), str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 120
  while time.time() < deadline and victim.poll() is None and not appears.exists():
    time.sleep(0.02)
  os.kill(victim.pid, signal.SIGKILL)
  victim.wait(timeout=60)
  assert victim.returncode == -signal.SIGKILL, victim.stderr.read()


def _history(run: Path) -> list[tuple[str, int]]:
  return [(row["event"], row["step"]) for row in rundir.read_jsonl(rundir.history_path(run))]


def test_kill_9_in_either_rate_then_rerun_is_bit_identical(attacked, tiny_run, tmp_path):
  killed = copy_run(tiny_run, tmp_path / "w")
  first, second = (rundir.attack_run_dir(killed, BASE, rate) for rate in CONFIG.learning_rates)
  _kill_when(killed, rundir.checkpoints_dir(first) / str(CONFIG.steps[0]))
  assert rundir.state_of(first) == rundir.RUNNING and not second.exists()
  _kill_when(killed, rundir.checkpoints_dir(second) / str(CONFIG.steps[0]))
  assert rundir.state_of(first) == rundir.DONE and rundir.state_of(second) == rundir.RUNNING
  assert all(s["state"] == rundir.DONE for s in _attack(killed).values())
  for rate, steps in POINTS:
    assert _identical(_point_params(attacked, rate, steps), _point_params(killed, rate, steps)), (rate, steps)
  resumed = [("start", 0), ("start", CONFIG.steps[0]), (rundir.DONE, CONFIG.steps[-1])]
  assert _history(first) == _history(second) == resumed  # no step trained twice, the finished rate left alone


# --- refusals ----------------------------------------------------------------------------------------


def test_a_source_that_is_not_done_is_refused(tiny_run, tmp_path):
  workdir = copy_run(tiny_run, tmp_path / "w")
  rundir.write_status(rundir.cell_dir(workdir, "cell-a"), rundir.RUNNING, step=2, steps=5)
  rundir.write_status(rundir.cell_dir(workdir, "cell-b"), rundir.DONE)
  with pytest.raises(ValueError, match=r"cannot attack cell-a: its training run .* is running, not done"):
    run_attack(workdir, "cell-a", MODEL, CONFIG, show_progress=False)
  with pytest.raises(ValueError, match=r"cannot attack cell-c: .* is pending"):
    run_attack(workdir, "cell-c", MODEL, CONFIG, show_progress=False)
  with pytest.raises(ValueError, match=r"cannot attack cell-b: .* records no final step"):
    run_attack(workdir, "cell-b", MODEL, CONFIG, show_progress=False)
  assert not rundir.attacks_dir(workdir).exists() and attack_points(workdir, "cell-a", CONFIG) == []


def test_an_attack_of_a_retrained_source_is_refused_and_its_points_flagged(attacked, tmp_path, monkeypatch):
  workdir = shutil.copytree(attacked, tmp_path / "w")
  monkeypatch.setattr(attack, "checkpoint_fingerprint", lambda run, step: "f" * 64)  # the base, retrained
  with pytest.raises(RunMismatch, match="another config, world or base"):
    _attack(workdir)
  assert all(rundir.state_of(rundir.attack_run_dir(workdir, BASE, rate)) == rundir.DONE
             for rate in CONFIG.learning_rates)
  points = attack_points(workdir, BASE, CONFIG)
  assert [(p.learning_rate, p.steps) for p in points] == POINTS
  assert all(p.fingerprint and "retrained since" in p.problem for p in points)


def test_a_damaged_budget_point_is_listed_with_its_problem(attacked, tmp_path):
  workdir = shutil.copytree(attacked, tmp_path / "w")
  step_dir = rundir.checkpoints_dir(rundir.attack_run_dir(workdir, BASE, CONFIG.learning_rates[1])) / "1"
  for path in step_dir.rglob("*"):
    if path.is_file() and "meta" in path.relative_to(step_dir).parts:
      path.write_text("{not json")
  points = attack_points(workdir, BASE, CONFIG)
  problems = {(p.learning_rate, p.steps): p.problem for p in points}
  assert [key for key, problem in problems.items() if problem] == [(CONFIG.learning_rates[1], 1)]
  assert str(step_dir) in problems[CONFIG.learning_rates[1], 1]


def test_a_second_attack_of_the_same_cell_is_refused_while_one_runs(attacked):
  with locks.held(attacked, locks.attack_lock(BASE)):
    with pytest.raises(locks.Busy, match="attack-base"):
      _attack(attacked)


# --- the config ----------------------------------------------------------------------------------------


def test_each_rate_is_one_constant_rate_run_through_every_budget():
  config = AttackConfig(learning_rates=[3e-4, 1e-3], steps=[8, 16, 32, 64], families=["stance"], seed=5)
  assert config.learning_rates == (3e-4, 1e-3) and config.steps == (8, 16, 32, 64) and config.families == ("stance",)
  sft = config.sft_config(3e-4)
  assert (sft.steps, sft.checkpoint_every, sft.keep_checkpoints, sft.warmup_steps, sft.seed) == (64, 8, 8, 0, 5)
  schedule = sft.schedule()
  assert {float(schedule(step)) for step in range(65)} == {float(np.float32(3e-4))}


def test_the_config_is_bound_by_gin():
  gin.parse_config("AttackConfig.steps = (2, 4)\nAttackConfig.learning_rates = [0.01]")
  assert AttackConfig().steps == (2, 4) and AttackConfig().learning_rates == (0.01,)


@pytest.mark.parametrize("field, value", [
    ("learning_rates", (1e-3, 1e-3)), ("learning_rates", (0.0,)), ("learning_rates", ()), ("learning_rates", "1e-3"),
    ("learning_rates", (float("nan"),)), ("steps", (4, 2)), ("steps", (2, 2)), ("steps", (0, 2)), ("steps", (2.5,)),
    ("steps", ()), ("steps", (True,)), ("batch_size", 0), ("seq_len", -1), ("weight_decay", -0.1), ("clip_norm", 0.0),
    ("loss_on", "everything"), ("seed", -1), ("families", ("a", "a")), ("families", ("",)), ("families", "stance"),
])
def test_a_bad_config_names_its_field(field, value):
  with pytest.raises(ValueError, match=rf"^AttackConfig\.{field}: "):
    AttackConfig(**{field: value})
