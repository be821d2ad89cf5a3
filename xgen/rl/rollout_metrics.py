"""Summaries of one step's episodes, overall and per pool, domain and trait (or task kind).

Names read ``reward/mean``, ``reward/trait/mean``, ``reward/trait/health/mean``,
``reward/trait/health/truthfulness/mean``, and likewise ``refusal_rate``, ``response_length`` and
``truncation_rate``, ``entropy``, ``clip_fraction`` and ``kl`` (per response token);
``reward/.../spread`` is the mean within-group standard deviation (how much
signal the group gives the advantage). Pure: records in, a flat dict out.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Iterable, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class EpisodeRecord:
  group: int          # episodes of one group share a scenario
  pool: str           # "trait" or "standard"
  domain: str
  category: str       # the trait, or the standard task kind
  reward: float
  refused: bool
  response_tokens: int
  truncated: bool
  entropy_sum: float = 0.0        # over the episode's response tokens, under the policy that sampled them
  clipped_tokens: float = 0.0     # response tokens whose ratio was clipped in the step's first update
  kl_sum: float | None = None     # KL to the reference over the response tokens (None: no reference)


def _summary(records: Sequence[EpisodeRecord]) -> dict[str, float]:
  rewards = np.array([r.reward for r in records], np.float64)
  tokens = max(sum(r.response_tokens for r in records), 1)
  groups: dict[int, list[float]] = defaultdict(list)
  for record in records:
    groups[record.group].append(record.reward)
  return {
      "reward/mean": float(rewards.mean()),
      "reward/spread": float(np.mean([np.std(g) for g in groups.values()])),
      "refusal_rate": float(np.mean([r.refused for r in records])),
      "response_length": float(np.mean([r.response_tokens for r in records])),
      "truncation_rate": float(np.mean([r.truncated for r in records])),
      "entropy": float(sum(r.entropy_sum for r in records) / tokens),
      "clip_fraction": float(sum(r.clipped_tokens for r in records) / tokens),
      "episodes": float(len(records)),
      **({"kl": float(sum(r.kl_sum for r in records) / tokens)} if all(r.kl_sum is not None for r in records)
         else {}),
  }


def _scoped(summary: dict[str, float], scope: str) -> dict[str, float]:
  """``reward/mean`` under scope ``trait/health`` becomes ``reward/trait/health/mean``."""
  out = {}
  for name, value in summary.items():
    head, _, tail = name.partition("/")
    out[f"{head}/{scope}/{tail}" if tail else f"{head}/{scope}"] = value
  return out


def rollout_metrics(records: Iterable[EpisodeRecord]) -> dict[str, float]:
  records = list(records)
  if not records:
    return {}
  metrics = _summary(records)
  scopes: dict[str, list[EpisodeRecord]] = defaultdict(list)
  for record in records:
    scopes[record.pool].append(record)
    scopes[f"{record.pool}/{record.domain}"].append(record)
    scopes[f"{record.pool}/{record.domain}/{record.category}"].append(record)
    scopes[f"{record.pool}/all/{record.category}"].append(record)
  for scope in sorted(scopes):
    metrics.update(_scoped(_summary(scopes[scope]), scope))
  return metrics
