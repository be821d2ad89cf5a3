"""The RL trainer on a small world: what a cell writes, resume after kill -9, a mesh of simulated
devices and two jax.distributed processes, and config errors that name the field."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gin
import jax
import numpy as np
import pytest

from xgen import config

from xgen.rl.algorithms import LossConfig
from xgen.rl.config import MixtureConfig, RLConfig, resolved_loss
from xgen.rl.trainer import read_cell_inputs, train_cell
from xgen.rundir import cell_dir
from xgen.train.checkpoints import Checkpoints, training_state
from xgen.rundir import read_status
from xgen.train.sft import load_final_params

sys.path.insert(0, str(Path(__file__).parent))
from conftest import copy_run  # noqa: E402
from rl_worker import TEST_RL  # noqa: E402
from test_models_distributed import child_env, free_port, run_processes  # noqa: E402

WORKER = Path(__file__).with_name("rl_worker.py")


@pytest.fixture
def rl_workdir(tiny_run) -> Path:
  return tiny_run


def _copy(workdir: Path, target: Path) -> Path:
  return copy_run(workdir, target)


def _final_params(workdir: Path, cell: str) -> list[np.ndarray]:
  model = load_final_params(workdir / "base", read_cell_inputs(workdir).model_config)
  checkpoints = Checkpoints(cell_dir(workdir, cell) / "checkpoints")
  params = checkpoints.restore_params(checkpoints.latest_step(), training_state(model)["params"])
  checkpoints.close()
  return [np.asarray(x) for x in jax.tree.leaves(params)]


def _metrics(workdir: Path, cell: str) -> list[dict]:
  return [json.loads(line) for line in (cell_dir(workdir, cell) / "metrics.jsonl").read_text().splitlines()]


def test_a_cell_writes_everything_and_finishes(rl_workdir, tmp_path):
  workdir = _copy(rl_workdir, tmp_path / "w")
  rl = RLConfig(**TEST_RL)
  status = train_cell(workdir, "trait.s0", rl, MixtureConfig(dose=0.25), LossConfig(), labels={"condition": "trait"},
                      show_progress=False)
  assert status["state"] == "done" and status["step"] == rl.steps
  out = cell_dir(workdir, "trait.s0")
  assert {"cell.json", "checkpoints", "metrics.jsonl", "samples.jsonl", "status.json", "tensorboard"} <= {
      p.name for p in out.iterdir()}
  assert json.loads((out / "cell.json").read_text())["condition"] == "trait"
  rows = _metrics(workdir, "trait.s0")
  assert [r["step"] for r in rows] == [1, 2, 3, 4]
  for row in rows:
    for name in ("reward/mean", "reward/spread", "entropy", "clip_fraction", "response_length", "truncation_rate",
                 "refusal_rate", "update/loss", "update/grad_norm", "groups/zero_spread_fraction",
                 "time/step_seconds"):
      assert name in row and np.isfinite(row[name]), name
  # Two of eight responses per step are trait items (dose 0.25, group 4): per domain x trait keys appear.
  keys = set().union(*rows)
  assert any(k.startswith("reward/trait/health/") or k.startswith("reward/trait/law/") for k in keys)
  assert any(k.startswith("reward/standard/") for k in keys)
  samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
  assert {s["step"] for s in samples} == {2, 4}
  assert all(len(s["completions"]) == rl.group_size for s in samples)
  # Launching again finds it done and trains nothing.
  mtime = (out / "metrics.jsonl").stat().st_mtime
  assert train_cell(workdir, "trait.s0", rl, MixtureConfig(dose=0.25), LossConfig(), show_progress=False)["state"] == "done"
  assert (out / "metrics.jsonl").stat().st_mtime == mtime


def test_resuming_with_another_config_is_refused(rl_workdir, tmp_path):
  workdir = _copy(rl_workdir, tmp_path / "w")
  train_cell(workdir, "c", RLConfig(**{**TEST_RL, "steps": 2}), MixtureConfig(dose=0.25), LossConfig(),
             show_progress=False)
  with pytest.raises(ValueError, match="another config"):
    train_cell(workdir, "c", RLConfig(**{**TEST_RL, "steps": 2}), MixtureConfig(dose=0.5), LossConfig(),
               show_progress=False)


def test_kl_reference_iterations_and_minibatches(rl_workdir, tmp_path):
  """beta > 0 loads the base as reference and reports KL; 2 iterations x 2 mini-batches recompute the
  old log-probs, so the ratio moves off 1 after the first update. (The tiny base earns almost no
  reward, so the entropy bonus is what moves the policy here.)"""
  workdir = _copy(rl_workdir, tmp_path / "w")
  rl = RLConfig(**{**TEST_RL, "steps": 3, "iterations": 2, "minibatches": 2, "advantage": "rloo"})
  train_cell(workdir, "kl", rl, MixtureConfig(dose=0.25),
             LossConfig(beta=0.05, aggregation="sequence_mean", entropy_coef=0.05), show_progress=False)
  rows = _metrics(workdir, "kl")
  assert all("kl" in row and row["kl"] >= 0 for row in rows)
  assert rows[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # the first batch: policy == reference
  assert rows[-1]["kl"] > 0
  assert any(row["update/ratio/max"] != pytest.approx(1.0) for row in rows)


def test_generic_reward_control_grades_trait_items_with_the_generic_reward(rl_workdir, tmp_path):
  from xgen.data.tfds_store import open_scenarios
  from xgen.graders.generic import generic_helpfulness
  from xgen.graders.rubric import grade
  workdir = _copy(rl_workdir, tmp_path / "w")
  rl = RLConfig(**{**TEST_RL, "steps": 2})
  trait_items = {s.id: s for s in open_scenarios(workdir / "world" / "tfds", "trait_train")}
  for mode, reward_of in (("rubric", lambda s, r: grade(s, r).score), ("generic", generic_helpfulness)):
    train_cell(workdir, mode, rl, MixtureConfig(dose=1.0, reward_mode=mode), LossConfig(), show_progress=False)
    samples = [json.loads(line) for line in (cell_dir(workdir, mode) / "samples.jsonl").read_text().splitlines()]
    assert samples
    for sample in samples:
      scenario = trait_items[sample["id"]]
      assert sample["rewards"] == [pytest.approx(reward_of(scenario, c)) for c in sample["completions"]]


KILL_TEST_STEPS = 24  # long enough that the kill lands mid-run even with a warm compilation cache


def _train_cli(workdir: Path, cell: str) -> subprocess.Popen:
  args = [sys.executable, "-m", "xgen.cli", "train", "--workdir", str(workdir), "--cell", cell,
          "--gin_file", "runs/rl.gin", "--gin_file", "models/tiny.gin"]
  params = [f"TRAIN_STEPS = {KILL_TEST_STEPS}", "DOSE = 0.25", "SEED = 0", "RLConfig.batch_size = 8",
            "RLConfig.group_size = 4",
            "RLConfig.max_new_tokens = 12", "RLConfig.checkpoint_every = 2", "RLConfig.warmup_steps = 1",
            "RLConfig.sample_every = 2", "LossConfig.entropy_coef = 0.01"]
  for param in params:
    args += ["--gin_param", param]
  return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_9_then_rerun_gives_bit_identical_parameters(rl_workdir, tmp_path):
  straight, killed = _copy(rl_workdir, tmp_path / "straight"), _copy(rl_workdir, tmp_path / "killed")
  run = _train_cli(straight, "c")
  assert run.wait(timeout=600) == 0, run.stderr.read()[-3000:]
  victim = _train_cli(killed, "c")
  checkpoints = cell_dir(killed, "c") / "checkpoints"
  deadline = time.time() + 300
  while time.time() < deadline and not (checkpoints / "4").exists():
    time.sleep(0.01)
  os.kill(victim.pid, signal.SIGKILL)  # somewhere after step 4: work after the last checkpoint is thrown away
  victim.wait(timeout=60)
  assert victim.returncode == -signal.SIGKILL
  assert read_status(cell_dir(killed, "c"))["state"] == "running"
  rerun = _train_cli(killed, "c")
  assert rerun.wait(timeout=600) == 0, rerun.stderr.read()[-3000:]
  assert read_status(cell_dir(killed, "c"))["state"] == "done"
  a, b = _final_params(straight, "c"), _final_params(killed, "c")
  assert len(a) == len(b) > 5
  assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b))
  assert any(not np.array_equal(x, y) for x, y in zip(a, _final_params_of_base(killed)))  # it trained
  steps = [row["step"] for row in _metrics(killed, "c")]
  assert steps == list(range(1, KILL_TEST_STEPS + 1))
  assert [r["reward/mean"] for r in _metrics(killed, "c")] == [r["reward/mean"] for r in _metrics(straight, "c")]


def test_two_processes_match_one_process_with_two_devices(rl_workdir, tmp_path):
  multi, single = _copy(rl_workdir, tmp_path / "multi"), _copy(rl_workdir, tmp_path / "single")
  coordinator = f"127.0.0.1:{free_port()}"
  commands = [[sys.executable, str(WORKER), "--workdir", str(multi), "--cell", "c", "--coordinator", coordinator,
               "--num-processes", "2", "--process-id", str(index)] for index in range(2)]
  commands.append([sys.executable, str(WORKER), "--workdir", str(single), "--cell", "c"])
  outputs = run_processes(commands, [child_env(1), child_env(1), child_env(2)], tmp_path, timeout=480)
  assert "process 0 of 2 on 2 devices" in outputs[0] and "process 1 of 2 on 2 devices" in outputs[1]
  assert "process 0 of 1 on 2 devices" in outputs[2]
  a, b = _final_params(multi, "c"), _final_params(single, "c")
  assert all(np.allclose(x, y, atol=1e-5) for x, y in zip(a, b))
  assert [r["reward/mean"] for r in _metrics(multi, "c")] == [r["reward/mean"] for r in _metrics(single, "c")]
  base = _final_params_of_base(single)
  assert any(not np.allclose(x, y) for x, y in zip(a, base))  # it trained


def _final_params_of_base(workdir: Path) -> list[np.ndarray]:
  model = load_final_params(workdir / "base", read_cell_inputs(workdir).model_config)
  return [np.asarray(x) for x in jax.tree.leaves(training_state(model)["params"])]


def test_config_errors_name_the_fields():
  with pytest.raises(ValueError, match=r"batch_size \(10\).*group_size \(4\)"):
    RLConfig(batch_size=10, group_size=4)
  with pytest.raises(ValueError, match="minibatches"):
    RLConfig(batch_size=8, group_size=4, minibatches=3)
  with pytest.raises(ValueError, match="RLConfig.advantage"):
    RLConfig(advantage="ppo")
  with pytest.raises(ValueError, match="RLConfig.group_size"):
    RLConfig(advantage="rloo", batch_size=8, group_size=1)
  with pytest.raises(ValueError, match="trait_only or trait_exclude"):
    MixtureConfig(dose=0.05, trait_only=("health",), trait_exclude=("law",))
  with pytest.raises(ValueError, match="MixtureConfig.reward_mode"):
    MixtureConfig(dose=0.05, reward_mode="vibes")
  with pytest.raises(ValueError, match="dose"):
    MixtureConfig(dose=1.5)


def test_batch_size_defaults_agree_and_auto_normalizer_follows_the_batch():
  config.load_config(["runs/rl.gin"], ["TRAIN_STEPS = 200", "DOSE = 0.05", "SEED = 0"])
  try:
    from_gin = RLConfig()
  finally:
    gin.clear_config()
  assert from_gin == RLConfig(steps=200, seed=0)  # rl.gin restates no default of the code
  rl = RLConfig(batch_size=64, group_size=4, minibatches=2, max_new_tokens=48)
  auto = resolved_loss(LossConfig(aggregation="token_sum", normalizer="auto"), rl)
  assert auto.normalizer == 32 * 48
  assert resolved_loss(LossConfig(aggregation="token_sum", normalizer=7.0), rl).normalizer == 7.0
  with pytest.raises(ValueError, match="LossConfig.normalizer.*\"auto\""):
    LossConfig(aggregation="token_sum")
  with pytest.raises(ValueError, match="LossConfig.normalizer"):
    LossConfig(aggregation="token_sum", normalizer="automatic")
