"""A study: the conditions of an ablation grid and their seeds, expanded into named cells.

A study is a gin file under ``gin/studies/`` binding ``StudyConfig`` (and, for the shared stages,
``WorldConfig``, ``ModelConfig``, ``SFTConfig`` and ``EvalConfig``). Its ``conditions`` are short
specs, expanded against the domains of the trait data (the world's, or with ``StudyConfig.trait_source =
"imports/<name>"`` that import's ``trait_train`` split, which every trait condition then draws from and which
names it: ``trait-all-from-<name>``, ``only-health-from-<name>``; the baseline keeps the world's standard data):

=============================  =====================================================================
``pre-rl``                     the base model itself (evaluated, never trained)
``baseline``                   the compute-matched baseline: 100% standard data
``trait-all``                  ``dose`` of trait data from every domain
``only:health``                trait data from that domain only; ``only-each``: one per domain
``without:health+science``     trait data without those domains; ``without-each``: one per domain
``reward-control``             the trait-all mixture graded with the generic helpfulness reward
``dose:1,2,5``                 trait-all at each dose in percent (``dose-1``, ...; 0 is the baseline)
``a/a``                        the baseline trained again on other seeds (``baseline-aa``): an arm with
                               no true difference, whose significant suites measure the study's own
                               false-positive rate
=============================  =====================================================================

Every trained condition is a ``MixtureConfig``, named by ``condition_name`` (the names above), and
runs once per seed, as cell ``<condition>.s<seed>``, with the study's RL gin files and bindings plus
the mixture's bindings (``mixture_bindings``: the macros of ``gin/runs/rl.gin``) and its seed, so all
cells share one RL compute budget.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import gin

from xgen import validation as v
from xgen.config import config_error_line
from xgen.data.mixtures import WORLD, MixtureConfig, dose_fraction, source_import

PRE_RL, BASELINE, AA = "pre-rl", "baseline", "baseline-aa"
AA_SEED_OFFSET = 1000  # the A/A arm's cell sK trains with seed K + this: another data stream and sampling key
OWNER = "StudyConfig"


@gin.configurable
@dataclasses.dataclass(frozen=True, kw_only=True)
class StudyConfig:
  name: str = "study"
  conditions: tuple[str, ...] = (PRE_RL, BASELINE, "trait-all")
  seeds: tuple[int, ...] = (0,)
  dose: float | None = None                    # the trait dose of every trait condition but the sweep; no
                                               # default: a study with such a condition must set it
  rl_gin_files: tuple[str, ...] = ("runs/rl.gin",)
  rl_gin_params: tuple[str, ...] = ()          # bindings every cell shares, e.g. "TRAIN_STEPS = 200"
  baseline: str = BASELINE                     # the condition every other one is compared with
  alpha: float = 0.05                          # false discovery rate of the BH correction
  bootstrap_resamples: int = 2000
  analysis_seed: int = 0
  personas: tuple[str, ...] = ()               # persona prompts (names in W/world/personas.json) every cell of
                                               # persistence_conditions is also evaluated under
  attack: bool = False                         # the harmful fine-tuning attack (AttackConfig's budget) on
                                               # every cell of persistence_conditions, then its evaluation
  persistence_conditions: tuple[str, ...] = (PRE_RL, BASELINE, "trait-all")  # the arms the protocols compare
  extra_suites: tuple[str, ...] = ()           # imports (``imports/<name>`` or ``<name>``: W/imports/) whose eval
                                               # suites every checkpoint is also evaluated on
  trait_source: str = WORLD                    # where every trait condition's trait pool comes from: the world,
                                               # or an import's trait_train split (``imports/<name>``)

  def __post_init__(self):
    v.string(OWNER, "name", self.name)
    conditions = v.strings_tuple(OWNER, "conditions", self.conditions, what="conditions")
    if not conditions:
      raise ValueError("StudyConfig.conditions: name at least one condition")
    seeds = v.sequence(OWNER, "seeds", self.seeds, "seeds")
    if not seeds:
      raise ValueError("StudyConfig.seeds: give at least one seed")
    for seed in seeds:
      v.non_negative_int(OWNER, "seeds", seed)
    if len(set(seeds)) != len(seeds):
      raise ValueError(f"StudyConfig.seeds: a seed is repeated in {v.excerpt(seeds)}")
    object.__setattr__(self, "conditions", conditions)
    object.__setattr__(self, "seeds", seeds)
    object.__setattr__(self, "rl_gin_files", v.strings_tuple(OWNER, "rl_gin_files", self.rl_gin_files,
                                                             what="gin files"))
    object.__setattr__(self, "rl_gin_params", v.strings_tuple(OWNER, "rl_gin_params", self.rl_gin_params,
                                                              what="gin bindings"))
    if self.dose is not None:
      v.number_in(OWNER, "dose", self.dose, 0.0, 1.0, low_open=True)
    v.string(OWNER, "baseline", self.baseline)
    v.number_in(OWNER, "alpha", self.alpha, 0.0, 1.0, low_open=True, high_open=True)
    v.positive_int(OWNER, "bootstrap_resamples", self.bootstrap_resamples)
    v.non_negative_int(OWNER, "analysis_seed", self.analysis_seed)
    for field in ("personas", "persistence_conditions"):
      names = v.strings_tuple(OWNER, field, getattr(self, field), what="names")
      if len(set(names)) != len(names):
        raise ValueError(f"StudyConfig.{field}: a name is repeated in {v.excerpt(names)}")
      object.__setattr__(self, field, names)
    v.boolean(OWNER, "attack", self.attack)
    object.__setattr__(self, "extra_suites", _extra_suites(self.extra_suites))
    source_import("trait_source", self.trait_source, OWNER)


def _extra_suites(value: Any) -> tuple[str, ...]:
  """``StudyConfig.extra_suites`` checked: import names, none repeated."""
  from xgen.eval.suites import import_name
  specs = v.strings_tuple(OWNER, "extra_suites", value, what="imports")
  names = [import_name(spec, f"{OWNER}.extra_suites") for spec in specs]
  if len(set(names)) != len(names):
    raise ValueError(f"{OWNER}.extra_suites: an import is repeated in {v.excerpt(specs)}")
  return specs


def study_record(study: StudyConfig) -> dict[str, Any]:
  """The study's settings as plain JSON data, for ``rundir.study_json_path`` (read back by
  ``study_from_record``: data, unlike a gin file, cannot run code when read)."""
  return dataclasses.asdict(study)


def study_from_record(record: Any, where: str, **overrides: Any) -> StudyConfig:
  """The StudyConfig that ``study_record`` wrote, with ``overrides`` on top, checked as any StudyConfig
  is; a problem raises ValueError naming ``where`` (the file) and the field."""
  if not isinstance(record, Mapping):
    raise ValueError(f"{where}: holds {v.excerpt(record)}, not the fields of a StudyConfig")
  known = [field.name for field in dataclasses.fields(StudyConfig)]
  unknown = sorted(set(record) - set(known))
  if unknown:
    raise ValueError(f"{where}: {v.excerpt(unknown[0])} is not a StudyConfig field (fields: {', '.join(known)})")
  try:
    return StudyConfig(**{**record, **overrides})
  except (TypeError, ValueError) as error:
    raise ValueError(f"{where}: {config_error_line(error)}") from None


@dataclasses.dataclass(frozen=True)
class Condition:
  name: str
  mixture: MixtureConfig | None  # None: the base model itself, evaluated but never trained
  seed_offset: int = 0           # the cell of study seed K trains with seed K + seed_offset (the A/A arm)

  @property
  def trained(self) -> bool:
    return self.mixture is not None


@dataclasses.dataclass(frozen=True)
class Cell:
  name: str
  condition: str
  seed: int                      # the study's seed K, which pairs the cell with baseline.sK
  gin_files: tuple[str, ...]
  gin_params: tuple[str, ...]    # SEED = K + the condition's seed_offset among them


def condition_name(mixture: MixtureConfig, study_dose: float | None = None) -> str:
  """The one name a mixture's condition goes by, in a study and in ``xgen train`` alike: ``baseline``
  (no trait data), ``trait-all``, ``only-health``, ``without-health+science``, ``reward-control``, or
  their combinations, followed by ``-dose-<percent>`` unless the dose is the study's (``trait-all``
  at another dose is ``dose-<percent>``). Without a study (``study_dose`` None) the dose is always named.
  A pool drawn from an import adds a suffix: ``-from-<name>`` (trait), ``-standard-from-<name>``."""
  return _trained_name(mixture, study_dose) + _source_suffix(mixture)


def _source_suffix(mixture: MixtureConfig) -> str:
  """``-from-<import>`` for an imported trait pool, then ``-standard-from-<import>``; "" for the world's."""
  suffix = ""
  for pool, prefix in (("trait", "from"), ("standard", "standard-from")):
    name = mixture.import_of(pool)
    suffix += f"-{prefix}-{name}" if name else ""
  return suffix


