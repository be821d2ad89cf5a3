"""HealthBench's score, as its published grader (openai/simple-evals, ``healthbench_eval.py``) computes it.

Input: per example, its criteria as ``(points, met, tags)`` triples (``met`` the judge's verdict), and
optionally the example's own tags (``example_tags``).

* An example's score: the points of its met criteria over the sum of its positive points. Not clipped per
  example: a met penalty can take it below 0 (it cannot exceed 1, since only positive points raise it).
  An example without positive points has no score (HealthBench asserts this never happens; here ValueError).
* The overall score: the mean of the example scores, then clipped to [0, 1] (``clip="mean"``). With
  ``clip="example"`` each example's score is clipped to [0, 1] first, then averaged: what
  :func:`xgen.graders.rubric.score_points` does per item, so the mean of xgen's rubric grades. The two agree
  when no example's score is negative; otherwise the per-example clip is the higher.
* A criterion tag's score (``axis:accuracy``): per example, the same ratio over only that example's criteria
  with the tag, where those include a positive criterion (else the example has no score for the tag); then
  clipped-mean over the examples that have one.
* An example tag's score (``theme:emergency_referrals``): the clipped mean of the overall scores of the
  examples carrying the tag.
* Uncertainty: examples are resampled with replacement (``n_resamples`` times, seeded) and the statistic
  recomputed, clip included. HealthBench reports the standard deviation of those resampled means
  (``bootstrap_std``); the percentile interval (``ci_low``, ``ci_high``) is given as well.

Pure numpy; nothing here knows the graders or the eval rows.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from xgen.analysis.bootstrap import percentile_interval

CLIPS = ("mean", "example")
CriterionResult = tuple[float, bool, Sequence[str]]  # (points, met, tags)


@dataclasses.dataclass(frozen=True)
class Estimate:
  """A clipped mean over ``n`` examples with its bootstrap spread."""

  score: float
  ci_low: float
  ci_high: float
  bootstrap_std: float
  n: int


@dataclasses.dataclass(frozen=True)
class HealthBenchScore:
  """The overall score, and the score per criterion tag and per example tag (tags sorted)."""

  overall: Estimate
  criterion_tags: Mapping[str, Estimate]
  example_tags: Mapping[str, Estimate]


def ratio(criteria: Sequence[CriterionResult]) -> float | None:
  """Met points over positive points, unclipped; None when no criterion has positive points."""
  best = sum(float(points) for points, _, _ in criteria if points > 0)
  if best <= 0:
    return None
  return sum(float(points) for points, met, _ in criteria if met) / best


def example_score(criteria: Sequence[CriterionResult]) -> float:
  """One example's HealthBench score (unclipped; ValueError without a positive criterion)."""
  score = ratio(criteria)
  if score is None:
    raise ValueError("an example needs a criterion with positive points")
  return score


def tag_ratios(criteria: Sequence[CriterionResult]) -> dict[str, float]:
  """Per criterion tag, the ratio over the criteria carrying it (tags whose criteria have no positive points
  are left out)."""
  tags = sorted({tag for _, _, tags in criteria for tag in tags})
  scores = {tag: ratio([c for c in criteria if tag in c[2]]) for tag in tags}
  return {tag: score for tag, score in scores.items() if score is not None}


def clipped_means(values: np.ndarray, clip: str) -> np.ndarray:
  """The statistic along the last axis: mean then clip (``mean``), or clip then mean (``example``)."""
  if clip == "mean":
    return np.clip(values.mean(axis=-1), 0.0, 1.0)
  if clip == "example":
    return np.clip(values, 0.0, 1.0).mean(axis=-1)
  raise ValueError(f"clip must be one of {', '.join(CLIPS)}, got {clip!r}")


def estimate(values: Sequence[float], *, clip: str = "mean", n_resamples: int = 1000, seed: int = 0,
             confidence: float = 0.95) -> Estimate:
  """The clipped mean of per-example scores, with its bootstrap std and percentile interval."""
  array = np.asarray(values, dtype=float)
  if array.ndim != 1 or array.size == 0 or not np.isfinite(array).all():
    raise ValueError(f"need a non-empty list of finite scores, got shape {array.shape}")
  if n_resamples < 1:
    raise ValueError(f"n_resamples must be positive, got {n_resamples}")
  draws = np.random.default_rng(seed).integers(0, array.size, size=(n_resamples, array.size))
  resampled = clipped_means(array[draws], clip)
  low, high = percentile_interval(resampled, confidence)
  return Estimate(score=float(clipped_means(array, clip)), ci_low=low, ci_high=high,
                  bootstrap_std=float(resampled.std()), n=int(array.size))


def by_tag(tagged: Sequence[Mapping[str, float]], **options) -> dict[str, Estimate]:
  """Per tag, the estimate over the examples that have a score for it."""
  tags = sorted({tag for scores in tagged for tag in scores})
  return {tag: estimate([scores[tag] for scores in tagged if tag in scores], **options) for tag in tags}


def healthbench_score(examples: Sequence[Sequence[CriterionResult]],
                      example_tags: Sequence[Sequence[str]] | None = None, *, clip: str = "mean",
                      n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95) -> HealthBenchScore:
  """The overall, per-criterion-tag and per-example-tag scores of graded examples (see the module docstring)."""
  if example_tags is not None and len(example_tags) != len(examples):
    raise ValueError(f"example_tags needs one entry per example: {len(example_tags)} for {len(examples)}")
  options = dict(clip=clip, n_resamples=n_resamples, seed=seed, confidence=confidence)
  scores = [example_score(criteria) for criteria in examples]
  per_example_tags = [{tag: score for tag in tags} for tags, score in zip(example_tags or [], scores)]
  return HealthBenchScore(overall=estimate(scores, **options),
                          criterion_tags=by_tag([tag_ratios(criteria) for criteria in examples], **options),
                          example_tags=by_tag(per_example_tags, **options))
