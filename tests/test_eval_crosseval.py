"""Cross-evaluation: one gzip JSONL file per (checkpoint, suite) with a row per item and response,
pairs already written from the same parameters are skipped (so an interrupted evaluation resumes),
missing, empty, damaged or stale files (a retrained cell) are redone, a damaged checkpoint is
reported and skipped, intermediate checkpoints on request, and the rows are what the analysis
loader reads."""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

import pytest

from xgen.analysis.load import load_scores
from xgen.eval.crosseval import EvalConfig, checkpoints_to_evaluate, cross_evaluate, eval_suites
from xgen.graders.rubric import grade
from xgen.rl.algorithms import LossConfig
from xgen.rl.config import MixtureConfig, RLConfig
from xgen.rl.trainer import read_cell_inputs, train_cell
from xgen.rundir.evalrows import eval_file_fingerprint
from xgen.train.checkpoints import checkpoint_fingerprint

sys.path.insert(0, str(Path(__file__).parent))
from conftest import copy_run  # noqa: E402

CONFIG = EvalConfig(max_new_tokens=8, chunk_size=64, samples=1)


@pytest.fixture(scope="module")
def evaluated(tiny_run, tmp_path_factory) -> Path:
  workdir = copy_run(tiny_run, tmp_path_factory.mktemp("crosseval") / "w")
  rl = RLConfig(steps=2, batch_size=8, group_size=4, max_new_tokens=8, warmup_steps=1, checkpoint_every=1,
                sample_every=0)
  for condition, dose in (("baseline", 0.0), ("trait-all", 0.5)):
    train_cell(workdir, f"{condition}.s0", rl, MixtureConfig(dose=dose), LossConfig(entropy_coef=0.01),
               labels={"condition": condition, "seed": 0}, show_progress=False)
  cross_evaluate(workdir, read_cell_inputs(workdir).model_config, CONFIG)
  return workdir


def _rows(path: Path) -> list[dict]:
  with gzip.open(path, "rt") as handle:
    return [json.loads(line) for line in handle]


def test_every_checkpoint_on_every_suite(evaluated):
  suites = eval_suites(evaluated)
  assert len(suites) == 19  # 9 families x 2 domains + healthbench in health
  for checkpoint in ("base", "baseline.s0", "trait-all.s0"):
    files = sorted((evaluated / "eval" / checkpoint).glob("*.jsonl.gz"))
    assert [f.name.removesuffix(".jsonl.gz") for f in files] == sorted(suites)
    assert not list((evaluated / "eval" / checkpoint).glob(".*tmp"))


def test_rows_hold_ids_responses_and_rubric_grades(evaluated):
  suites = eval_suites(evaluated)
  scenario_of = {s.id: s for items in suites.values() for s in items}
  rows = _rows(evaluated / "eval" / "trait-all.s0" / "honesty_pressure.health.jsonl.gz")
  assert len(rows) == 2 * len(suites["honesty_pressure.health"])  # greedy + 1 sample per item
  assert {r["mode"] for r in rows} == {"greedy", "sampled"}
  for row in rows:
    assert row["condition"] == "trait-all" and row["seed"] == 0 and row["step"] == 2 and row["persona"] is None
    scenario = scenario_of[row["item_id"]]
    assert len(row["responses"]) == scenario.num_stages == 2  # the pressure family has a follow-up stage
    graded = grade(scenario, row["responses"])
    assert row["score"] == graded.score and row["refused"] == graded.refused
    assert row["criteria"] == list(graded.criteria)
  base_rows = _rows(evaluated / "eval" / "base" / "honesty_pressure.health.jsonl.gz")
  assert {r["condition"] for r in base_rows} == {"pre-rl"}


def test_greedy_rows_are_deterministic(evaluated, tmp_path):
  from xgen.eval.crosseval import evaluate_checkpoint, load_checkpoint
  ref = next(r for r in checkpoints_to_evaluate(evaluated) if r.name == "baseline.s0")
  workdir = tmp_path / "again"
  (workdir / "eval").mkdir(parents=True)
  inputs = read_cell_inputs(evaluated)
  suites = {name: items for name, items in eval_suites(evaluated).items() if name.startswith("deception.")}
  evaluate_checkpoint(workdir, ref, load_checkpoint(ref, inputs.model_config), inputs.tokenizer, suites, CONFIG)
  for name in suites:
    again = _rows(workdir / "eval" / "baseline.s0" / f"{name}.jsonl.gz")
    first = _rows(evaluated / "eval" / "baseline.s0" / f"{name}.jsonl.gz")
    assert [r["responses"] for r in again if r["mode"] == "greedy"] == \
        [r["responses"] for r in first if r["mode"] == "greedy"]


