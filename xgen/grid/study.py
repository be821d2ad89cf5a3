"""A study: the conditions of an ablation grid and their seeds, expanded into named cells.

A study is a gin file under ``gin/studies/`` binding ``StudyConfig`` (and, for the shared stages,
``WorldConfig``, ``ModelConfig``, ``SFTConfig`` and ``EvalConfig``). Its ``conditions`` are short
specs, expanded against the world's domains:

=============================  =====================================================================
``pre-rl``                     the base model itself (evaluated, never trained)
``baseline``                   the compute-matched baseline: 100% standard data
``trait-all``                  ``dose`` of trait data from every domain
``only:health``                trait data from that domain only; ``only-each``: one per domain
``without:health+science``     trait data without those domains; ``without-each``: one per domain
``reward-control``             the trait-all mixture graded with the generic helpfulness reward
``dose:1,2,5``                 trait-all at each dose in percent (``dose-1``, ...; 0 is the baseline)
=============================  =====================================================================

Every trained condition runs once per seed, as cell ``<condition>.s<seed>``, with the study's RL
gin files and bindings plus the condition's own bindings (the macros of ``gin/runs/rl.gin``), so
all cells share one RL compute budget.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Sequence

import gin

PRE_RL, BASELINE = "pre-rl", "baseline"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@gin.configurable
@dataclasses.dataclass(frozen=True, kw_only=True)
class StudyConfig:
  name: str = "study"
  conditions: tuple[str, ...] = (PRE_RL, BASELINE, "trait-all")
  seeds: tuple[int, ...] = (0,)
  dose: float = 0.05                           # the trait dose of every trait condition but the sweep
  rl_gin_files: tuple[str, ...] = ("runs/rl.gin",)
  rl_gin_params: tuple[str, ...] = ()          # bindings every cell shares, e.g. "TRAIN_STEPS = 200"
  baseline: str = BASELINE                     # the condition every other one is compared with
  alpha: float = 0.05                          # false discovery rate of the BH correction
  bootstrap_resamples: int = 2000
  analysis_seed: int = 0

  def __post_init__(self):
    for field in ("conditions", "seeds", "rl_gin_files", "rl_gin_params"):
      value = getattr(self, field)
      if isinstance(value, str) or not isinstance(value, (tuple, list)):
        raise ValueError(f"StudyConfig.{field}: give a tuple, got {value!r}")
      object.__setattr__(self, field, tuple(value))
    if not self.conditions:
      raise ValueError("StudyConfig.conditions: name at least one condition")
    if not self.seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.seeds):
      raise ValueError(f"StudyConfig.seeds: give integers >= 0, got {self.seeds!r}")
    if len(set(self.seeds)) != len(self.seeds):
      raise ValueError(f"StudyConfig.seeds: a seed is repeated in {self.seeds!r}")
    if not 0 < self.dose <= 1:
      raise ValueError(f"StudyConfig.dose: must be in (0, 1], got {self.dose!r}")
    if not 0 < self.alpha < 1:
      raise ValueError(f"StudyConfig.alpha: must be in (0, 1), got {self.alpha!r}")


@dataclasses.dataclass(frozen=True)
class Condition:
  name: str
  gin_params: tuple[str, ...]  # bindings of gin/runs/rl.gin's macros
  trained: bool = True


@dataclasses.dataclass(frozen=True)
class Cell:
  name: str
  condition: str
  seed: int
  gin_files: tuple[str, ...]
  gin_params: tuple[str, ...]


def _domains_of(spec: str, argument: str, domains: Sequence[str]) -> tuple[str, ...]:
  names = tuple(d for d in argument.split("+") if d)
  unknown = [d for d in names if d not in domains]
  if not names or unknown:
    raise ValueError(f"StudyConfig.conditions: '{spec}' names unknown domains {unknown or [argument]} "
                     f"(the world has: {', '.join(domains)})")
  return names


def _tuple(names: Sequence[str]) -> str:
  return "(" + "".join(f'"{n}", ' for n in names) + ")"


def _dose_param(dose: float) -> str:
  return f"DOSE = {dose!r}"


def expand_condition(spec: str, *, dose: float, domains: Sequence[str]) -> list[Condition]:
  """The condition(s) one spec stands for."""
  spec = spec.strip()
  trait = [_dose_param(dose)]
  if spec == PRE_RL:
    return [Condition(PRE_RL, (), trained=False)]
  if spec == BASELINE:
    return [Condition(BASELINE, (_dose_param(0.0),))]
  if spec == "trait-all":
    return [Condition("trait-all", tuple(trait))]
  if spec == "reward-control":
    return [Condition("reward-control", (*trait, 'REWARD_MODE = "generic"'))]
  if spec == "only-each":
    return [c for d in domains for c in expand_condition(f"only:{d}", dose=dose, domains=domains)]
  if spec == "without-each":
    return [c for d in domains for c in expand_condition(f"without:{d}", dose=dose, domains=domains)]
  kind, _, argument = spec.partition(":")
  if kind == "only":
    names = _domains_of(spec, argument, domains)
    return [Condition("only-" + "+".join(names), (*trait, f"TRAIT_ONLY = {_tuple(names)}"))]
  if kind == "without":
    names = _domains_of(spec, argument, domains)
    return [Condition("without-" + "+".join(names), (*trait, f"TRAIT_EXCLUDE = {_tuple(names)}"))]
  if kind == "dose":
    conditions = []
    for percent in argument.split(","):
      try:
        value = float(percent)
      except ValueError:
        raise ValueError(f"StudyConfig.conditions: '{spec}': '{percent}' is not a dose in percent") from None
      if not 0 <= value <= 100:
        raise ValueError(f"StudyConfig.conditions: '{spec}': dose {value}% is not in [0, 100]")
      if value == 0:
        conditions.append(Condition(BASELINE, (_dose_param(0.0),)))
      else:
        conditions.append(Condition(f"dose-{value:g}", (_dose_param(value / 100),)))
    return conditions
  raise ValueError(f"StudyConfig.conditions: unknown condition '{spec}' (known: pre-rl, baseline, trait-all, "
                   f"only:D, only-each, without:D+E, without-each, reward-control, dose:P,Q,...)")


def study_conditions(study: StudyConfig, domains: Sequence[str]) -> list[Condition]:
  """Every condition of the study, once each, in the order given; the baseline is always there. A
  condition that trains exactly like an earlier one (``dose-5`` when the dose is 5%, like
  ``trait-all``) is not trained twice: the earlier one stands for it."""
  conditions: dict[str, Condition] = {}
  for spec in study.conditions:
    for condition in expand_condition(spec, dose=study.dose, domains=domains):
      if all(c.gin_params != condition.gin_params or not c.trained for c in conditions.values()):
        conditions.setdefault(condition.name, condition)
  if study.baseline not in conditions:
    conditions = {**{BASELINE: expand_condition(BASELINE, dose=study.dose, domains=domains)[0]}, **conditions}
  return list(conditions.values())


def study_cells(study: StudyConfig, domains: Sequence[str]) -> list[Cell]:
  """The trained cells, condition-major then seed."""
  return [Cell(f"{c.name}.s{seed}", c.name, seed, study.rl_gin_files,
               (*study.rl_gin_params, *c.gin_params, f"SEED = {seed}"))
          for c in study_conditions(study, domains) if c.trained for seed in study.seeds]
