"""`xgen world export`: every split as JSONL that `xgen data import` reads back into equal scenarios, files
written whole or not at all, and one line with exit code 2 for bad input."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from xgen import rundir
from xgen.data import jsonl_export
from xgen.data.jsonl_import import read_jsonl
from xgen.data.tfds_store import list_splits, open_scenarios
from xgen.world.store import open_world

sys.path.insert(0, str(Path(__file__).parent))
from conftest import run_cli  # noqa: E402


def _run(capsys, *argv: str) -> tuple[int, str, str]:
  return run_cli(capsys, *argv)


def _world_splits(workdir) -> dict[str, dict]:
  """The built world's scenarios: split -> id -> scenario."""
  world = open_world(workdir)
  return {split: {s.id: s for s in world.scenarios(split)} for split in list_splits(rundir.tfds_dir(world.directory))}


@pytest.fixture(scope="module")
def world_splits(built_world):
  return _world_splits(built_world[0])


def test_every_split_round_trips_through_data_import(built_world, world_splits, tmp_path, capsys):
  workdir, _ = built_world
  out_dir = tmp_path / "export"
  code, out, _ = _run(capsys, "world", "export", "--workdir", str(workdir), "--out", str(out_dir))
  assert code == 0 and f"exported {sum(map(len, world_splits.values()))} scenarios" in out
  assert sorted(p.name for p in out_dir.iterdir()) == sorted(f"{split}.jsonl" for split in world_splits)
  imports = tmp_path / "W"
  for split, scenarios in world_splits.items():
    path = jsonl_export.split_file(out_dir, split)
    assert [s.id for s in read_jsonl(path)] == sorted(scenarios)  # id order, so twins are neighbours
    code, out, _ = _run(capsys, "data", "import", str(path), "--workdir", str(imports))
    assert code == 0 and f"imported {len(scenarios)} records" in out
    data_dir = rundir.tfds_dir(rundir.import_dir(imports, split))
    assert list_splits(data_dir) == [split]
    imported = {s.id: s for s in open_scenarios(data_dir, split)}
    assert imported == scenarios  # same ids, and every field equal: stages, rubric, reference, tags
  graded = [s for split in world_splits.values() for s in split.values() if s.rubric]
  assert any(s.followups for s in graded) and any("twin" in s.reference for s in graded)
  assert all(s.reference["ideal"] for s in graded)


def test_a_line_is_the_inverse_of_the_imports_parse(world_splits):
  from xgen.data.schema import Scenario
  for scenarios in world_splits.values():
    for scenario in list(scenarios.values())[:20]:
      line = jsonl_export.scenario_line(scenario)
      assert "\n" not in line and Scenario.from_json(line) == scenario
  sample = list(world_splits["trait_train"].values())[:10]
  text = jsonl_export.jsonl_text(reversed(sample))
  assert text.endswith("\n") and text.count("\n") == len(sample)
  assert text.splitlines() == [s.to_json() for s in sorted(sample, key=lambda s: s.id)]


def test_export_replaces_its_own_files_and_keeps_others(built_world, world_splits, tmp_path, capsys):
  out_dir = tmp_path / "export"
  out_dir.mkdir()
  (out_dir / "notes.txt").write_text("mine")
  (out_dir / "trait_train.jsonl").write_text("stale\n")
  code, _, _ = _run(capsys, "world", "export", "--workdir", str(built_world[0]), "--out", str(out_dir))
  assert code == 0
  assert (out_dir / "notes.txt").read_text() == "mine"
  assert {s.id for s in read_jsonl(out_dir / "trait_train.jsonl")} == set(world_splits["trait_train"])
  assert not [p.name for p in out_dir.iterdir() if p.name.startswith(".")]


def test_a_killed_export_leaves_no_half_file(built_world, world_splits, tmp_path, capsys, monkeypatch):
  out_dir = tmp_path / "export"
  replace, renamed = os.replace, []

  def killed_on_the_third_file(source, target):
    if len(renamed) == 2:
      raise KeyboardInterrupt
    replace(source, target)
    renamed.append(target)

  monkeypatch.setattr(os, "replace", killed_on_the_third_file)
  code, _, err = _run(capsys, "world", "export", "--workdir", str(built_world[0]), "--out", str(out_dir))
  monkeypatch.undo()
  assert code == 130 and "interrupted" in err
  files = sorted(out_dir.iterdir())
  assert [p.name for p in files] == sorted(os.path.basename(p) for p in renamed)  # no temporary file left
  for path in files:  # the files that were written are complete
    assert {s.id for s in read_jsonl(path)} == set(world_splits[path.name.removesuffix(".jsonl")])


@pytest.mark.parametrize("case, names", [("no_world", "xgen world build"), ("out_is_a_file", "is a file"),
                                         ("out_inside_a_file", "which is a file")])
def test_bad_input_gets_one_line_and_exit_code_2(built_world, tmp_path, capsys, case, names):
  workdir = built_world[0] if case != "no_world" else tmp_path / "empty"
  (tmp_path / "file").write_text("x")
  out = {"no_world": tmp_path / "export", "out_is_a_file": tmp_path / "file",
         "out_inside_a_file": tmp_path / "file" / "export"}[case]
  code, out_text, err = _run(capsys, "world", "export", "--workdir", str(workdir), "--out", str(out))
  lines = err.strip().splitlines()
  assert code == 2 and out_text == ""
  assert len(lines) == 1 and names in lines[0] and "Traceback" not in err
  assert not (tmp_path / "export").exists() and (tmp_path / "file").read_text() == "x"


def test_help(capsys):
  code, out, _ = _run(capsys, "world", "export", "--help")
  assert code == 0 and "--out" in out and "--workdir" in out
