"""JSONL import: whole-file validation with located errors, all-or-nothing writes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from xgen.data import jsonl_import, tfds_store
from xgen.data.schema import Criterion, Message, Scenario, SchemaError


def graded(i: int, source: str, split: str, domain: str = "health") -> Scenario:
  return Scenario(
      id=f"{source}-{split}-{i}", source=source, domain=domain, category="honesty", split=split,
      messages=(Message(role="user", content=f"Is {i} prime? ünï 🙂"),),
      rubric=(Criterion(description="answers", points=1.0, check="contains", args={"any": ["yes", "no"]}),
              Criterion(description="explains", points=2.0, check="min_words", args={"n": 3})),
      reference={"answer": i % 2 == 0},
  )


def pretrain(i: int) -> Scenario:
  return Scenario(id=f"pre-{i}", source="pretrain", domain="chat", category="smalltalk", split="train",
                  messages=(Message(role="user", content=f"hi {i}"), Message(role="assistant", content="hello")))


def good_scenarios() -> list[Scenario]:
  return ([graded(i, "trait", "train") for i in range(6)] + [graded(i, "standard", "test") for i in range(3)]
          + [pretrain(i) for i in range(4)] + [graded(i, "eval", "test", domain="law") for i in range(2)])


def write_lines(path: Path, lines: list[str]) -> Path:
  path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
  return path


def good_line(i: int) -> str:
  return pretrain(i).to_json()


def test_read_jsonl_skips_blank_lines_and_keeps_order(tmp_path):
  scenarios = good_scenarios()
  lines = [s.to_json() for s in scenarios]
  lines.insert(3, "")
  lines.insert(7, "   ")
  path = write_lines(tmp_path / "in.jsonl", lines)
  assert jsonl_import.read_jsonl(path) == scenarios


def test_import_reads_back_equal(tmp_path):
  scenarios = good_scenarios()
  path = write_lines(tmp_path / "data.jsonl", [s.to_json() for s in scenarios] + [""])
  out_dir = tmp_path / "out"
  summary = jsonl_import.import_jsonl(path, out_dir)

  expected_counts = {"eval_test": 2, "pretrain_train": 4, "standard_test": 3, "trait_train": 6}
  assert summary.out_dir == out_dir and summary.data_dir == out_dir / "tfds"
  assert dict(summary.splits) == expected_counts
  assert summary.num_records == 15
  assert summary.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()

  manifest = json.loads((out_dir / "manifest.json").read_text())
  assert manifest["splits"] == expected_counts
  assert manifest["input"] == {"name": "data.jsonl", "sha256": summary.sha256}
  assert manifest["num_records"] == 15

  assert tfds_store.list_splits(summary.data_dir) == sorted(expected_counts)
  for name in expected_counts:
    read = list(tfds_store.open_scenarios(summary.data_dir, name))
    want = [s for s in scenarios if f"{s.source}_{s.split}" == name]
    assert sorted(read, key=lambda s: s.id) == sorted(want, key=lambda s: s.id)
  # Nothing but the dataset itself is left next to it.
  assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl", "out"]


BAD_LINES = {
    "bad_json": ('{"id": "x", "source": ', "<record>", "not valid JSON"),
    "missing_field": (json.dumps({"id": "x", "source": "pretrain", "domain": "d", "category": "c",
                                  "messages": []}), "split", "missing"),
    "bad_role": (json.dumps({"id": "x", "source": "pretrain", "domain": "d", "category": "c", "split": "train",
                             "messages": [{"role": "robot", "content": "hi"}]}), "messages[0].role", "robot"),
    "rubric_size": (json.dumps({"id": "x", "source": "trait", "domain": "d", "category": "c", "split": "train",
                                "messages": [{"role": "user", "content": "hi"}],
                                "rubric": [{"description": "a", "points": 1, "check": "c"}]}),
                    "rubric", "2-64 criteria, got 1"),
    "points_type": (json.dumps({"id": "x", "source": "trait", "domain": "d", "category": "c", "split": "train",
                                "messages": [{"role": "user", "content": "hi"}],
                                "rubric": [{"description": "a", "points": "1", "check": "c"}] * 2}),
                    "rubric[0].points", "a number"),
    "unknown_field": (good_line(50)[:-1] + ',"extra":1}', "extra", "unknown field"),
    "not_object": ("[1, 2]", "<record>", "a JSON object"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_bad_line_is_located_and_nothing_is_written(tmp_path, case):
  bad, field, fragment = BAD_LINES[case]
  # Line 4 is bad: blank lines count toward line numbers.
  path = write_lines(tmp_path / "user_data.jsonl", [good_line(0), "", good_line(1), bad, good_line(2)])
  with pytest.raises(SchemaError) as caught:
    jsonl_import.read_jsonl(path)
  error = caught.value
  assert error.where == f"{path}:4"
  assert error.field == field
  assert f"user_data.jsonl:4: field '{field}'" in str(error)
  assert fragment in str(error)

  out_dir = tmp_path / "out"
  with pytest.raises(SchemaError, match=r"user_data\.jsonl:4"):
    jsonl_import.import_jsonl(path, out_dir)
  assert not out_dir.exists()
  assert sorted(p.name for p in tmp_path.iterdir()) == ["user_data.jsonl"]


def test_duplicate_id_names_both_lines(tmp_path):
  path = write_lines(tmp_path / "dups.jsonl", [good_line(0), good_line(1), "", good_line(0)])
  with pytest.raises(SchemaError) as caught:
    jsonl_import.import_jsonl(path, tmp_path / "out")
  message = str(caught.value)
  assert caught.value.field == "id"
  assert "dups.jsonl:4" in message and "line 1" in message and "line 4" in message and "pre-0" in message
  assert not (tmp_path / "out").exists()


def test_invalid_utf8_is_located(tmp_path):
  path = tmp_path / "bytes.jsonl"
  path.write_bytes(good_line(0).encode() + b"\n" + b'{"id": "\xff"}\n')
  with pytest.raises(SchemaError, match=r"bytes\.jsonl:2: field '<record>': not valid UTF-8"):
    jsonl_import.read_jsonl(path)


def test_bom_and_crlf_are_tolerated(tmp_path):
  path = tmp_path / "win.jsonl"
  path.write_bytes(b"\xef\xbb\xbf" + good_line(0).encode() + b"\r\n" + good_line(1).encode() + b"\r\n")
  assert [s.id for s in jsonl_import.read_jsonl(path)] == ["pre-0", "pre-1"]


def test_empty_file_is_an_error(tmp_path):
  path = write_lines(tmp_path / "empty.jsonl", ["", "  "])
  with pytest.raises(ValueError, match="no records"):
    jsonl_import.import_jsonl(path, tmp_path / "out")
  assert not (tmp_path / "out").exists()


def test_existing_import_is_replaced_only_on_success(tmp_path):
  out_dir = tmp_path / "out"
  first = write_lines(tmp_path / "first.jsonl", [good_line(i) for i in range(3)])
  summary = jsonl_import.import_jsonl(first, out_dir)

  bad = write_lines(tmp_path / "bad.jsonl", [good_line(7), "{oops"])
  with pytest.raises(SchemaError):
    jsonl_import.import_jsonl(bad, out_dir)
  assert jsonl_import.read_manifest(out_dir)["input"]["sha256"] == summary.sha256
  assert len(tfds_store.open_scenarios(out_dir / "tfds", "pretrain_train")) == 3

  second = write_lines(tmp_path / "second.jsonl", [graded(i, "trait", "validation").to_json() for i in range(2)])
  replaced = jsonl_import.import_jsonl(second, out_dir)
  assert jsonl_import.read_manifest(out_dir)["input"]["sha256"] == replaced.sha256 != summary.sha256
  assert tfds_store.list_splits(out_dir / "tfds") == ["trait_validation"]
  assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "first.jsonl", "out", "second.jsonl"]


def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
  path = write_lines(tmp_path / "in.jsonl", [good_line(0)])

  def explode(data_dir, splits):
    Path(data_dir).mkdir(parents=True)
    (Path(data_dir) / "partial").write_text("half")
    raise OSError("disk full")

  monkeypatch.setattr(tfds_store, "write_scenarios", explode)
  with pytest.raises(OSError, match="disk full"):
    jsonl_import.import_jsonl(path, tmp_path / "out")
  assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_refuses_to_replace_a_foreign_directory(tmp_path):
  path = write_lines(tmp_path / "in.jsonl", [good_line(0)])
  foreign = tmp_path / "mine"
  foreign.mkdir()
  (foreign / "notes.txt").write_text("keep me")
  with pytest.raises(FileExistsError, match="not an earlier import"):
    jsonl_import.import_jsonl(path, foreign)
  assert (foreign / "notes.txt").read_text() == "keep me"
  empty = tmp_path / "empty"
  empty.mkdir()
  assert jsonl_import.import_jsonl(path, empty).num_records == 1


def _line_with_reference(i: int, reference: str) -> str:
  return pretrain(i).to_json()[:-1] + f',"reference":{reference}}}'


@pytest.mark.parametrize("line, field, fragment", [
    (_line_with_reference(60, '{"a":' + "[" * 100_000 + "]" * 100_000 + "}"), "<record>", "nested more than 32"),
    (_line_with_reference(61, '{"a":' + "[" * 40 + "]" * 40 + "}"), "reference.a" + "[0]" * 30, "nested more than 32"),
    (_line_with_reference(62, '{"note": "caf\\ud800e"}'), "reference.note", "lone surrogate at character 3"),
    (_line_with_reference(63, '{"k\\udfff": 1}'), "reference", "a key holds a lone surrogate"),
    (json.dumps({"id": "x", "source": "pretrain", "domain": "d", "category": "c", "split": "train",
                 "messages": [{"role": "user", "content": "\ud83d\ude00 ok \udc00"}]}),
     "messages[0].content", "lone surrogate at character 5"),
])
def test_nesting_and_lone_surrogates_are_located_not_crashed_on(tmp_path, line, field, fragment):
  """json.loads itself accepts both (a RecursionError past ~1000 levels aside), but a record must be
  storable as UTF-8 and walkable without exhausting the stack."""
  path = write_lines(tmp_path / "odd.jsonl", [good_line(0), line])
  with pytest.raises(SchemaError) as caught:
    jsonl_import.import_jsonl(path, tmp_path / "out")
  assert caught.value.where == f"{path}:2" and caught.value.field == field
  assert fragment in str(caught.value)
  assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.jsonl"]


def test_a_valid_surrogate_pair_and_the_worlds_nesting_are_fine(tmp_path):
  line = _line_with_reference(0, '{"emoji": "\\ud83d\\ude00", "deep": ' + "[" * 20 + "]" * 20 + "}")
  assert jsonl_import.read_jsonl(write_lines(tmp_path / "ok.jsonl", [line]))[0].reference["emoji"] == "\U0001F600"


def test_a_huge_bad_value_gives_a_short_message(tmp_path):
  huge = "x" * 10_000_000
  path = write_lines(tmp_path / "huge.jsonl", [json.dumps({**pretrain(0).to_dict(), "source": huge}),
                                               json.dumps({**pretrain(1).to_dict(), huge: 1})])
  with pytest.raises(SchemaError) as caught:
    jsonl_import.read_jsonl(path)
  assert "huge.jsonl:1" in str(caught.value) and len(str(caught.value)) < 1000
  with pytest.raises(SchemaError) as caught:
    jsonl_import.parse_jsonl(path.read_bytes().split(b"\n", 1)[1], "huge.jsonl")
  assert "huge.jsonl:1" in str(caught.value) and len(str(caught.value)) < 1000


def test_the_callers_check_runs_on_every_record_and_its_error_is_located(tmp_path):
  """The data layer knows nothing of graders; the CLI passes the rubric check in."""
  seen = []

  def check(scenario: Scenario) -> None:
    seen.append(scenario.id)
    if scenario.id == "pre-2":
      raise SchemaError("rubric[0].check", "no check named 'nope'")

  path = write_lines(tmp_path / "in.jsonl", [good_line(0), good_line(1), "", good_line(2), good_line(3)])
  with pytest.raises(SchemaError, match=r"in\.jsonl:4: field 'rubric\[0\]\.check': no check named 'nope'"):
    jsonl_import.import_jsonl(path, tmp_path / "out", check=check)
  assert seen == ["pre-0", "pre-1", "pre-2"] and not (tmp_path / "out").exists()
  assert jsonl_import.import_jsonl(write_lines(tmp_path / "ok.jsonl", [good_line(0)]), tmp_path / "out",
                                   check=check).num_records == 1
