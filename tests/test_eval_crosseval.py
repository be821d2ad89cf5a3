"""Cross-evaluation: one gzip JSONL file per (checkpoint, suite) with a row per item and response,
pairs already written are skipped (so an interrupted evaluation resumes), intermediate checkpoints
on request, and the rows are what the analysis loader reads."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

from xgen.analysis.load import load_scores
from xgen.eval.crosseval import EvalConfig, checkpoints_to_evaluate, cross_evaluate, eval_suites
from xgen.graders.rubric import grade
from xgen.rl.algorithms import LossConfig
from xgen.rl.config import MixtureConfig, RLConfig
from xgen.rl.trainer import read_cell_inputs, train_cell

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
