"""Shared fixtures: the default world, generated once per test session."""

from __future__ import annotations

import os
import tempfile

import gin
import pytest

# The `xgen` subprocesses that tests start share one compilation cache, private to this session.
os.environ.setdefault("XGEN_COMPILATION_CACHE", tempfile.mkdtemp(prefix="xgen-jax-cache-"))

from xgen.world.config import WorldConfig
from xgen.world.generate import generate_world


@pytest.fixture(autouse=True)
def no_gin_bindings_leak():
  """Gin bindings are process-global: each test starts and ends without any."""
  gin.clear_config()
  yield
  gin.clear_config()


@pytest.fixture(scope="session")
def default_config() -> WorldConfig:
  return WorldConfig()


@pytest.fixture(scope="session")
def default_world(default_config):
  """The default world's records by split, in memory (no files)."""
  return generate_world(default_config)


@pytest.fixture(scope="session")
def built_world(tmp_path_factory, default_config):
  """The default world built on disk once: (workdir, manifest)."""
  from xgen.world.build import build_world
  workdir = tmp_path_factory.mktemp("world")
  return workdir, build_world(default_config, workdir)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
  """A run directory with a two-domain world and a briefly pretrained tiny base (no cells): the
  starting point of the RL, evaluation and grid tests. Copy it (``copy_run``) before writing."""
  from xgen.models.config import ModelConfig
  from xgen.train.pretrain import pretrain
  from xgen.train.config import SFTConfig
  from xgen.world.build import build_world
  workdir = tmp_path_factory.mktemp("tiny_run")
  build_world(WorldConfig(domains=("health", "law"), habit_conversations=6, skill_conversations=6, fact_repeats=2,
                          standard_train=24, trait_train=4, eval_items=4, attack_conversations=4, vocab_size=600),
              workdir)
  model = ModelConfig(d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=64, max_seq_len=256)
  pretrain(workdir, model, SFTConfig(steps=6, batch_size=4, seq_len=192, warmup_steps=1, checkpoint_every=6),
           show_progress=False)
  return workdir


def copy_run(source, target):
  """A writable copy of a run directory's world and base."""
  import shutil
  from pathlib import Path
  target = Path(target)
  target.mkdir(parents=True)
  for name in ("world", "base"):
    shutil.copytree(Path(source) / name, target / name)
  return target


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
  """``xgen ARGV`` in this process: (exit code, stdout, stderr); argparse's own exits count as codes."""
  from xgen.cli import main
  try:
    code = main(list(argv))
  except SystemExit as exit:  # argparse's --help and usage errors
    code = exit.code
  out, err = capsys.readouterr()
  return code, out, err