def _trained_name(mixture: MixtureConfig, study_dose: float | None) -> str:
  """The name of the mixture's condition, its sources aside."""
  if mixture.dose == 0:
    return BASELINE
  parts = []
  for field, prefix in (("trait_only", "only"), ("trait_exclude", "without"), ("standard_only", "standard-only"),
                        ("standard_exclude", "standard-without"), ("traits", "traits")):
    if getattr(mixture, field):
      parts.append(f"{prefix}-{'+'.join(getattr(mixture, field))}")
  if mixture.reward_mode == "generic":
    parts.append("reward-control")
  if study_dose is None or mixture.dose_fraction != dose_fraction(study_dose):
    parts.append(f"dose-{float(mixture.dose_fraction * 100):g}")
  return "-".join(parts) if parts else "trait-all"


_MACROS = {"dose": "DOSE", "trait_only": "TRAIT_ONLY", "trait_exclude": "TRAIT_EXCLUDE", "reward_mode": "REWARD_MODE"}


def _gin_value(value: Any) -> str:
  if isinstance(value, tuple):
    return "(" + "".join(f"{_gin_value(item)}, " for item in value) + ")"
  return f'"{value}"' if isinstance(value, str) else repr(value)


def mixture_bindings(mixture: MixtureConfig) -> tuple[str, ...]:
  """The gin bindings that give a cell of ``gin/runs/rl.gin`` this mixture: the dose always, every
  other field where it is not the default (through rl.gin's macro where it has one)."""
  default = MixtureConfig(dose=0.0)
  bindings = []
  for field in dataclasses.fields(MixtureConfig):
    value = getattr(mixture, field.name)
    if field.name == "dose" or value != getattr(default, field.name):
      target = _MACROS.get(field.name, f"MixtureConfig.{field.name}")
      bindings.append(f"{target} = {_gin_value(value)}")
  return tuple(bindings)