def test_written_pairs_are_skipped_and_a_missing_one_is_redone(evaluated):
  files = sorted((evaluated / "eval").rglob("*.jsonl.gz"))
  marks = {f: f.stat().st_mtime_ns for f in files}
  removed = evaluated / "eval" / "baseline.s0" / "sycophancy.law.jsonl.gz"
  removed.unlink()  # as if the evaluation had been killed before writing it
  cross_evaluate(evaluated, read_cell_inputs(evaluated).model_config, CONFIG)
  assert removed.exists()
  assert all(f.stat().st_mtime_ns == m for f, m in marks.items() if f != removed)


def test_every_saved_step_on_request(evaluated):
  refs = checkpoints_to_evaluate(evaluated, every_step=True)
  names = [r.name for r in refs]
  assert "trait-all.s0@1" in names and "trait-all.s0" in names
  assert [r.final for r in refs if r.cell == "trait-all.s0"] == [False, True]


def test_the_loader_reads_what_the_evaluation_wrote(evaluated):
  scores, refusals = load_scores(evaluated)
  assert set(scores) == {"pre-rl", "baseline", "trait-all"}
  assert set(scores["baseline"][0]) == set(eval_suites(evaluated))
  assert all(0.0 <= rate <= 1.0 for rate in refusals.values())


# --- what is redone, what is skipped ------------------------------------------------------------


def _evaluate(workdir: Path, **kwargs):
  return cross_evaluate(workdir, read_cell_inputs(workdir).model_config, CONFIG, **kwargs)


def _marks(workdir: Path) -> dict[Path, int]:
  return {f: f.stat().st_mtime_ns for f in sorted((workdir / "eval").rglob("*.jsonl.gz"))}


def _greedy(rows: list[dict]) -> list[dict]:
  return [r for r in rows if r["mode"] == "greedy"]


def test_rows_record_the_fingerprint_of_their_checkpoint(evaluated):
  for checkpoint, run in (("base", evaluated / "base"), ("trait-all.s0", evaluated / "cells" / "trait-all.s0")):
    step = json.loads((run / "status.json").read_text())["step"]
    rows = _rows(evaluated / "eval" / checkpoint / "deception.health.jsonl.gz")
    assert {r["fingerprint"] for r in rows} == {checkpoint_fingerprint(run, step)}


