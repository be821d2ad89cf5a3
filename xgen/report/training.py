"""Whether each condition's training took: the rise of its trait reward (and of its standard reward) over its
RL steps, read from every finished cell's metrics.jsonl (``xgen.analysis.training.reward_rise``), for the
report's notes and the claims table's caveats. C1-C3 test what trait training does; they only test it where the
trait reward rose."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from xgen import rundir
from xgen.analysis.training import RewardRise, reward_rise

TRAIT_REWARD, STANDARD_REWARD = "reward/trait/mean", "reward/standard/mean"
LABELS = {TRAIT_REWARD: "trait reward", STANDARD_REWARD: "standard-task reward"}
GENERIC = "trait items graded by the generic reward"  # the reward control's "trait reward"
TREATED = "trait-all"  # the condition whose trait reward says whether the trait training took
SCOPE_PREFIX = "reward/trait/"  # + "all/<trait>/mean" or "<domain>/mean": the trait reward on one scope


def metric_points(rows: Sequence[dict], metric: str) -> list[tuple[int, float]]:
  """(step, value) of ``metric`` in the rows of a metrics.jsonl that log it."""
  return [(row["step"], float(row[metric])) for row in rows
          if isinstance(row.get(metric), (int, float)) and isinstance(row.get("step"), int)]


FinishedCell = tuple  # (entry, condition, study seed, metric rows, last step), from ``finished_cells``


def finished_cells(workdir: str | Path) -> list[FinishedCell]:
  """(entry, condition, study seed, metric rows, last step) of every finished cell that names its condition:
  each metrics.jsonl read once, for ``reward_rises`` and ``scope_rises`` both."""
  out = []
  for entry in rundir.list_cells(workdir):
    if entry.status.get("state") != rundir.DONE or entry.problem or not entry.record.get("condition"):
      continue
    rows = rundir.read_jsonl(rundir.metrics_path(entry.directory))
    last_step = max((row["step"] for row in rows if isinstance(row.get("step"), int)), default=0)
    out.append((entry, entry.record["condition"], entry.record.get("seed", 0), rows, last_step))
  return out


def rises_of(series: dict, last_steps: dict) -> list[RewardRise]:
  """series[metric][label][seed] = points -> the rises, per metric in its order and label in name order."""
  rises = []
  for metric, by_label in series.items():
    for label in sorted(by_label):
      rise = reward_rise(by_label[label], metric=metric, condition=label, last_step=last_steps[label])
      if rise is not None:
        rises.append(rise)
  return rises


def reward_rises(cells: Sequence[FinishedCell]) -> list[RewardRise]:
  """Per metric (trait, then standard reward) and condition (in name order), the rise over the finished cells of
  that condition (``finished_cells``), each paired by its study seed; conditions that never logged the metric are
  left out."""
  series: dict[str, dict[str, dict[int, list[tuple[int, float]]]]] = {TRAIT_REWARD: {}, STANDARD_REWARD: {}}
  last_steps: dict[str, int] = {}
  for entry, condition, run_seed, rows, last_step in cells:
    generic = (entry.record.get("mixture") or {}).get("reward_mode") == "generic"
    for metric, by_condition in series.items():
      points = metric_points(rows, metric)
      label = f"{condition} ({GENERIC})" if generic and metric == TRAIT_REWARD else condition
      if points:
        by_condition.setdefault(label, {})[run_seed] = points
        last_steps[label] = max(last_steps.get(label, 0), last_step)
  return rises_of(series, last_steps)


def scope_rises(cells: Sequence[FinishedCell], condition: str = TREATED) -> list[RewardRise]:
  """``condition``'s trait reward rise on each trait (``reward/trait/all/<trait>/mean``) and each domain
  (``reward/trait/<domain>/mean``) its cells (``finished_cells``) logged, traits first; each rise's
  ``condition`` names its scope."""
  series: dict[str, dict[str, dict[int, list[tuple[int, float]]]]] = {}
  last_steps: dict[str, int] = {}
  for _, name, run_seed, rows, last_step in cells:
    if name != condition:
      continue
    for metric in {key for row in rows for key in row if key.startswith(SCOPE_PREFIX) and key.endswith("/mean")}:
      scope = metric[len(SCOPE_PREFIX):-len("/mean")]
      if not scope or scope.count("/") != (1 if scope.startswith("all/") else 0):
        continue  # the overall mean, or a (domain, trait) pair: too few steps each to say anything
      points, label = metric_points(rows, metric), scope.removeprefix("all/")
      if points:
        series.setdefault(metric, {}).setdefault(label, {})[run_seed] = points
        last_steps[label] = max(last_steps.get(label, 0), last_step)
  ordered = sorted(series, key=lambda metric: (not metric.startswith(SCOPE_PREFIX + "all/"), metric))
  return rises_of({metric: series[metric] for metric in ordered}, last_steps)


def scope_line(rises: Sequence[RewardRise], condition: str = TREATED) -> list[str]:
  """One note: ``condition``'s trait reward rise per trait and per domain (``scope_rises``), unadjusted."""
  if not rises:
    return []
  parts = [f"{r.condition} {r.rise:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]" for r in rises]
  return [f"{condition}'s trait reward by trait, then by domain (the same rise on each scope's own reward, "
          f"{rises[0].seeds} seeds, unadjusted for the {len(rises)} scopes): " + "; ".join(parts) + "."]


def rise_lines(rises: Sequence[RewardRise]) -> list[str]:
  """One note per metric: each condition's rise with its interval."""
  lines = []
  for metric, label in LABELS.items():
    parts = [f"{r.condition} {r.text()}" for r in rises if r.metric == metric]
    if parts:
      lines.append(f"Training {label}, mean over the second half of the RL steps minus the first, per condition "
                   "(mean over seeds; 95% interval from batch means over steps, seeds fixed): "
                   + "; ".join(parts) + ".")
  return lines


def treatment_caveat(rises: Sequence[RewardRise]) -> str | None:
  """The claims table's caveat on whether trait-all's trait training took (None without a trait-all trait
  reward)."""
  rise = next((r for r in rises if r.metric == TRAIT_REWARD and r.condition == TREATED), None)
  if rise is None:
    return None
  if rise.rose:
    return f"The trait training took: {TREATED}'s trait reward rose by {rise.text()}."
  return (f"The trait training did not measurably take: {TREATED}'s trait reward changed by {rise.text()}, an "
          f"interval that does not lie above 0; C1-C3 then compare arms whose trait reward did not rise.")