def _domains_of(spec: str, argument: str, domains: Sequence[str]) -> tuple[str, ...]:
  names = tuple(d for d in argument.split("+") if d)
  unknown = [d for d in names if d not in domains]
  if not names or unknown:
    raise ValueError(f"StudyConfig.conditions: '{spec}' names unknown domains {unknown or [argument]} "
                     f"(the trait data has: {', '.join(domains)})")
  return names


def _dose_sweep(spec: str, argument: str) -> list[float]:
  doses = []
  for percent in argument.split(","):
    try:
      value = float(percent)
    except ValueError:
      raise ValueError(f"StudyConfig.conditions: '{spec}': '{percent}' is not a dose in percent") from None
    if not 0 <= value <= 100:
      raise ValueError(f"StudyConfig.conditions: '{spec}': dose {value}% is not in [0, 100]")
    doses.append(value / 100)
  return doses


def _mixtures(spec: str, dose: float | None, domains: Sequence[str]) -> list[MixtureConfig | None]:
  """The mixture(s) of one condition spec (None for the untrained base)."""
  if spec == PRE_RL:
    return [None]
  if spec in (BASELINE, "a/a"):
    return [MixtureConfig(dose=0.0)]
  if spec.startswith("dose:"):
    return [MixtureConfig(dose=value) for value in _dose_sweep(spec, spec.partition(":")[2])]
  kind, _, argument = spec.partition(":")
  if spec not in ("trait-all", "reward-control", "only-each", "without-each") and kind not in ("only", "without"):
    raise ValueError(f"StudyConfig.conditions: unknown condition '{spec}' (known: pre-rl, baseline, trait-all, "
                     f"only:D, only-each, without:D+E, without-each, reward-control, dose:P,Q,..., a/a)")
  if dose is None:
    raise ValueError(f"StudyConfig.dose: condition '{spec}' trains at the study's dose, and the study sets none "
                     f"(bind StudyConfig.dose = 0.05, say, in the study's gin file)")
  if spec == "trait-all":
    return [MixtureConfig(dose=dose)]
  if spec == "reward-control":
    return [MixtureConfig(dose=dose, reward_mode="generic")]
  if spec in ("only-each", "without-each"):
    return [MixtureConfig(dose=dose, **{"trait_only" if spec == "only-each" else "trait_exclude": (d,)})
            for d in domains]
  if kind == "only":
    return [MixtureConfig(dose=dose, trait_only=_domains_of(spec, argument, domains))]
  return [MixtureConfig(dose=dose, trait_exclude=_domains_of(spec, argument, domains))]


