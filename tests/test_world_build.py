"""`xgen world build`: deterministic bytes, a complete directory or none, and stats that read it back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xgen.data.tfds_store import open_scenarios
from xgen.world import build as build_module
from xgen.world.build import build_world, data_files
from xgen.world.config import WorldConfig
from xgen.world.stats import format_stats, world_stats
from xgen.world.store import read_manifest


def _cli_build(workdir: Path, *params: str) -> subprocess.CompletedProcess:
  args = [sys.executable, "-m", "xgen.cli", "world", "build", "--workdir", str(workdir)]
  for param in params:
    args += ["--gin_param", param]
  return subprocess.run(args, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONHASHSEED": "123"})


def _bytes(workdir: Path) -> dict[str, bytes]:
  root = workdir / "world"
  return {str(p.relative_to(root)): p.read_bytes() for p in data_files(root)}


def test_same_seed_gives_byte_identical_files_across_processes(built_world, tmp_path):
  workdir, manifest = built_world
  result = _cli_build(tmp_path / "again")
  assert result.returncode == 0, result.stderr
  first, again = _bytes(workdir), _bytes(tmp_path / "again")
  assert len(first) == 8  # seven array_record splits and the tokenizer
  assert first == again
  assert read_manifest(tmp_path / "again")["world_sha256"] == manifest["world_sha256"]


def test_another_seed_gives_different_data(built_world, tmp_path):
  workdir, manifest = built_world
  result = _cli_build(tmp_path / "other", "WorldConfig.seed = 1")
  assert result.returncode == 0, result.stderr
  first, other = _bytes(workdir), _bytes(tmp_path / "other")
  assert first.keys() == other.keys()
  assert all(first[name] != other[name] for name in first)
  assert read_manifest(tmp_path / "other")["seed"] == 1


def test_world_directory_layout(built_world):
  workdir, manifest = built_world
  world = workdir / "world"
  for name in ("tokenizer.model", "personas.json", "manifest.json", "config.gin"):
    assert (world / name).is_file(), name
  assert manifest["counts"]["eval_test"] == len(open_scenarios(world / "tfds", "eval_test"))
  personas = json.loads((world / "personas.json").read_text())
  from xgen.world.personas import PERSONAS, personas_from_record
  assert list(personas_from_record(personas, "personas.json").values()) == list(PERSONAS)
  assert not [p for p in workdir.iterdir() if p.name.startswith(".world")]


def test_stats_read_back_every_record(built_world):
  workdir, manifest = built_world
  rows = world_stats(workdir)
  assert sum(r.count for r in rows) == sum(manifest["counts"].values())
  assert {r.source for r in rows} == {"pretrain", "standard", "trait", "eval", "attack"}
  assert all(r.prompt_tokens > 3 and r.reply_tokens > 0 for r in rows)
  table = format_stats(rows, vocab_size=2048)
  assert "eval" in table and "healthbench" in table and "vocabulary 2048" in table


def test_a_failed_build_leaves_the_old_world_untouched(built_world, tmp_path, monkeypatch):
  small = WorldConfig(domains=("health",), habit_conversations=4, skill_conversations=6)
  manifest = build_world(small, tmp_path)
  before = _bytes(tmp_path)

  def fail(*args, **kwargs):
    raise RuntimeError("disk full")

  monkeypatch.setattr(build_module, "write_scenarios", fail)
  with pytest.raises(RuntimeError, match="disk full"):
    build_world(WorldConfig(domains=("law",), attack_domains=("law",)), tmp_path)
  assert _bytes(tmp_path) == before
  assert read_manifest(tmp_path)["world_sha256"] == manifest["world_sha256"]
  assert [p.name for p in tmp_path.iterdir() if p.name != ".locks"] == ["world"]  # no staging folder left


def test_entity_counts_are_checked_against_the_names_a_kind_can_form():
  """WorldConfig refuses, up front, exactly the entity counts the generator cannot name: health's lab
  tests form 120 names, so the four pools may use all 120 of them, and one more is refused."""
  from xgen.world.knowledge import POOLS, build_knowledge
  pools = dict(known_per_kind=94, unknown_train_per_kind=8, unknown_eval_per_kind=8, invented_per_kind=10)
  knowledge = build_knowledge(WorldConfig(domains=("health",), **pools))["health"]
  names = [entity.name for pool in POOLS for entity in knowledge.entities[pool]]
  assert len(names) == len(set(names)) == 2 * 120  # two kinds (drugs and lab tests), 120 entities each
  with pytest.raises(ValueError, match=r"WorldConfig.known_per_kind \+ .*121 entities per kind.*120 names"):
    WorldConfig(domains=("health",), **{**pools, "known_per_kind": 95})
  law = dict(domains=("law",), attack_domains=("law",))  # statutes and regulations: 128 names each
  assert WorldConfig(**law, **{**pools, "known_per_kind": 102}).known_per_kind == 102
  with pytest.raises(ValueError, match="129 entities per kind"):
    WorldConfig(**law, **{**pools, "known_per_kind": 103})
