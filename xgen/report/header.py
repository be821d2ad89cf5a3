"""The report's opening: the study's settings as (label, value) lines, and the caveats that bound what it
can show, both from plain records (``records.StudyRecords``) and the per-suite deltas. Pure.

A one-seed study gets the caveat that its intervals cover item sampling only; a study named
"quickstart" the caveat that it is a smoke test of the pipeline and cannot test a claim.
"""

from __future__ import annotations

from typing import Any, Sequence

from xgen.analysis.transfer import SuiteDelta
from xgen.models.config import ModelConfig
from xgen.report import claims as cl
from xgen.report import formatting as fmt

FLOOR, CEILING = 0.05, 0.95  # a baseline level below FLOOR or above CEILING leaves a suite little room to move
PAPER_DOSE = 0.05
RAW_ALPHA = 0.05  # the level at which the A/A arm's uncorrected p-values are counted


def interval_kind(deltas) -> str:
  """What the intervals of these deltas are, by the test that made them (``SuiteDelta.p_method``)."""
  if any(d.p_method == "runs" for d in deltas):
    return ("95% intervals of Student's t over the training runs (the runs' spread, seed K paired with seed K, "
            "plus the sampling of items), from the same test as the p-values")
  return "95% bootstrap intervals"


def parameter_text(model: Any) -> str:
  """"4 layers, d_model 128 (0.70 M parameters)" from a recorded ModelConfig; n/a if it does not check."""
  try:
    config = ModelConfig(**model)
  except (TypeError, ValueError):
    return fmt.NOT_AVAILABLE
  return f"{config.n_layers} layers, d_model {config.d_model} ({config.num_params() / 1e6:.2f} M parameters)"


def span(values: Sequence[int]) -> str:
  """"40" or "32-40"; n/a when empty."""
  if not values:
    return fmt.NOT_AVAILABLE
  low, high = min(values), max(values)
  return f"{low}" if low == high else f"{low}-{high}"


def minutes(seconds: float | None) -> str:
  return fmt.NOT_AVAILABLE if seconds is None else f"{seconds / 60:.1f} min"


def seeds_of(study: dict | None, deltas: Sequence[SuiteDelta]) -> int:
  """Seeds per trained condition: the study's list, else the most any condition was evaluated with."""
  if study and isinstance(study.get("seeds"), list) and study["seeds"]:
    return len(study["seeds"])
  return max((d.n_seeds for d in deltas), default=0)


def header_items(study: dict | None, cells: Sequence[dict], deltas: Sequence[SuiteDelta], *, samples: int,
                 pretrain_seconds: float | None, rl_seconds: float | None,
                 conditions: Sequence[str] = ()) -> list[tuple[str, str]]:
  """The study's settings, one (label, value) per line of the header (``conditions``: those analysed, in
  order; by default the ones the deltas name)."""
  conditions = list(conditions) or list(dict.fromkeys(d.condition for d in deltas))
  cell = cells[0] if cells else {}
  rl, mixture = cell.get("rl") or {}, cell.get("mixture") or {}
  dose = (study or {}).get("dose", mixture.get("dose"))
  dose_text = fmt.NOT_AVAILABLE if not fmt.is_number(dose) else f"{100 * dose:g}% trait data (paper: 5%)"
  per_step = rl.get("batch_size")
  return [("study", str((study or {}).get("name", fmt.NOT_AVAILABLE))),
          ("model", parameter_text(cell.get("model") or {})),
          ("trait dose", dose_text),
          ("RL steps", str(rl.get("steps", fmt.NOT_AVAILABLE))),
          ("responses per step", fmt.NOT_AVAILABLE if per_step is None
           else f"{per_step} ({rl.get('group_size', '?')} per prompt)"),
          ("seeds per condition", str(seeds_of(study, deltas))),
          ("conditions", ", ".join(conditions) or fmt.NOT_AVAILABLE),
          ("items per suite", span([d.n_items for d in deltas])),
          ("suites", str(len({d.suite for d in deltas}))),
          ("eval responses per item", "greedy" if not samples else f"greedy + {samples} sampled"),
          ("wall time", f"pretraining {minutes(pretrain_seconds)}, RL cells {minutes(rl_seconds)} (summed)")]


def caveats(study: dict | None, deltas: Sequence[SuiteDelta]) -> list[str]:
  """What the study cannot show, most binding first."""
  notes = []
  name = (study or {}).get("name")
  if name == "quickstart":
    notes.append("The quickstart is a smoke test of the pipeline: its numbers cannot test any claim of the paper, "
                 "either way.")
  seeds = seeds_of(study, deltas)
  if seeds < cl.MIN_SEEDS:
    shared = ", and every row shares one baseline run" if seeds == 1 else ""
    notes.append(f"{cl.seeds_text(seeds).capitalize()}: {cl.seeds_limit(seeds)}{shared}. A claim needs at least "
                 f"{cl.MIN_SEEDS} seeds.")
  dose = (study or {}).get("dose")
  if fmt.is_number(dose) and dose != PAPER_DOSE:
    notes.append(f"The trait dose is {100 * dose:g}%, the paper's is {100 * PAPER_DOSE:g}%.")
  notes.append(f"Confidence intervals are unadjusted {interval_kind(deltas)}; only q-values (and *) are corrected "
               "for multiple comparisons (Benjamini-Hochberg).")
  aa = aa_note(deltas)
  if aa:
    notes.append(aa)
  flagged = level_flags(deltas)
  if flagged:
    notes.append(f"{len(flagged)} suites sit at the floor (baseline < {100 * FLOOR:g}) or the ceiling "
                 f"(> {100 * CEILING:g}) and can hardly move: {', '.join(sorted(flagged))}.")
  return notes


def aa_note(deltas: Sequence[SuiteDelta]) -> str | None:
  """What the A/A arm (the baseline trained again on other seeds) says about this study's error rate: every
  suite it calls significant is a false positive of a test that ignores run-to-run variation."""
  arm = [d for d in deltas if d.condition == cl.AA_CONDITION]
  if not arm:
    return None
  called = sum(d.significant for d in arm)
  verdict = "false positives, run-to-run variation alone" if called else "as a calibrated test should"
  if called and any(d.p_method == "permutation" for d in arm):
    verdict += ("; every other condition is therefore tested with at least the run variance the A/A arm shows in "
                "each family")
  raw = sum(d.p_value < RAW_ALPHA for d in arm)
  return (f"The A/A arm ({cl.AA_CONDITION}: the baseline trained again on other seeds) is called significantly "
          f"different from the baseline on {called} of {len(arm)} suites: {verdict}. Before correction {raw} of "
          f"{len(arm)} have p < {RAW_ALPHA:g}, about {RAW_ALPHA * len(arm):.1f} expected by chance (suites of one "
          f"family share their runs, so they tend to come together).")


def level_flag(level: float) -> str:
  """"floor", "ceiling" or "" for an absolute level in [0, 1]."""
  if not fmt.is_number(level):
    return ""
  return "floor" if level < FLOOR else "ceiling" if level > CEILING else ""


def level_flags(deltas: Sequence[SuiteDelta]) -> dict[str, str]:
  """suite -> "floor" or "ceiling", by the baseline's level (the same in every condition's row)."""
  return {d.suite: flag for d in deltas if (flag := level_flag(d.baseline_mean))}
