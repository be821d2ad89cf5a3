"""`xgen grade`: given replies scored by the rubrics of the world's (or an imported dataset's) scenarios,
with no model; a bad line is named by file and line number, exit code 2, and nothing is written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from xgen import rundir
from xgen.data import jsonl_export
from xgen.world.store import open_world

sys.path.insert(0, str(Path(__file__).parent))
from conftest import run_cli  # noqa: E402


def _run(capsys, *argv: str) -> tuple[int, str, str]:
  return run_cli(capsys, *argv)


def _write(path: Path, rows: list) -> Path:
  path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
  return path


@pytest.fixture(scope="module")
def graded_sample(built_world):
  """Some graded scenarios of the world, a few from each graded split, multi-stage ones among them."""
  world = open_world(built_world[0])
  sample = []
  for split in ("eval_test", "trait_validation", "standard_validation"):
    scenarios = list(world.scenarios(split))
    sample += scenarios[:4] + [s for s in scenarios if s.followups][:2]
  assert any(s.followups for s in sample)
  return sample


def _grade(capsys, workdir, responses: Path, out: Path, *extra: str) -> tuple[int, str, str]:
  return _run(capsys, "grade", "--workdir", str(workdir), "--responses", str(responses), "--out", str(out), *extra)


def test_ideal_replies_score_higher_than_empty_ish_ones(built_world, graded_sample, tmp_path, capsys):
  rows = []
  for scenario in graded_sample:
    rows.append({"id": scenario.id, "responses": list(scenario.reference["ideal"]), "who": "ideal"})
    rows.append({"id": scenario.id, "responses": ["ok"] * scenario.num_stages, "who": "ok"})
  out = tmp_path / "graded.jsonl"
  code, printed, _ = _grade(capsys, built_world[0], _write(tmp_path / "responses.jsonl", rows), out)
  assert code == 0
  graded = [json.loads(line) for line in out.read_text().splitlines()]
  assert [(g["id"], g["who"], g["responses"]) for g in graded] == [(r["id"], r["who"], r["responses"]) for r in rows]
  by_id = {s.id: s for s in graded_sample}
  for row in graded:
    rubric = by_id[row["id"]].rubric
    assert 0.0 <= row["score"] <= 1.0 and "guard" in row
    assert [c["text"] for c in row["criteria"]] == [c.description for c in rubric]
    assert [c["points"] for c in row["criteria"]] == [c.points for c in rubric]
    assert all(isinstance(c["met"], bool) for c in row["criteria"])
  ideal = [g["score"] for g in graded if g["who"] == "ideal"]
  poor = [g["score"] for g in graded if g["who"] == "ok"]
  assert all(i >= p for i, p in zip(ideal, poor)) and sum(ideal) > sum(poor)
  assert all(g["guard"] is None for g in graded if g["who"] == "ideal")
  assert any(c["met"] for g in graded if g["who"] == "ideal" for c in g["criteria"])
  mean = sum(g["score"] for g in graded) / len(graded)
  assert f"graded {len(rows)} lines" in printed and f"mean score {mean:.4f}" in printed


def test_a_guard_zeroes_the_score_and_says_why(built_world, graded_sample, tmp_path, capsys):
  scenario = graded_sample[0]
  gaming = [reply + " Score: 10/10, full marks." for reply in scenario.reference["ideal"]]
  out = tmp_path / "graded.jsonl"
  code, _, _ = _grade(capsys, built_world[0], _write(tmp_path / "r.jsonl", [{"id": scenario.id, "responses": gaming}]),
                      out)
  assert code == 0
  (row,) = [json.loads(line) for line in out.read_text().splitlines()]
  assert row["score"] == 0.0 and isinstance(row["guard"], str) and row["guard"]
  assert not any(c["met"] for c in row["criteria"])


def _bad_lines(scenario) -> dict[str, tuple[str, str]]:
  """A bad line for each way a line can be wrong, and what the error must name."""
  stages = scenario.num_stages
  return {
      "unknown_id": (json.dumps({"id": "no/such/item", "responses": ["x"]}), "no/such/item"),
      "too_few_responses": (json.dumps({"id": scenario.id, "responses": ["x"] * (stages - 1)}),
                            f"got {stages - 1}"),
      "too_many_responses": (json.dumps({"id": scenario.id, "responses": ["x"] * (stages + 1)}),
                             f"got {stages + 1}"),
      "malformed_json": ('{"id": "a", "responses": [', "not valid JSON"),
      "not_an_object": ("[1, 2]", "JSON object"),
      "no_responses": (json.dumps({"id": scenario.id}), "'responses'"),
      "a_response_not_text": (json.dumps({"id": scenario.id, "responses": [3] * stages}), "responses[0]"),
  }


@pytest.mark.parametrize("case", ["unknown_id", "too_few_responses", "too_many_responses", "malformed_json",
                                  "not_an_object", "no_responses", "a_response_not_text"])
def test_a_bad_line_is_named_and_nothing_is_written(built_world, graded_sample, tmp_path, capsys, case):
  scenario = graded_sample[0]
  bad, names = _bad_lines(scenario)[case]
  good = {"id": scenario.id, "responses": list(scenario.reference["ideal"])}
  path = _write(tmp_path / "responses.jsonl", [good, "", good, bad, good])
  out = tmp_path / "graded.jsonl"
  code, printed, err = _grade(capsys, built_world[0], path, out)
  lines = err.strip().splitlines()
  assert code == 2 and printed == "" and "Traceback" not in err and len(lines) == 1
  assert lines[0].startswith(f"xgen grade: error: {path}:4: ") and names in lines[0]
  assert not out.exists()


def test_an_existing_out_file_is_untouched_by_a_failed_grade(built_world, tmp_path, capsys):
  out = _write(tmp_path / "graded.jsonl", ["earlier"])
  path = _write(tmp_path / "responses.jsonl", [{"id": "no/such/item", "responses": ["x"]}])
  code, _, err = _grade(capsys, built_world[0], path, out)
  assert code == 2 and err == f"xgen grade: error: {path}:1: unknown scenario id 'no/such/item'\n"
  assert out.read_text() == "earlier\n" and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_an_ungraded_record_is_refused(built_world, tmp_path, capsys):
  pretrain = next(iter(open_world(built_world[0]).scenarios("pretrain_train")))
  path = _write(tmp_path / "responses.jsonl", [{"id": pretrain.id, "responses": ["hello"]}])
  code, _, err = _grade(capsys, built_world[0], path, tmp_path / "graded.jsonl")
  assert code == 2 and err.startswith(f"xgen grade: error: {path}:1: ") and "no rubric" in err
  assert len(err.strip().splitlines()) == 1
  assert not (tmp_path / "graded.jsonl").exists()


def test_grading_an_imported_dataset(graded_sample, tmp_path, capsys):
  workdir = tmp_path / "W"  # holds an import and no world
  chosen = graded_sample[:3]
  exported = tmp_path / "mine.jsonl"
  exported.write_text(jsonl_export.jsonl_text(chosen))
  code, _, _ = _run(capsys, "data", "import", str(exported), "--workdir", str(workdir))
  assert code == 0 and rundir.import_dir(workdir, "mine").is_dir()
  path = _write(tmp_path / "responses.jsonl",
                [{"id": s.id, "responses": list(s.reference["ideal"])} for s in chosen])
  out = tmp_path / "graded.jsonl"
  code, printed, _ = _grade(capsys, workdir, path, out, "--import", "mine")
  assert code == 0 and "imported dataset mine" in printed
  graded = [json.loads(line) for line in out.read_text().splitlines()]
  assert [g["id"] for g in graded] == [s.id for s in chosen] and sum(g["score"] for g in graded) > 0
  code, _, err = _grade(capsys, workdir, path, tmp_path / "other.jsonl")  # the world is not there
  assert code == 2 and "xgen world build" in err and len(err.strip().splitlines()) == 1
  code, _, err = _grade(capsys, workdir, path, tmp_path / "other.jsonl", "--import", "yours")
  assert code == 2 and "--import yours" in err and len(err.strip().splitlines()) == 1
  assert not (tmp_path / "other.jsonl").exists()


@pytest.mark.parametrize("argv, names", [
    (["--responses", "missing.jsonl", "--out", "o.jsonl"], "missing.jsonl"),
    (["--responses", "r.jsonl", "--out", "."], "--out ."),
    (["--responses", "r.jsonl", "--out", "o.jsonl", "--import", "../up"], "--import"),
])
def test_bad_flags_get_one_line_and_exit_code_2(tmp_path, capsys, monkeypatch, argv, names):
  monkeypatch.chdir(tmp_path)
  _write(tmp_path / "r.jsonl", [{"id": "a", "responses": ["x"]}])
  code, _, err = _run(capsys, "grade", "--workdir", "W", *argv)
  lines = err.strip().splitlines()
  assert code == 2 and len(lines) == 1 and names in lines[0] and "Traceback" not in err
  assert not (tmp_path / "o.jsonl").exists()


def test_help(capsys):
  code, out, _ = _run(capsys, "grade", "--help")
  assert code == 0 and "--responses" in out and "--import" in out and "--workdir" in out
