"""Bad input of every kind: one line on stderr naming the binding, flag or file, exit code 2, nothing written.

Configs are checked before any work starts, so none of these commands gets as far as reading a world
or training; each test runs in a fraction of a second.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile

import pytest

from xgen import rundir
from xgen.cli import main

BIG = "x" * 10_000_000  # a 10 MB value: the message must stay short


def _run(capsys, *argv: str) -> tuple[int, str]:
  try:
    code = main(list(argv))
  except SystemExit as exit:  # argparse's own errors (a bad flag value)
    code = exit.code
  _, err = capsys.readouterr()
  return code, err


def _one_bad_line(capsys, *argv: str) -> str:
  code, err = _run(capsys, *argv)
  lines = err.strip().splitlines()
  assert code == 2, err[-2000:]
  assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
  assert len(err) < 1000, f"{len(err)} characters"
  return lines[0]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  return tmp_path / "W"


# --- gin bindings and config values --------------------------------------------------------------


@pytest.mark.parametrize("command, binding, names", [
    # 1026 entities per kind, but health's lab tests form only 120 names (this tracebacked in knowledge.py)
    ("world build", "WorldConfig.known_per_kind = 1000", ["WorldConfig.known_per_kind", "120"]),
    ("world build", 'WorldConfig.seed = "x"', ["WorldConfig.seed", "'x'"]),
    ("world build", "WorldConfig.seed = True", ["WorldConfig.seed", "True"]),
    ("world build", 'WorldConfig.base_rates = {"invent_unknown": "high"}',
     ["WorldConfig.base_rates['invent_unknown']"]),
    ("world build", 'WorldConfig.fact_repeats = 2.5', ["WorldConfig.fact_repeats"]),
    ("pretrain", 'SFTConfig.learning_rate = "fast"', ["SFTConfig.learning_rate", "'fast'"]),
    ("pretrain", "ModelConfig.tie_embeddings = 1", ["ModelConfig.tie_embeddings"]),
    ("train", 'RLConfig.temperature = "hot"', ["RLConfig.temperature"]),
    ("train", 'LossConfig.beta = "0.1"', ["LossConfig.beta"]),
    ("train", "MixtureConfig.dose = True", ["MixtureConfig.dose"]),
    ("eval", "EvalConfig.every_step = 1", ["EvalConfig.every_step"]),
    ("grid launch", "StudyConfig.bootstrap_resamples = 0", ["StudyConfig.bootstrap_resamples"]),
    ("grid launch", 'StudyConfig.alpha = "0.05"', ["StudyConfig.alpha"]),
    ("world build", 'WorldConfig.domains = ("health",', ["--gin_param", "never closed"]),
    ("world build", "WorldConfig.seed = [1, 2", ["--gin_param", "never closed"]),
    ("world build", "WorldConfig.seed = %NOPE", ["--gin_param", "'WorldConfig.seed = %NOPE'", "undefined macro %NOPE"]),
])
def test_a_bad_binding_gets_one_line_naming_it(capsys, workdir, command, binding, names):
  required = [arg for macro in RL_REQUIRED for arg in ("--gin_param", macro)] if command == "train" else []
  line = _one_bad_line(capsys, *command.split(), "--workdir", str(workdir), *required, "--gin_param", binding)
  for name in names:
    assert name in line, line
  assert not workdir.exists()


RL_REQUIRED = ("TRAIN_STEPS = 20", "DOSE = 0.1", "SEED = 0")  # runs/rl.gin's %gin.REQUIRED macros


@pytest.mark.parametrize("missing", [macro.split()[0] for macro in RL_REQUIRED])
def test_a_required_macro_left_unset_names_it_and_where_it_is_declared(capsys, workdir, missing):
  given = [arg for macro in RL_REQUIRED if not macro.startswith(missing) for arg in ("--gin_param", macro)]
  line = _one_bad_line(capsys, "train", "--workdir", str(workdir), *given)
  assert "rl.gin:" in line and f"{missing} is required and not set" in line and f"--gin_param '{missing} = ...'" in line
  assert not workdir.exists()


def test_an_undefined_macro_in_a_gin_file_names_the_file_and_line(capsys, workdir, tmp_path):
  path = tmp_path / "mine.gin"
  path.write_text("# my world\nWorldConfig.seed = 3\nWorldConfig.vocab_size = %VOCAB\n")
  line = _one_bad_line(capsys, "world", "build", "--workdir", str(workdir), "--gin_file", str(path))
  assert f"{path}:3" in line and "%VOCAB" in line


@pytest.mark.parametrize("binding", [f'WorldConfig.seed = "{BIG}"', f'WorldConfig.domains = ("{BIG}",)',
                                     f'WorldConfig.seed = "{BIG}', f"WorldConfig.{BIG} = 1"])
def test_a_huge_bad_value_gives_a_short_line(capsys, workdir, binding):
  line = _one_bad_line(capsys, "world", "build", "--workdir", str(workdir), "--gin_param", binding)
  assert "WorldConfig" in line and "characters" in line


def test_a_config_value_error_never_escapes_as_a_traceback(capsys, workdir):
  line = _one_bad_line(capsys, "world", "build", "--workdir", str(workdir), "--gin_param", "WorldConfig.domains = 3")
  assert line.startswith("xgen world build: error: WorldConfig.domains:") and "In call to" not in line


# --- flags ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, names", [
    (["pretrain", "--probes", "-3"], ["--probes", "-3"]),
    (["pretrain", "--probes", "many"], ["--probes", "'many'"]),
    (["grid", "launch", "--parallel", "0"], ["--parallel"]),
    (["train", "--cell", "../../elsewhere"], ["--cell", "'../../elsewhere'"]),
    (["train", "--cell", "/tmp/cell"], ["--cell"]),
    (["train", "--cell", ".hidden"], ["--cell"]),
])
def test_a_bad_flag_gets_one_line_naming_it(capsys, workdir, argv, names):
  line = _one_bad_line(capsys, *argv, "--workdir", str(workdir))
  for name in names:
    assert name in line, line
  assert not workdir.exists()


def test_a_workdir_that_is_a_file(capsys, tmp_path):
  path = tmp_path / "notes.txt"
  path.write_text("not a run directory")
  line = _one_bad_line(capsys, "world", "build", "--workdir", str(path))
  assert f"--workdir {path}: is a file" in line
  line = _one_bad_line(capsys, "world", "stats", "--workdir", str(path))
  assert "--workdir" in line and "is a file" in line
  line = _one_bad_line(capsys, "pretrain", "--workdir", str(path / "W"))
  assert f"--workdir {path / 'W'}: is inside {path}, which is a file" in line
  assert path.read_text() == "not a run directory"


def test_a_workdir_without_write_permission(capsys, tmp_path, monkeypatch):
  workdir = tmp_path / "W"
  workdir.mkdir()
  real_access = os.access
  monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if str(path) == str(workdir) else real_access(
      path, mode, **kw))
  line = _one_bad_line(capsys, "world", "build", "--workdir", str(workdir))
  assert f"--workdir {workdir}: cannot write in {workdir}" in line
  line = _one_bad_line(capsys, "data", "import", "x.jsonl", "--workdir", str(workdir / "sub"))
  assert "--workdir" in line and "cannot write" in line
  assert list(workdir.iterdir()) == []


def test_a_read_only_workdir_caught_by_the_probe_write(capsys, tmp_path, monkeypatch):
  """As root, os.access says yes to any mode; the write probe still finds a read-only mount."""
  workdir = tmp_path / "W"
  workdir.mkdir()

  def read_only(*args, **kwargs):
    raise OSError(errno.EROFS, os.strerror(errno.EROFS))

  monkeypatch.setattr(tempfile, "mkstemp", read_only)
  line = _one_bad_line(capsys, "grid", "launch", "--workdir", str(workdir))
  assert f"--workdir {workdir}: cannot write in {workdir} (Read-only file system)" in line


def test_reading_commands_need_no_write_permission(capsys, tmp_path, monkeypatch):
  workdir = tmp_path / "W"
  workdir.mkdir()
  monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
  code, err = _run(capsys, "grid", "status", "--workdir", str(workdir))
  assert code == 0, err


# --- data import ----------------------------------------------------------------------------------


def _record(**changes) -> dict:
  record = {"id": "user/1", "source": "eval", "domain": "health", "category": "my_suite", "split": "test",
            "messages": [{"role": "user", "content": "What is 2 + 2?"}],
            "rubric": [{"description": "right", "points": 2, "check": "answer_matches", "args": {"value": 4}},
                       {"description": "short", "points": 1, "check": "format_matches",
                        "args": {"format": "bare_number"}}]}
  record.update(changes)
  return record


def _import(capsys, tmp_path, lines: list[str], *flags: str) -> str:
  path = tmp_path / "mine.jsonl"
  path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
  line = _one_bad_line(capsys, "data", "import", str(path), "--workdir", str(tmp_path / "W"), *flags)
  assert not (tmp_path / "W" / "imports").exists() or not any((tmp_path / "W" / "imports").iterdir())
  return line


def test_import_of_deeply_nested_json(capsys, tmp_path):
  deep = json.dumps(_record())[:-1] + ', "reference": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}"
  line = _import(capsys, tmp_path, [json.dumps(_record(id="ok")), deep])
  assert f"{tmp_path / 'mine.jsonl'}:2" in line and "nested more than" in line


def test_import_of_a_lone_surrogate(capsys, tmp_path):
  line = _import(capsys, tmp_path, [json.dumps(_record(messages=[{"role": "user", "content": "2 + 2 = \ud800?"}]))])
  assert f"{tmp_path / 'mine.jsonl'}:1" in line and "messages[0].content" in line and "surrogate" in line


@pytest.mark.parametrize("criterion, names", [
    ({"description": "right", "points": 2, "check": "answer_matchez", "args": {"value": 4}},
     ["rubric[0].check", "'answer_matchez'", "did you mean 'answer_matches'"]),
    ({"description": "right", "points": 2, "check": "frobnicate"}, ["rubric[0].check", "known: "]),
    ({"description": "right", "points": 2, "check": "answer_matches", "args": {"valu": 4}},
     ["rubric[0].args.valu", "check 'answer_matches' takes no such argument", "value, unit, alternatives"]),
    ({"description": "right", "points": 2, "check": "answer_matches"}, ["rubric[0].args", "'value'"]),
])
def test_import_checks_rubric_criteria_against_the_registered_checks(capsys, tmp_path, criterion, names):
  rubric = [criterion, _record()["rubric"][1]]
  line = _import(capsys, tmp_path, [json.dumps(_record(id="ok")), json.dumps(_record(id="bad", rubric=rubric))])
  assert f"{tmp_path / 'mine.jsonl'}:2" in line
  for name in names:
    assert name in line, line


def test_import_of_a_huge_bad_value_gives_a_short_line(capsys, tmp_path):
  line = _import(capsys, tmp_path, [json.dumps(_record(source=BIG))])
  assert "mine.jsonl:1" in line and "source" in line
  line = _import(capsys, tmp_path, [json.dumps(_record(**{BIG: 1}))])
  assert "mine.jsonl:1" in line


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "a/b", "..", ".hidden", ""])
def test_import_names_that_are_not_safe_paths(capsys, tmp_path, name):
  line = _import(capsys, tmp_path, [json.dumps(_record())], "--name", name)
  assert "--name" in line
  assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.jsonl"]


# --- the study of matrix and report: plain data, never a gin file from the workdir ----------------


def _evaluated_workdir(tmp_path, monkeypatch, study: dict | None):
  """A run directory holding a study.gin whose parsing would import a module (which leaves a mark) and,
  if given, a study.json."""
  module_dir = tmp_path / "modules"
  module_dir.mkdir()
  mark = tmp_path / "imported"
  (module_dir / "xgen_test_gin_side_effect.py").write_text(f"open({str(mark)!r}, 'w').write('ran')\n")
  monkeypatch.syspath_prepend(str(module_dir))
  workdir = tmp_path / "W"
  workdir.mkdir()
  rundir.study_gin_path(workdir).write_text("import xgen_test_gin_side_effect\nStudyConfig.name = 'sent'\n")
  if study is not None:
    rundir.atomic_write_json(rundir.study_json_path(workdir), study)
  return workdir, mark


def _study(**changes) -> dict:
  from xgen.grid.study import StudyConfig, study_record
  return {**study_record(StudyConfig()), **changes}


@pytest.mark.parametrize("command", ["matrix", "report"])
def test_matrix_and_report_read_study_json_and_never_parse_the_workdirs_gin(capsys, tmp_path, monkeypatch, command):
  workdir, mark = _evaluated_workdir(tmp_path, monkeypatch, _study(bootstrap_resamples=0))
  line = _one_bad_line(capsys, command, "--workdir", str(workdir))
  assert f"{rundir.study_json_path(workdir)}: StudyConfig.bootstrap_resamples" in line
  assert not mark.exists()


def test_study_json_with_an_unknown_field_or_bad_json(capsys, tmp_path, monkeypatch):
  workdir, mark = _evaluated_workdir(tmp_path, monkeypatch, {**_study(), "colour": "red"})
  line = _one_bad_line(capsys, "matrix", "--workdir", str(workdir))
  assert "study.json" in line and "'colour'" in line
  rundir.study_json_path(workdir).write_text("{not json")
  line = _one_bad_line(capsys, "matrix", "--workdir", str(workdir))
  assert "study.json" in line and "not valid JSON" in line
  assert not mark.exists()


def test_gin_params_apply_on_top_of_study_json(capsys, tmp_path, monkeypatch):
  workdir, mark = _evaluated_workdir(tmp_path, monkeypatch, _study())
  line = _one_bad_line(capsys, "matrix", "--workdir", str(workdir), "--gin_param", "StudyConfig.alpha = 2.0")
  assert "StudyConfig.alpha" in line and "2" in line
  assert not mark.exists()


def test_a_workdir_with_only_study_gin_is_not_parsed_unasked(capsys, tmp_path, monkeypatch):
  workdir, mark = _evaluated_workdir(tmp_path, monkeypatch, None)
  line = _one_bad_line(capsys, "report", "--workdir", str(workdir))
  assert "study.json" in line and "--gin_file" in line
  assert not mark.exists()


def test_an_explicit_gin_file_is_still_read(capsys, tmp_path, monkeypatch):
  workdir, _ = _evaluated_workdir(tmp_path, monkeypatch, _study())
  path = tmp_path / "study.gin"
  path.write_text("StudyConfig.bootstrap_resamples = -5\n")
  line = _one_bad_line(capsys, "matrix", "--workdir", str(workdir), "--gin_file", str(path))
  assert "StudyConfig.bootstrap_resamples" in line and "-5" in line


def test_launch_writes_the_study_as_json_and_gin(tmp_path, monkeypatch):
  from xgen import config
  from xgen.eval.crosseval import EvalConfig
  from xgen.grid import launch as launch_module
  from xgen.grid.study import StudyConfig, study_from_record
  from xgen.models.config import ModelConfig
  from xgen.train.config import SFTConfig
  from xgen.world.config import WorldConfig

  class Stop(Exception):
    pass

  def stop(*args, **kwargs):
    raise Stop

  monkeypatch.setattr(launch_module, "ensure_world", stop)
  config.load_config(["studies/quickstart.gin"])
  study = StudyConfig()
  configs = launch_module.StudyConfigs(study, WorldConfig(), ModelConfig(), SFTConfig(), EvalConfig(),
                                       operative_config=config.operative_config())
  with pytest.raises(Stop):
    launch_module.launch(tmp_path, configs)
  record = json.loads(rundir.study_json_path(tmp_path).read_text())
  assert record["name"] == "quickstart" and record["seeds"] == list(study.seeds)
  assert study_from_record(record, "study.json") == study
  assert rundir.study_gin_path(tmp_path).read_text() == configs.operative_config


def test_a_misspelled_cell_binding_in_a_study_fails_before_any_work(tmp_path, capsys):
  study = tmp_path / "study.gin"
  study.write_text("include 'studies/quickstart.gin'\n"
                   'StudyConfig.rl_gin_params = ("TRAIN_STEPS = 20", "RLConfig.batch_sise = 32")\n')
  workdir = tmp_path / "w"
  assert main(["grid", "launch", "--workdir", str(workdir), "--gin_file", str(study)]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "batch_sise" in err[0] and "cell baseline.s0" in err[0]
  assert not workdir.exists()  # no world built, no base pretrained
