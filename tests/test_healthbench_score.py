"""HealthBench scoring (xgen.analysis.healthbench) on hand-computed examples, and its agreement with rubric grading."""

from __future__ import annotations

import numpy as np
import pytest

from xgen.analysis.healthbench import clipped_means, estimate, example_score, healthbench_score, ratio, tag_ratios
from xgen.graders.rubric import score_points

ACC, COMP, SAFE = "axis:accuracy", "axis:completeness", "axis:safety"
# A: 5 met, 3 unmet, a met -2 penalty: (5 - 2) / 8 = 0.375.
A = [(5, True, [ACC]), (3, False, [COMP]), (-2, True, [COMP])]
# B: its only positive criterion unmet and a met -6 penalty: -6 / 4 = -1.5 (below 0: not clipped per example).
B = [(4, False, [ACC]), (-6, True, [ACC, SAFE])]
# C: every positive criterion met, the penalty not: 5 / 5 = 1.
C = [(2, True, []), (3, True, [COMP]), (-5, False, [])]
TAGS = [["theme:x", "theme:y"], ["theme:x"], ["theme:y"]]


def test_example_scores_by_hand():
  assert example_score(A) == pytest.approx(0.375)
  assert example_score(B) == pytest.approx(-1.5)
  assert example_score(C) == pytest.approx(1.0)
  assert ratio([(-3, True, [])]) is None
  with pytest.raises(ValueError, match="positive points"):
    example_score([(-3, False, []), (-1, True, [])])


def test_overall_is_the_clipped_mean_as_healthbench_publishes_it():
  result = healthbench_score([A, B, C], TAGS, n_resamples=200)
  assert result.overall.score == 0.0  # (0.375 - 1.5 + 1) / 3 = -0.0417, clipped at 0
  assert result.overall.n == 3
  per_example = healthbench_score([A, B, C], clip="example", n_resamples=200).overall
  assert per_example.score == pytest.approx((0.375 + 0.0 + 1.0) / 3)  # each example clipped first
  assert healthbench_score([C, C]).overall.score == 1.0
  assert healthbench_score([A]).overall.score == pytest.approx(0.375)


def test_clipping_at_both_ends():
  raw = np.array([[1.4, 1.2], [-0.5, -0.1], [1.5, -0.5]])
  assert clipped_means(raw, "mean").tolist() == pytest.approx([1.0, 0.0, 0.5])
  assert clipped_means(raw, "example").tolist() == pytest.approx([1.0, 0.0, 0.5])
  assert clipped_means(np.array([1.5, -1.0]), "example") == pytest.approx(0.5)
  assert clipped_means(np.array([1.5, -1.0]), "mean") == pytest.approx(0.25)
  with pytest.raises(ValueError, match="clip must be"):
    clipped_means(raw, "none")


def test_criterion_tag_scores_by_hand():
  assert tag_ratios(A) == pytest.approx({ACC: 1.0, COMP: -2 / 3})
  assert tag_ratios(B) == pytest.approx({ACC: -1.5})  # safety: only a penalty here, so no score for the tag
  assert tag_ratios(C) == pytest.approx({COMP: 1.0})
  tags = healthbench_score([A, B, C], TAGS, n_resamples=200).criterion_tags
  assert sorted(tags) == [ACC, COMP]
  assert tags[ACC].score == 0.0 and tags[ACC].n == 2  # mean(1, -1.5) = -0.25, clipped
  assert tags[COMP].score == pytest.approx((-2 / 3 + 1.0) / 2) and tags[COMP].n == 2
  assert healthbench_score([A, B, C], clip="example").criterion_tags[ACC].score == pytest.approx(0.5)


def test_example_tag_scores_by_hand():
  tags = healthbench_score([A, B, C], TAGS, n_resamples=200).example_tags
  assert sorted(tags) == ["theme:x", "theme:y"]
  assert tags["theme:x"].score == 0.0  # mean(0.375, -1.5), clipped
  assert tags["theme:y"].score == pytest.approx((0.375 + 1.0) / 2) and tags["theme:y"].n == 2
  assert healthbench_score([A, B, C]).example_tags == {}
  with pytest.raises(ValueError, match="one entry per example"):
    healthbench_score([A, B, C], TAGS[:2])


def test_bootstrap_interval_and_std():
  one = estimate([0.5, 0.5, 0.5], n_resamples=50)
  assert (one.score, one.ci_low, one.ci_high, one.bootstrap_std) == (0.5, 0.5, 0.5, 0.0)
  values = [0.0, 0.2, 0.4, 0.9, 1.0, 0.6, -0.4, 0.3]
  first, again = estimate(values, seed=3), estimate(values, seed=3)
  assert first == again and 0.0 <= first.ci_low < first.score < first.ci_high <= 1.0
  assert first.score == pytest.approx(np.clip(np.mean(values), 0, 1))
  assert 0.05 < first.bootstrap_std < 0.25
  assert estimate(values, seed=4) != first
  with pytest.raises(ValueError):
    estimate([])
  with pytest.raises(ValueError):
    estimate([0.1, float("nan")])


def test_per_example_score_agrees_with_rubric_grading_clipped():
  """xgen's rubric grade clips each item's score to [0, 1]: equal to HealthBench's per-example score clipped,
  so a suite's mean of grades is the ``clip="example"`` overall score, not HealthBench's clipped mean."""
  for example in (A, B, C):
    points, met = [p for p, _, _ in example], [m for _, m, _ in example]
    assert score_points(points, met) == pytest.approx(min(1.0, max(0.0, example_score(example))))
  grades = [score_points([p for p, _, _ in e], [m for _, m, _ in e]) for e in (A, B, C)]
  assert np.mean(grades) == pytest.approx(healthbench_score([A, B, C], clip="example").overall.score)
  assert np.mean(grades) > healthbench_score([A, B, C]).overall.score
