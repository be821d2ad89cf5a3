"""Shared fixtures: the default world, generated once per test session."""

from __future__ import annotations

import gin
import pytest

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