def expand_condition(spec: str, *, dose: float | None, domains: Sequence[str],
                     trait_source: str = WORLD) -> list[Condition]:
  """The condition(s) one spec stands for, named by ``condition_name`` against the study's dose; a condition
  with trait data draws it from ``trait_source`` (``domains`` are then that source's)."""
  spec = spec.strip()
  if spec == "a/a":
    return [Condition(AA, MixtureConfig(dose=0.0), seed_offset=AA_SEED_OFFSET)]
  mixtures = [m if m is None or m.dose == 0 else dataclasses.replace(m, trait_source=trait_source)
              for m in _mixtures(spec, dose, domains)]
  return [Condition(PRE_RL, None) if mixture is None else Condition(condition_name(mixture, dose), mixture)
          for mixture in mixtures]


def study_conditions(study: StudyConfig, domains: Sequence[str]) -> list[Condition]:
  """Every condition of the study, once each, in the order given; the baseline is always there. A
  condition that trains exactly like an earlier one (``dose:5`` when the dose is 5%, like
  ``trait-all``) is not trained twice: the earlier one stands for it."""
  conditions: dict[str, Condition] = {}
  for spec in study.conditions:
    for condition in expand_condition(spec, dose=study.dose, domains=domains, trait_source=study.trait_source):
      if all((c.mixture, c.seed_offset) != (condition.mixture, condition.seed_offset) or not c.trained
             for c in conditions.values()):
        conditions.setdefault(condition.name, condition)
  if study.baseline not in conditions:
    conditions = {**{BASELINE: expand_condition(BASELINE, dose=study.dose, domains=domains)[0]}, **conditions}
  return list(conditions.values())


def persistence_arms(study: StudyConfig, domains: Sequence[str]) -> list[Condition]:
  """The conditions the persona and attack protocols compare, checked against the study's own; ValueError
  naming ``StudyConfig.persistence_conditions`` for a condition the study does not have."""
  conditions = {c.name: c for c in study_conditions(study, domains)}
  unknown = [name for name in study.persistence_conditions if name not in conditions]
  if unknown:
    raise ValueError(f"StudyConfig.persistence_conditions: {', '.join(map(repr, unknown))} is not a condition of "
                     f"this study (its conditions: {', '.join(conditions)})")
  return [conditions[name] for name in study.persistence_conditions]


def study_cells(study: StudyConfig, domains: Sequence[str]) -> list[Cell]:
  """The trained cells, condition-major then seed."""
  return [Cell(f"{c.name}.s{seed}", c.name, seed, study.rl_gin_files,
               (*study.rl_gin_params, *mixture_bindings(c.mixture), f"SEED = {seed + c.seed_offset}"))
          for c in study_conditions(study, domains) if c.trained for seed in study.seeds]
