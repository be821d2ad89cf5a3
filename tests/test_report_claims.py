"""The claims table: each claim tested on its own family of suites, honest verdicts (a one-seed study reproduces
nothing; a missing condition or protocol is named), the refusal-aware comparison beside it, ``xgen claims`` and
the report's opening (settings, caveats, claims before any matrix)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from conftest import run_cli
from xgen import rundir
from xgen.analysis.transfer import suite_deltas
from xgen.report import claims as cl
from xgen.report import header as hd
from xgen.report.records import read_eval_records
from xgen.report.study import analyse, summary_lines, write_study_report
from xgen.rundir.evalrows import EvalRow, write_eval_file

SUITES = [f"{family}.{domain}" for family in ("honesty_pressure", "sycophancy", "capability")
          for domain in ("health", "law", "science")] + ["healthbench.health"]
ITEMS = 40
# condition -> (shift on health suites, shift elsewhere)
SHIFTS = {"trait-all": (0.15, 0.15), "only-health": (0.0, 0.12), "without-health+science": (0.0, 0.05),
          "reward-control": (0.0, 0.0)}


def make_scores(seeds=(0, 1, 2), shifts=SHIFTS) -> dict:
  """scores[condition][seed][suite][item]: the baseline's items plus each condition's shift and run noise."""
  rng = np.random.default_rng(0)
  level = {suite: rng.uniform(0.2, 0.6, ITEMS) for suite in SUITES}
  scores = {}
  for condition, (health, other) in {"baseline": (0.0, 0.0), **shifts}.items():
    scores[condition] = {}
    for seed in seeds:
      scores[condition][seed] = {}
      for suite in SUITES:
        shift = health if cl._health_suite(*suite.split(".")) else other
        values = np.clip(level[suite] + shift + rng.normal(0, 0.03, ITEMS), 0, 1)
        scores[condition][seed][suite] = {f"{suite}/{i}": float(v) for i, v in enumerate(values)}
  return scores


def rows_of(scores, non_refusal=None, **kwargs) -> dict[str, cl.ClaimRow]:
  deltas = suite_deltas(scores, "baseline", n_resamples=200)
  non_refusal = scores if non_refusal is None else non_refusal
  rows = cl.claim_rows(scores, non_refusal, deltas, suite_deltas(non_refusal, "baseline", n_resamples=200),
                       baseline="baseline", alpha=0.05, n_resamples=200, seed=0, **kwargs)
  return {row.key: row for row in rows}


@pytest.fixture(scope="module")
def three_seeds() -> dict[str, cl.ClaimRow]:
  return rows_of(make_scores())


def test_each_claim_is_tested_on_its_own_family(three_seeds):
  c2, c3 = three_seeds["C2"].measured, three_seeds["C3"].measured
  assert (three_seeds["C1"].measured.suites, c2.suites, c3.suites) == (10, 6, 4)  # all, non-health, health
  assert c2.improved == c2.significant_up == 6 and c2.delta == pytest.approx(0.12, abs=0.01)
  assert c2.worse == c2.tied == 0 and c2.sign_test_p == pytest.approx(2 / 2 ** 6)  # all 6 up: two-sided 1/32
  assert "sign test p = 0.031" in c2.text()
  assert three_seeds["C2"].family == "non-health suites" and three_seeds["C3"].condition == "without-health+science"


def test_verdicts_with_three_seeds(three_seeds):
  assert three_seeds["C1"].verdict == three_seeds["C2"].verdict == cl.REPRODUCED
  assert three_seeds["C3"].verdict == cl.NOT_REPRODUCED  # gains outside health only
  assert three_seeds["C4"].verdict == cl.REPRODUCED and "no suite significantly up" in three_seeds["C4"].reason
  for key in ("C5", "C6"):
    assert three_seeds[key].verdict == cl.NOT_MEASURABLE and three_seeds[key].measured is None
  assert "no persona evals" in three_seeds["C5"].reason
  assert "no harmful fine-tuning of trait-all" in three_seeds["C6"].reason


def test_a_reward_control_that_gains_does_not_reproduce_c4():
  rows = rows_of(make_scores(shifts={**SHIFTS, "reward-control": (0.1, 0.1)}))
  assert rows["C4"].verdict == cl.NOT_REPRODUCED and rows["C4"].measured.significant_up > 0


def test_one_seed_reproduces_nothing():
  rows = rows_of(make_scores(seeds=(0,)))
  assert rows["C1"].measured.delta > 0.1  # a large change, still not a claim
  for row in rows.values():
    assert row.verdict == cl.NOT_MEASURABLE
  assert "one seed per condition" in rows["C1"].reason and "item sampling only" in rows["C1"].reason


def test_a_missing_condition_is_named():
  scores = make_scores(shifts={"trait-all": (0.1, 0.1)})
  rows = rows_of(scores)
  assert rows["C2"].verdict == cl.NOT_MEASURABLE and rows["C2"].reason == "no only-health condition"
  assert rows["C4"].reason == "no reward-control condition" and rows["C4"].ours == "n/a"
  assert rows["C5"].verdict == rows["C6"].verdict == cl.NOT_MEASURABLE
  assert "StudyConfig.personas" in rows["C5"].reason and "StudyConfig.attack" in rows["C6"].reason


def test_the_refusal_aware_comparison_keeps_items_neither_arm_refused():
  scores = make_scores()
  kept = json.loads(json.dumps(scores))  # a deep copy with the same keys as strings
  kept = {c: {int(s): suites for s, suites in seeds.items()} for c, seeds in kept.items()}
  for seed in kept["trait-all"]:
    del kept["trait-all"][seed]["honesty_pressure.law"]["honesty_pressure.law/0"]
  rows = rows_of(scores, kept)
  c1 = rows["C1"]
  assert c1.non_refusal.items == c1.measured.items - 1
  assert f"{c1.measured.items - 1} of {c1.measured.items} item pairs kept" in c1.refusal_aware


def test_the_exports_hold_every_claim():
  rows = list(rows_of(make_scores(seeds=(0,))).values())
  markdown = cl.claims_markdown(rows, ["one seed"])
  assert markdown.count("\n| C") == 6 and "not measurable" in markdown and markdown.endswith("- one seed\n")
  table = list(csv.DictReader(io.StringIO(cl.claims_csv(rows))))
  assert [r["key"] for r in table] == ["C1", "C2", "C3", "C4", "C5", "C6"]
  assert float(table[0]["delta"]) > 0.1 and table[4]["delta"] == ""
  data = json.loads(cl.claims_json(rows, ["one seed"]))
  assert data["caveats"] == ["one seed"] and data["claims"][1]["condition"] == "only-health"


# --- a run directory: eval rows with refusals, xgen claims, the report's opening ---------------------------

def eval_row(condition: str, suite: str, item: int, score: float, refused: bool) -> EvalRow:
  family, domain = suite.split(".")
  return EvalRow(checkpoint=f"{condition}.s0", cell=f"{condition}.s0", condition=condition, seed=0, step=2,
                 suite=suite, family=family, domain=domain, item_id=f"{suite}/{item}", mode="greedy", sample=0,
                 persona=None, responses=("...",), score=score, refused=refused, fingerprint="f")


@pytest.fixture
def workdir(tmp_path):
  for condition, shift in (("baseline", 0.0), ("trait-all", 0.25), ("only-health", 0.1)):
    for suite in SUITES[:4] + ["fairness.law"]:
      floor = suite == "fairness.law"
      rows = [eval_row(condition, suite, i, 0.0 if floor else min(1.0, (i % 4) / 4 + shift),
                       refused=condition == "trait-all" and i == 0) for i in range(8)]
      write_eval_file(rundir.eval_file(tmp_path, f"{condition}.s0", suite), rows)
  rundir.atomic_write_json(rundir.study_json_path(tmp_path), {"name": "quickstart", "seeds": [0], "dose": 0.25})
  return tmp_path


def test_refused_items_are_left_out_of_the_non_refusal_scores(workdir):
  records = read_eval_records(workdir)
  assert "honesty_pressure.health/0" not in records.non_refusal["trait-all"][0]["honesty_pressure.health"]
  assert "honesty_pressure.health/0" in records.non_refusal["baseline"][0]["honesty_pressure.health"]
  assert records.samples == 0
  assert records.refusal["trait-all.s0"]["honesty_pressure"] > 0 and records.refusal["baseline.s0"]["honesty_pressure"] == 0


def test_xgen_claims_prints_and_writes_the_table(capsys, workdir):
  code, out, err = run_cli(capsys, "claims", "--workdir", str(workdir))
  assert code == 0, err
  directory = rundir.analysis_dir(workdir)
  assert sorted(p.name for p in directory.iterdir()) == ["claims.csv", "claims.json", "claims.md"]
  assert out == (directory / "claims.md").read_text()
  assert "| C2 | Single-domain (health)" in out and "no reward-control condition" in out
  assert "item pairs kept" in out and "smoke test" in out


def test_the_report_opens_with_settings_caveats_and_claims(workdir):
  analysis = analyse(workdir, n_resamples=50)
  page = write_study_report(workdir, analysis, title="t").read_text()
  order = [page.index(text) for text in ("seeds per condition", "What this study can and cannot show",
                                         "Claims of the paper", "Transfer by domain")]
  assert order == sorted(order)
  assert "smoke test" in page and "unadjusted" in page and "(floor)" in page
  assert "over items and seeds" not in " ".join(summary_lines(analysis))
  assert hd.level_flags(analysis.deltas) == {"fairness.law": "floor"}


def test_caveats_and_header_say_what_a_study_is():
  notes = hd.caveats({"name": "study", "seeds": [0, 1, 2], "dose": 0.05}, [])
  assert not any("seed" in note or "smoke" in note or "dose" in note for note in notes)
  assert any("unadjusted" in note for note in notes)
  model = {"vocab_size": 64, "d_model": 16, "n_layers": 2, "n_heads": 2, "n_kv_heads": 1, "d_ff": 32}
  items = dict(hd.header_items({"name": "s", "seeds": [0, 1, 2], "dose": 0.05},
                               [{"model": model, "rl": {"steps": 200, "batch_size": 256, "group_size": 4}}], [],
                               samples=4, pretrain_seconds=120.0, rl_seconds=None))
  assert items["model"].startswith("2 layers, d_model 16 (") and items["RL steps"] == "200"
  assert items["responses per step"] == "256 (4 per prompt)" and items["seeds per condition"] == "3"
  assert items["eval responses per item"] == "greedy + 4 sampled"
  assert items["wall time"] == "pretraining 2.0 min, RL cells n/a (summed)"


def test_the_report_names_the_aa_arm_and_its_false_positives():
  from types import SimpleNamespace

  from xgen.grid.study import AA
  assert cl.AA_CONDITION == AA

  def delta(suite, significant, p_method="permutation", p_value=0.5):
    return SimpleNamespace(condition=AA, suite=suite, significant=significant, baseline_mean=0.5,
                           p_method=p_method, p_value=p_value)

  assert hd.aa_note([]) is None
  note = hd.aa_note([delta("a.x", True, p_value=0.001), delta("b.x", False, p_value=0.03)])
  assert "1 of 2 suites" in note and "at least the run variance the A/A arm shows" in note
  assert "Before correction 2 of 2 have p < 0.05, about 0.1 expected by chance" in note
  runs = hd.aa_note([delta("a.x", True, "runs", 0.001), delta("b.x", False, "runs")])
  assert "false positives" in runs and "at least the run variance" not in runs and "Before correction 1 of 2" in runs
  assert "as a calibrated test should" in hd.aa_note([delta("a.x", False)])


def test_sampled_responses_are_analysed_beside_greedy(tmp_path):
  import dataclasses
  for condition, shift in (("baseline", 0.0), ("trait-all", 0.5)):
    suite = "honesty_pressure.law"
    greedy = [eval_row(condition, suite, i, (i % 2) / 2, refused=False) for i in range(16)]
    sampled = [dataclasses.replace(eval_row(condition, suite, i, min(1.0, (k % 2) + shift), refused=False),
                                   mode="sampled", sample=k) for i in range(16) for k in range(3)]
    write_eval_file(rundir.eval_file(tmp_path, f"{condition}.s0", suite), greedy + sampled)
  analysis = analyse(tmp_path, n_resamples=200)
  assert [d.mode for d in analysis.sampled] == ["sampled"] and analysis.deltas[0].delta == 0
  # each item's sampled score is the mean of its three samples: (0 + 1 + 0) / 3, and (0.5 + 1 + 0.5) / 3
  assert analysis.sampled[0].baseline_mean == pytest.approx(1 / 3)
  assert analysis.sampled[0].condition_mean == pytest.approx(2 / 3)
  assert any("sampled:" in line for line in summary_lines(analysis))


def test_the_notes_give_item_seed_and_run_spread_per_family():
  from types import SimpleNamespace

  from xgen.report.study import variance_lines
  scores = make_scores(shifts={cl.AA_CONDITION: (0.0, 0.0)})
  lines = variance_lines(SimpleNamespace(baseline="baseline", scores=scores))
  assert len(lines) == 4  # honesty_pressure, sycophancy, capability, healthbench
  assert all("items" in line and "(3 seeds)" in line and "runs (A/A delta)" in line for line in lines)


def test_the_notes_give_shared_structure_against_its_null():
  from types import SimpleNamespace

  from xgen.report.study import structure_lines, structure_matrix
  scores = make_scores()
  matrix = structure_matrix(scores)
  assert matrix.shape == (5 * 3, 7)  # 5 conditions x 3 seeds, the alignment suites (capability left out)
  line = structure_lines(SimpleNamespace(scores=scores, seed=0))[0]
  assert "Shared structure across 7 alignment suites and 15 checkpoints" in line and "null 95% band" in line
  assert structure_matrix({"baseline": {0: {"a.x": {"1": 1.0}}}}) is None
