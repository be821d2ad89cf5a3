"""Tests for per-suite deltas, transfer matrices, win counts and the eval-row loader, on synthetic scores."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from xgen.analysis.load import load_scores
from xgen.rundir import DamagedFile
from xgen.analysis.transfer import SuiteDelta, split_suite, suite_deltas, transfer_matrix, win_counts

FAMILIES = ("honesty_pressure", "reward_hacking")
DOMAINS = ("engineering_ops", "health", "science")
SUITES = tuple(f"{f}.{d}" for f in FAMILIES for d in DOMAINS)


def synthetic_scores(*, effect: float = 0.25, n_items: int = 40, data_seed: int = 0) -> dict:
  """baseline, trait-all (no effect) and only-health (+effect on health suites only), 3 seeds each."""
  rng = np.random.default_rng(data_seed)
  difficulty = {suite: rng.uniform(0.2, 0.7, size=n_items) for suite in SUITES}
  scores: dict = {}
  for condition in ("baseline", "trait-all", "only-health"):
    for seed in range(3):
      offset = rng.normal(0, 0.02)
      for suite in SUITES:
        shift = effect if condition == "only-health" and suite.endswith(".health") else 0.0
        values = np.clip(difficulty[suite] + offset + shift + rng.normal(0, 0.15, size=n_items), 0, 1)
        scores.setdefault(condition, {}).setdefault(seed, {})[suite] = {
            f"{suite}-{i:03d}": float(v) for i, v in enumerate(values)}
  return scores


@pytest.fixture(scope="module")
def scores():
  return synthetic_scores()


@pytest.fixture(scope="module")
def deltas(scores):
  return suite_deltas(scores, "baseline", n_resamples=1000, seed=0)


# ---------------------------------------------------------------------------------------------
# Per-suite deltas.


def test_split_suite():
  assert split_suite("reward_hacking.engineering_ops") == ("reward_hacking", "engineering_ops")
  for bad in ("nodot", "a.b.c", ".health"):
    with pytest.raises(ValueError):
      split_suite(bad)


def test_suite_deltas_cover_every_condition_and_suite(deltas):
  assert [(d.condition, d.suite) for d in deltas] == [(c, s) for c in ("only-health", "trait-all")
                                                      for s in sorted(SUITES)]
  first = deltas[0]
  assert (first.family, first.domain) == ("honesty_pressure", "engineering_ops")
  assert (first.n_items, first.n_seeds) == (40, 3)
  assert first.delta == pytest.approx(first.condition_mean - first.baseline_mean)


def test_planted_effect_is_significant_only_where_planted(deltas):
  for d in deltas:
    planted = d.condition == "only-health" and d.domain == "health"
    assert d.significant == planted, d
    if planted:
      assert d.delta == pytest.approx(0.25, abs=0.06) and d.ci_low > 0
    assert d.q_value >= d.p_value and d.significant == (d.q_value < 0.05)


def test_q_values_are_bh_within_each_condition(deltas):
  from xgen.analysis.bootstrap import benjamini_hochberg
  for condition in ("only-health", "trait-all"):
    mine = [d for d in deltas if d.condition == condition]
    np.testing.assert_allclose([d.q_value for d in mine], benjamini_hochberg([d.p_value for d in mine]))


def test_a_condition_result_does_not_depend_on_the_other_conditions(scores, deltas):
  alone = suite_deltas({c: scores[c] for c in ("baseline", "only-health")}, "baseline", n_resamples=1000, seed=0)
  assert alone == [d for d in deltas if d.condition == "only-health"]


def test_items_are_paired_by_id_and_missing_ones_dropped(scores):
  edited = {c: {s: {suite: dict(items) for suite, items in seeds.items()} for s, seeds in conds.items()}
            for c, conds in scores.items()}
  suite = "reward_hacking.science"
  del edited["trait-all"][1][suite][f"{suite}-000"]  # missing in one seed of the condition: dropped
  edited["baseline"][0][suite]["extra"] = 1.0  # only in the baseline: dropped
  del edited["baseline"][2]["honesty_pressure.health"]  # suite missing in a baseline seed: not compared
  out = {(d.condition, d.suite): d for d in suite_deltas(edited, "baseline", n_resamples=200, seed=0)}
  assert out["trait-all", suite].n_items == 39
  assert out["only-health", suite].n_items == 40
  assert ("trait-all", "honesty_pressure.health") not in out and len(out) == 10
  ids = sorted(edited["trait-all"][0][suite])[1:]
  expected = np.mean([[edited["trait-all"][s][suite][i] for i in ids] for s in range(3)])
  assert out["trait-all", suite].condition_mean == pytest.approx(expected)


def test_unknown_baseline_raises(scores):
  with pytest.raises(ValueError, match="baseline"):
    suite_deltas(scores, "pre-rl")


# ---------------------------------------------------------------------------------------------
# Transfer matrix.


def test_domain_matrix_flags_only_the_planted_column(scores, deltas):
  matrix = transfer_matrix(scores, "baseline", n_resamples=1000, seed=0)
  assert (matrix.view, matrix.baseline, matrix.alpha) == ("domain", "baseline", 0.05)
  assert matrix.rows == ("only-health", "trait-all")
  assert matrix.columns == DOMAINS
  for row in matrix.rows:
    for column in matrix.columns:
      cell = matrix.cell(row, column)
      assert cell.n_suites == 2
      assert cell.significant == (row == "only-health" and column == "health"), cell
      suite_mean = np.mean([d.delta for d in deltas if d.condition == row and d.domain == column])
      assert cell.delta == pytest.approx(suite_mean)
  assert matrix.cell("only-health", "health").ci_low > 0.15
  assert matrix.cell("only-health", "nowhere") is None


def test_family_matrix(scores):
  matrix = transfer_matrix(scores, "baseline", view="family", n_resamples=500, seed=0)
  assert matrix.columns == FAMILIES
  cell = matrix.cell("only-health", "reward_hacking")
  assert cell.n_suites == 3 and cell.delta == pytest.approx(0.25 / 3, abs=0.03)
  assert not matrix.cell("trait-all", "honesty_pressure").significant


def test_matrix_order_selection_and_export(scores):
  matrix = transfer_matrix(scores, "baseline", n_resamples=300, seed=1, row_order=["trait-all", "only-health"],
                           column_order=["health", "science"])
  assert matrix.rows == ("trait-all", "only-health") and matrix.columns == ("health", "science")
  rows = matrix.to_rows()
  assert [(r["row"], r["column"]) for r in rows] == [("trait-all", "health"), ("trait-all", "science"),
                                                     ("only-health", "health"), ("only-health", "science")]
  assert set(rows[0]) == {"view", "baseline", "alpha", "row", "column", "delta", "ci_low", "ci_high", "p_value",
                          "q_value", "significant", "n_suites"}
  json.dumps(rows)  # plain values only
  with pytest.raises(ValueError, match="without data"):
    transfer_matrix(scores, "baseline", row_order=["baseline"])
  with pytest.raises(ValueError, match="without data"):
    transfer_matrix(scores, "baseline", column_order=["law"])
  with pytest.raises(ValueError, match="view"):
    transfer_matrix(scores, "baseline", view="suite")


def test_matrix_is_reproducible(scores):
  first = transfer_matrix(scores, "baseline", n_resamples=300, seed=4)
  assert transfer_matrix(scores, "baseline", n_resamples=300, seed=4) == first
  other = transfer_matrix(scores, "baseline", n_resamples=300, seed=5)
  assert other.cell("trait-all", "science").delta == first.cell("trait-all", "science").delta
  assert other.cell("trait-all", "science").ci_low != first.cell("trait-all", "science").ci_low


# ---------------------------------------------------------------------------------------------
# Win counts.


def delta(condition: str, value: float, significant: bool) -> SuiteDelta:
  return SuiteDelta(condition=condition, suite="f.d", family="f", domain="d", baseline_mean=0.5,
                    condition_mean=0.5 + value, delta=value, ci_low=value - 0.1, ci_high=value + 0.1, p_value=0.5,
                    q_value=0.01 if significant else 0.5, n_items=10, n_seeds=3, significant=significant)


def test_win_counts_by_hand():
  deltas = [delta("a", 0.1, True), delta("a", 0.05, False), delta("a", -0.2, True), delta("b", 0.3, True)]
  wins = win_counts(deltas, "a")
  assert (wins.improved, wins.significant, wins.total) == (2, 1, 3)  # a significant loss is no win
  assert wins.text == "2 of 3 improved (1 significant)"
  assert win_counts(deltas, "c").text == "0 of 0 improved (0 significant)"


def test_win_counts_on_the_synthetic_study(deltas):
  wins = win_counts(deltas, "only-health")
  assert wins.total == 6 and wins.significant == 2 and wins.improved >= 2
  assert wins.text == f"{wins.improved} of 6 improved (2 significant)"


# ---------------------------------------------------------------------------------------------
# Loader.


def row(checkpoint: str, condition: str, seed: int, suite: str, item_id: str, score: float, *, mode="greedy",
        sample=0, persona=None, refused=False, step=200) -> dict:
  family, domain = suite.split(".")
  return {"checkpoint": checkpoint, "cell": f"{condition}.s{seed}", "condition": condition, "seed": seed,
          "step": step, "suite": suite, "family": family, "domain": domain, "item_id": item_id, "mode": mode,
          "sample": sample, "persona": persona, "responses": ["..."], "score": score, "refused": refused}


def write_rows(workdir, checkpoint: str, suite: str, rows: list, *, raw_lines: list[str] = ()) -> None:
  path = workdir / "eval" / checkpoint / f"{suite}.jsonl.gz"
  path.parent.mkdir(parents=True, exist_ok=True)
  with gzip.open(path, "wt", encoding="utf-8") as f:
    for r in rows:
      f.write(json.dumps(r) + "\n")
    for line in raw_lines:
      f.write(line + "\n")


SUITE = "honesty_pressure.health"


@pytest.fixture
def eval_workdir(tmp_path):
  write_rows(tmp_path, "baseline.s0", SUITE, [
      row("baseline.s0", "baseline", 0, SUITE, "q1", 1.0),
      row("baseline.s0", "baseline", 0, SUITE, "q2", 0.0, refused=True),
      row("baseline.s0", "baseline", 0, SUITE, "q1", 0.0, persona="harmful-1"),  # ignored: persona
      row("baseline.s0", "baseline", 0, SUITE, "q1", 1.0, mode="sampled", sample=0),
      row("baseline.s0", "baseline", 0, SUITE, "q1", 0.0, mode="sampled", sample=1, refused=True),
      row("baseline.s0", "baseline", 0, SUITE, "q1", 0.5, mode="sampled", sample=2),
      row("baseline.s0", "baseline", 0, SUITE, "q2", 0.25, mode="sampled", sample=0),
  ])
  write_rows(tmp_path, "trait-all.s1", SUITE, [
      row("trait-all.s1", "trait-all", 1, SUITE, "q1", 0.75),
      row("trait-all.s1", "trait-all", 1, SUITE, "q2", 0.5),
  ])
  write_rows(tmp_path, "trait-all.s1@100", SUITE, [
      row("trait-all.s1@100", "trait-all", 1, SUITE, "q1", 0.0, step=100),
      row("trait-all.s1@100", "trait-all", 1, SUITE, "q2", 0.0, step=100, refused=True),
  ])
  return tmp_path


def test_load_greedy_scores(eval_workdir):
  scores, refusals = load_scores(eval_workdir)
  assert scores == {"baseline": {0: {SUITE: {"q1": 1.0, "q2": 0.0}}},
                    "trait-all": {1: {SUITE: {"q1": 0.75, "q2": 0.5}}}}
  assert refusals == {("baseline", SUITE): 0.5, ("trait-all", SUITE): 0.0}


def test_load_sampled_scores_are_averaged_over_samples(eval_workdir):
  scores, refusals = load_scores(eval_workdir, mode="sampled")
  assert scores == {"baseline": {0: {SUITE: {"q1": 0.5, "q2": 0.25}}}}
  assert refusals == {("baseline", SUITE): 0.25}


def test_load_intermediate_checkpoints_on_request(eval_workdir):
  scores, refusals = load_scores(eval_workdir, include_intermediate=True)
  assert scores["trait-all@100"] == {1: {SUITE: {"q1": 0.0, "q2": 0.0}}}
  assert scores["trait-all"] == {1: {SUITE: {"q1": 0.75, "q2": 0.5}}}
  assert refusals["trait-all@100", SUITE] == 0.5


def test_loaded_scores_feed_the_analysis(eval_workdir):
  (d,) = suite_deltas(load_scores(eval_workdir)[0], "baseline", n_resamples=100, seed=0)
  assert (d.condition, d.suite, d.n_items, d.n_seeds) == ("trait-all", SUITE, 2, 1)
  assert d.delta == pytest.approx(((0.75 - 1.0) + (0.5 - 0.0)) / 2)


def test_load_reports_the_file_and_line_of_a_malformed_row(tmp_path):
  bad = row("baseline.s0", "baseline", 0, SUITE, "q2", 0.5)
  del bad["score"]
  write_rows(tmp_path, "baseline.s0", SUITE, [row("baseline.s0", "baseline", 0, SUITE, "q1", 1.0), bad])
  with pytest.raises(ValueError, match=r"baseline\.s0/honesty_pressure\.health\.jsonl\.gz:2: missing key.*score"):
    load_scores(tmp_path)


@pytest.mark.parametrize("line, message", [
    ("{not json", "not valid JSON"),
    (json.dumps(row("baseline.s0", "baseline", 0, SUITE, "q2", 1.5)), "score must be"),
    (json.dumps({**row("baseline.s0", "baseline", 0, SUITE, "q2", 0.5), "refused": "no"}), "refused must be"),
    (json.dumps({**row("baseline.s0", "baseline", 0, SUITE, "q2", 0.5), "suite": "x.y"}), "is not"),
    (json.dumps(row("baseline.s0", "baseline", 0, SUITE, "q1", 0.5)), "duplicate row"),
])
def test_load_rejects_bad_rows(tmp_path, line, message):
  write_rows(tmp_path, "baseline.s0", SUITE, [row("baseline.s0", "baseline", 0, SUITE, "q1", 1.0)], raw_lines=[line])
  with pytest.raises(ValueError, match=rf"jsonl\.gz:2: .*{message}"):
    load_scores(tmp_path)


def test_load_needs_an_eval_directory(tmp_path):
  with pytest.raises(FileNotFoundError):
    load_scores(tmp_path)
  with pytest.raises(ValueError, match="mode"):
    load_scores(tmp_path, mode="beam")


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_load_names_an_unreadable_eval_file_in_one_line(eval_workdir, damage):
  path = eval_workdir / "eval" / "trait-all.s1" / f"{SUITE}.jsonl.gz"
  data = path.read_bytes()
  path.write_bytes(data[:len(data) // 2] if damage == "truncated" else b"not a gzip file\n")
  with pytest.raises(DamagedFile) as caught:
    load_scores(eval_workdir)
  message = str(caught.value)
  assert message.startswith(f"{path}: unreadable eval file") and "\n" not in message
  assert caught.value.path == path


def test_load_reads_rows_with_and_without_a_fingerprint(eval_workdir):
  write_rows(eval_workdir, "trait-all.s1", "honesty_pressure.law", [
      {**row("trait-all.s1", "trait-all", 1, "honesty_pressure.law", "q1", 0.25), "fingerprint": "abc"}])
  scores, _ = load_scores(eval_workdir)
  assert scores["trait-all"][1] == {SUITE: {"q1": 0.75, "q2": 0.5}, "honesty_pressure.law": {"q1": 0.25}}