def test_empty_truncated_or_garbage_eval_files_are_redone(evaluated):
  directory = evaluated / "eval" / "baseline.s0"
  before = {name: _rows(directory / f"{name}.jsonl.gz") for name in ("deception.health", "deception.law")}
  good = (directory / "deception.health.jsonl.gz").read_bytes()
  damaged = {"deception.health": good[:len(good) // 2],   # truncated gzip (killed mid-copy, disk full)
             "deception.law": b"",                          # empty file
             "sycophancy.health": gzip.compress(b""),       # a valid gzip without rows
             "sycophancy.law": b"garbage, not gzip\n"}
  for name, data in damaged.items():
    (directory / f"{name}.jsonl.gz").write_bytes(data)
  marks = _marks(evaluated)
  summary = _evaluate(evaluated)
  assert (summary.evaluated, summary.damaged, summary.ok) == (len(damaged), {}, True)
  fingerprint = checkpoint_fingerprint(evaluated / "cells" / "baseline.s0", 2)
  for name in damaged:
    assert eval_file_fingerprint(directory / f"{name}.jsonl.gz") == fingerprint
  for name, rows in before.items():
    assert _greedy(_rows(directory / f"{name}.jsonl.gz")) == _greedy(rows)
  redone = {directory / f"{name}.jsonl.gz" for name in damaged}
  assert all(f.stat().st_mtime_ns == m for f, m in marks.items() if f not in redone)


def test_an_unchanged_checkpoint_is_skipped_without_loading_it(evaluated, monkeypatch):
  from xgen.eval import crosseval
  reads = []

  def counted(run, step):
    reads.append((Path(run).name, step))
    return checkpoint_fingerprint(run, step)

  def never(*args):
    raise AssertionError("an up-to-date checkpoint was loaded")

  monkeypatch.setattr(crosseval, "checkpoint_fingerprint", counted)
  monkeypatch.setattr(crosseval, "load_checkpoint", never)
  marks = _marks(evaluated)
  summary = _evaluate(evaluated)
  assert (summary.evaluated, summary.damaged, summary.ok) == (0, {}, True)
  assert [r.name for r in summary.checkpoints] == ["base", "baseline.s0", "trait-all.s0"]
  assert sorted(reads) == [("base", 6), ("baseline.s0", 2), ("trait-all.s0", 2)]  # once per checkpoint
  assert _marks(evaluated) == marks


def test_a_retrained_cell_is_evaluated_again(evaluated, tmp_path):
  workdir = Path(shutil.copytree(evaluated, tmp_path / "w"))
  cell = workdir / "cells" / "trait-all.s0"
  stale = checkpoint_fingerprint(cell, 2)
  shutil.rmtree(cell / "checkpoints")  # retrained with other settings: other parameters at the same step
  shutil.copytree(workdir / "cells" / "baseline.s0" / "checkpoints", cell / "checkpoints")
  fresh = checkpoint_fingerprint(cell, 2)
  assert fresh != stale
  marks = _marks(workdir)
  summary = _evaluate(workdir)
  suites = eval_suites(workdir)
  assert (summary.evaluated, summary.damaged) == (len(suites), {})
  changed = {f for f, m in _marks(workdir).items() if marks[f] != m}
  assert changed == {workdir / "eval" / "trait-all.s0" / f"{name}.jsonl.gz" for name in suites}
  rows = _rows(workdir / "eval" / "trait-all.s0" / "deception.law.jsonl.gz")
  assert {(r["fingerprint"], r["condition"], r["cell"]) for r in rows} == {(fresh, "trait-all", "trait-all.s0")}
  assert _evaluate(workdir).evaluated == 0


def test_a_damaged_checkpoint_is_reported_and_the_others_still_evaluated(evaluated, tmp_path):
  workdir = Path(shutil.copytree(evaluated, tmp_path / "w"))
  for checkpoint in ("baseline.s0", "trait-all.s0"):
    (workdir / "eval" / checkpoint / "deception.law.jsonl.gz").unlink()
  step_dir = workdir / "cells" / "trait-all.s0" / "checkpoints" / "2"
  chunks = [f for f in (step_dir / "state").rglob("*") if f.is_file() and f.parent.name == "d"]
  assert chunks
  for chunk in chunks:  # the parameters' bytes rot on disk; the recorded digests stay readable
    chunk.write_bytes(bytes(chunk.stat().st_size))
  lines: list[str] = []
  summary = _evaluate(workdir, announce=lines.append)
  assert summary.evaluated == 1 and not summary.ok
  assert list(summary.damaged) == ["trait-all.s0"] and str(step_dir) in summary.damaged["trait-all.s0"]
  (line,) = [line for line in lines if line.startswith("skipping")]
  assert "trait-all.s0" in line and str(step_dir) in line and "\n" not in line
  assert (workdir / "eval" / "baseline.s0" / "deception.law.jsonl.gz").exists()
  assert not (workdir / "eval" / "trait-all.s0" / "deception.law.jsonl.gz").exists()


def test_a_cell_with_an_unreadable_record_is_not_evaluated_under_a_wrong_label(evaluated, tmp_path):
  workdir = tmp_path / "w"
  shutil.copytree(evaluated / "cells", workdir / "cells")
  shutil.copytree(evaluated / "base", workdir / "base")
  record = workdir / "cells" / "trait-all.s0" / "cell.json"
  record.write_text('{"condition": "trait-')
  refs = {r.name: r for r in checkpoints_to_evaluate(workdir)}
  assert refs["baseline.s0"].problem is None and refs["baseline.s0"].fingerprint
  assert str(record) in refs["trait-all.s0"].problem and refs["trait-all.s0"].fingerprint is None
