"""The `xgen` command: help everywhere, one clear line and exit code 2 for bad input."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from xgen.data.tfds_store import open_scenarios

sys.path.insert(0, str(Path(__file__).parent))
from conftest import run_cli  # noqa: E402


def _run(capsys, *argv: str) -> tuple[int, str, str]:
  return run_cli(capsys, *argv)


@pytest.mark.parametrize("argv", [["--help"], ["world", "--help"], ["world", "build", "--help"],
                                  ["world", "stats", "--help"], ["data", "import", "--help"]])
def test_help_everywhere(capsys, argv):
  code, out, _ = _run(capsys, *argv)
  assert code == 0 and "usage: xgen" in out
  if len(argv) > 2:
    assert "--workdir" in out and "--gin_file" in out and "--gin_param" in out


@pytest.mark.parametrize("argv, names", [
    (["world", "build", "--workdir", "W", "--frobnicate"], "--frobnicate"),
    (["world", "build"], "--workdir"),
    (["world", "build", "--workdir", "W", "--gin_param", "WorldConfig.colour = 3"], "colour"),
    (["world", "build", "--workdir", "W", "--gin_param", "Nothing.at_all = 3"], "Nothing"),
    (["world", "build", "--workdir", "W", "--gin_file", "no/such.gin"], "no/such.gin"),
    (["world", "build", "--workdir", "W", "--gin_param", "WorldConfig.domains = ('mars',)"], "WorldConfig.domains"),
    (["world", "stats", "--workdir", "nowhere"], "xgen world build"),
    (["data", "import", "missing.jsonl", "--workdir", "W"], "missing.jsonl"),
])
def test_bad_input_gets_one_line_and_exit_code_2(capsys, tmp_path, monkeypatch, argv, names):
  monkeypatch.chdir(tmp_path)
  code, out, err = _run(capsys, *argv)
  assert code == 2
  lines = err.strip().splitlines()
  assert len(lines) == 1 and names in lines[0] and "Traceback" not in err
  assert not (tmp_path / "W" / "world").exists()


def test_console_script_reports_a_bad_gin_file_without_traceback(tmp_path):
  bad = tmp_path / "bad.gin"
  bad.write_text("WorldConfig.seed = 1\nWorldConfig.sizes = 3\n")
  result = subprocess.run([sys.executable, "-m", "xgen.cli", "world", "build", "--workdir", str(tmp_path / "W"),
                           "--gin_file", str(bad)], capture_output=True, text=True, timeout=120)
  assert result.returncode == 2
  assert "Traceback" not in result.stderr
  assert str(bad) in result.stderr and "sizes" in result.stderr


def test_world_build_and_stats(capsys, tmp_path):
  code, out, _ = _run(capsys, "world", "build", "--workdir", str(tmp_path),
                      "--gin_param", "WorldConfig.domains = ('health', 'law')")
  assert code == 0 and "built the world" in out
  assert (tmp_path / "world" / "config.gin").read_text().count("WorldConfig.domains") == 1
  code, out, _ = _run(capsys, "world", "stats", "--workdir", str(tmp_path))
  assert code == 0
  assert "healthbench" in out and "law" in out and "vocabulary" in out


def _record(i: int, **changes) -> dict:
  record = {"id": f"user/{i}", "source": "eval", "domain": "health", "category": "my_suite", "split": "test",
            "messages": [{"role": "user", "content": f"What is {i} + {i}?"}],
            "rubric": [{"description": "right", "points": 2, "check": "answer_matches", "args": {"value": 2 * i}},
                       {"description": "short", "points": 1, "check": "format_matches",
                        "args": {"format": "bare_number"}}]}
  record.update(changes)
  return record


def test_data_import_round_trip(capsys, tmp_path):
  path = tmp_path / "mine.jsonl"
  path.write_text("\n".join(json.dumps(_record(i)) for i in range(5)) + "\n")
  code, out, _ = _run(capsys, "data", "import", str(path), "--workdir", str(tmp_path / "W"))
  assert code == 0 and "imported 5 records" in out
  source = open_scenarios(tmp_path / "W" / "imports" / "mine" / "tfds", "eval_test")
  assert sorted(s.id for s in source) == [f"user/{i}" for i in range(5)]


def test_data_import_names_the_bad_line_and_writes_nothing(capsys, tmp_path):
  path = tmp_path / "mine.jsonl"
  lines = [json.dumps(_record(i)) for i in range(4)]
  lines[2] = json.dumps(_record(2, messages=[{"role": "robot", "content": "hi"}]))
  path.write_text("\n".join(lines) + "\n")
  code, _, err = _run(capsys, "data", "import", str(path), "--workdir", str(tmp_path / "W"))
  assert code == 2
  assert f"{path}:3" in err and "messages[0].role" in err
  assert not (tmp_path / "W" / "imports" / "mine").exists()


def test_data_import_holds_the_names_lock(capsys, tmp_path):
  from xgen import rundir
  from xgen.rundir import locks
  path, workdir = tmp_path / "mine.jsonl", tmp_path / "W"
  path.write_text("\n".join(json.dumps(_record(i)) for i in range(2)) + "\n")
  with locks.held(workdir, locks.import_lock("mine")):  # another import of "mine" is writing
    code, out, err = _run(capsys, "data", "import", str(path), "--workdir", str(workdir))
    assert code == 75 and out == ""
    assert err == (f"xgen data import: import-mine is being worked on by another process "
                   f"(lock {rundir.lock_path(workdir, locks.import_lock('mine'))})\n")
    assert not rundir.import_dir(workdir, "mine").exists()
    code, out, _ = _run(capsys, "data", "import", str(path), "--workdir", str(workdir), "--name", "other")
    assert code == 0 and "imported 2 records" in out  # the lock is the name's, not the whole imports/
  code, out, _ = _run(capsys, "data", "import", str(path), "--workdir", str(workdir))
  assert code == 0 and "imported 2 records" in out
  longest = "n" * rundir.MAX_NAME_LENGTH  # the longest --name has a lock too
  assert rundir.lock_path(workdir, locks.import_lock(longest)).name == f"import-{longest}.lock"


def test_exit_busy_is_defined_once_in_grid_and_imported_by_the_cli():
  import xgen
  from xgen import cli
  from xgen.grid import executors
  root = Path(xgen.__file__).parent
  assert [p.relative_to(root).as_posix() for p in sorted(root.rglob("*.py")) if "EXIT_BUSY =" in p.read_text()] == [
      "grid/executors.py"]
  assert cli.EXIT_BUSY == executors.EXIT_BUSY


@pytest.mark.parametrize("module, name", [("xgen.world.people", "first_name"), ("xgen.train.step", "eval_step"),
                                          ("xgen.models.sampler", "sample_step"), ("xgen.graders.text", "ngrams")])
def test_unused_helpers_are_gone(module, name):
  assert not hasattr(importlib.import_module(module), name)


def test_gin_includes_resolve_beside_a_runs_folder(tmp_path, monkeypatch):
  """The README's quickstart writes runs/ into the working directory; gin's package lookup of
  `include 'runs/pretrain.gin'` must not trip over it."""
  from xgen import config
  import xgen.grid.study  # noqa: F401  (registers the configurables the study binds)
  import xgen.models.config  # noqa: F401
  import xgen.train.config  # noqa: F401
  import xgen.world.config  # noqa: F401
  import xgen.eval.crosseval  # noqa: F401
  import xgen.train.attack  # noqa: F401
  (tmp_path / "runs" / "quickstart").mkdir(parents=True)
  monkeypatch.chdir(tmp_path)
  monkeypatch.syspath_prepend(str(tmp_path))
  config.load_config(["studies/quickstart.gin"])  # raised TypeError from inside gin before
  from xgen.train.config import SFTConfig
  assert SFTConfig().steps == 90  # gin/studies/quickstart.gin's own pretraining length, so every include was read
