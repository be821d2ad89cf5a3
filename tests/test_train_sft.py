"""Pretraining: it learns, it resumes bit-identically after kill -9, it stops cleanly on NaN."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from xgen.models.config import ModelConfig, model_config_from_gin
from xgen.train import sft
from xgen.train.checkpoints import training_state
from xgen.train.packing import Example
from xgen.rundir import read_status
from xgen.train.config import SFTConfig
from xgen.train.lifecycle import TrainingDiverged
from xgen.train.sft import load_final_params, run_sft
from xgen.world.build import build_world
from xgen.world.config import WorldConfig

TINY = ModelConfig(vocab_size=64, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=64, max_seq_len=64)


def _copy_task(count: int = 64) -> list[Example]:
  """Sequences whose second half repeats the first: learnable in a few dozen steps."""
  rng = np.random.default_rng(0)
  examples = []
  for _ in range(count):
    half = rng.integers(10, 64, size=6)
    ids = np.concatenate([[2], half, [7], half]).astype(np.int32)
    mask = np.concatenate([np.zeros(8), np.ones(6)]).astype(np.float32)
    examples.append(Example(ids=ids, loss_mask=mask))
  return examples


def _params(out_dir: Path, config: ModelConfig) -> list[np.ndarray]:
  return [np.asarray(x) for x in jax.tree.leaves(training_state(load_final_params(out_dir, config)))]


def test_sft_learns_a_copy_task(tmp_path):
  config = SFTConfig(steps=150, batch_size=8, seq_len=64, learning_rate=1e-2, warmup_steps=10, checkpoint_every=50,
                     log_every=10)
  status = run_sft(TINY, config, _copy_task(), tmp_path, show_progress=False)
  assert status["state"] == "done" and status["step"] == 150
  rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert rows[0]["train/loss"] > 3.0
  assert rows[-1]["train/loss"] < 0.5 and rows[-1]["train/accuracy"] > 0.9
  assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


def test_non_finite_loss_stops_with_a_clear_status(tmp_path, monkeypatch):
  real_step = sft.train_step
  calls = {"n": 0}

  def poisoned(model, optimizer, batch):
    calls["n"] += 1
    metrics = real_step(model, optimizer, batch)
    if calls["n"] == 7:
      metrics["loss"] = np.float32("nan")
    return metrics

  monkeypatch.setattr(sft, "train_step", poisoned)
  config = SFTConfig(steps=20, batch_size=4, seq_len=64, warmup_steps=1, checkpoint_every=5, log_every=1)
  with pytest.raises(TrainingDiverged, match="step 7"):
    run_sft(TINY, config, _copy_task(), tmp_path, show_progress=False)
  status = read_status(tmp_path)
  assert status["state"] == "diverged" and "non-finite loss" in status["reason"]
  saved = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
  assert saved == [5]


def test_resuming_with_another_config_is_refused(tmp_path):
  config = SFTConfig(steps=10, batch_size=4, seq_len=64, warmup_steps=1, checkpoint_every=5)
  run_sft(TINY, config, _copy_task(), tmp_path, show_progress=False)
  longer = SFTConfig(steps=20, batch_size=4, seq_len=64, warmup_steps=1, checkpoint_every=5, learning_rate=1e-2)
  with pytest.raises(ValueError, match="another config, world or base"):
    run_sft(TINY, longer, _copy_task(), tmp_path, show_progress=False)


def _pretrain(workdir: Path, *params: str) -> subprocess.Popen:
  args = [sys.executable, "-m", "xgen.cli", "pretrain", "--workdir", str(workdir), "--gin_file", "runs/pretrain.gin",
          "--gin_file", "models/tiny.gin"]
  for param in ("SFTConfig.steps = 60", "SFTConfig.batch_size = 4", "SFTConfig.seq_len = 192",
                "SFTConfig.checkpoint_every = 10", "SFTConfig.warmup_steps = 5", "SFTConfig.log_every = 5", *params):
    args += ["--gin_param", param]
  return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("pretrain")
  build_world(WorldConfig(domains=("health",), habit_conversations=10, skill_conversations=10, fact_repeats=2,
                          vocab_size=600), workdir)
  return workdir


def _copy_world(source: Path, target: Path) -> Path:
  import shutil
  shutil.copytree(source / "world", target / "world")
  return target


def test_kill_9_then_rerun_gives_bit_identical_parameters(small_world, tmp_path):
  straight = _copy_world(small_world, tmp_path / "straight")
  killed = _copy_world(small_world, tmp_path / "killed")
  run = _pretrain(straight)
  assert run.wait(timeout=600) == 0, run.stderr.read()

  victim = _pretrain(killed)
  checkpoints = killed / "base" / "checkpoints"
  deadline = time.time() + 300
  while time.time() < deadline and not (checkpoints / "20").exists():
    time.sleep(0.05)
  os.kill(victim.pid, signal.SIGKILL)
  victim.wait(timeout=60)
  assert victim.returncode == -signal.SIGKILL
  assert read_status(killed / "base")["state"] == "running"
  rerun = _pretrain(killed)
  assert rerun.wait(timeout=600) == 0, rerun.stderr.read()
  assert read_status(killed / "base")["state"] == "done"

  config_path = straight / "base" / "config.gin"
  assert config_path.exists()
  from xgen.data.tokenizer import Tokenizer
  vocab = Tokenizer.load(straight / "world" / "tokenizer.model").vocab_size
  model_config = model_config_from_gin("models/tiny.gin", vocab_size=vocab)
  a, b = _params(straight / "base", model_config), _params(killed / "base", model_config)
  assert len(a) == len(b) > 10
  assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b))
  steps = [json.loads(line)["step"] for line in (killed / "base" / "metrics.jsonl").read_text().splitlines()]
  assert steps == sorted(set(steps)) and steps[-1] == 60
