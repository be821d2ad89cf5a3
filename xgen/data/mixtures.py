"""The RL data mixture: which scenarios go into each batch, as a pure function of (seed, step).

A batch of ``B`` scenarios mixes two pools: *trait* scenarios (the behaviour under study) and
*standard* scenarios (ordinary tasks). The ablation grid varies (all in :class:`MixtureConfig`)

* ``dose``: the fraction of trait scenarios. Batch ``step`` holds exactly
  ``floor(dose*B*(step+1)) - floor(dose*B*step)`` trait items, computed with exact
  fractions, so over any first ``n`` steps the realized fraction is within ``1/(B*n)`` of
  the dose;
* which domains each pool may draw from, so domains can be held out of training;
* where each pool's scenarios come from (``trait_source``, ``standard_source``): the world's
  ``trait_train`` / ``standard_train`` split, or the same split of an import (``imports/<name>``,
  ``xgen data import``), so the same grid runs on a researcher's own scenarios; the trainer opens
  them, the domain filters apply to them by their ``domain``;
* which traits are trained, and how replies are rewarded (``reward_mode``, read by the
  trainer).

Each pool is read in a seeded permutation per epoch. Draw ``k`` of a pool (counted over the
whole run) is item ``perm(seed, pool, k // n)[k % n]``, and the number of draws before a
step follows from the dose, so any batch can be computed on its own: the same
``(seed, step)`` always gives the same batch, whatever was asked before.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from fractions import Fraction
from typing import Any, Generic, Protocol, Sequence, TypeVar

import numpy as np

from xgen import validation as v
from xgen.rundir.layout import WORLD as WORLD_DIR, check_name

REWARD_MODES = ("rubric", "generic")
POOLS = ("trait", "standard")
WORLD = WORLD_DIR  # a pool drawn from the run directory's world
IMPORT_PREFIX = "imports/"
SOURCE_FIELDS = {"trait": "trait_source", "standard": "standard_source"}
# Distinct streams of randomness derived from the one seed.
_STREAM = {"trait": 1, "standard": 2, "positions": 3}


class Item(Protocol):
  domain: str
  category: str


T = TypeVar("T", bound=Item)


def _domains(owner: str, only: tuple[str, ...], exclude: tuple[str, ...], prefix: str) -> None:
  if only and exclude:
    raise ValueError(f"{owner}: set {prefix}_only or {prefix}_exclude, not both "
                     f"(got only={v.excerpt(only)}, exclude={v.excerpt(exclude)})")


def _allows(domain: str, only: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
  return domain in only if only else domain not in exclude


def source_import(field: str, source: Any, owner: str = "MixtureConfig") -> str | None:
  """The import a pool's source names (``imports/<name>``), or None for the world; ValueError naming
  ``<owner>.<field>`` for anything else."""
  if source == WORLD:
    return None
  if isinstance(source, str) and source.startswith(IMPORT_PREFIX):
    return check_name(source[len(IMPORT_PREFIX):], f"{owner}.{field}")
  raise ValueError(f"{owner}.{field}: give \"{WORLD}\" or \"{IMPORT_PREFIX}<name>\" (an import made by "
                   f"`xgen data import FILE --name <name>`), got {v.excerpt(source)}")


def dose_fraction(dose: Any) -> Fraction:
  """The dose (a number in [0, 1]) as an exact fraction: a float is read as its shortest decimal (0.3 is 3/10)."""
  v.number_in("MixtureConfig", "dose", dose, 0, 1)
  return Fraction(repr(dose)) if isinstance(dose, float) else Fraction(dose)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MixtureConfig:
  """One cell's data, the grid's data axis, and the dose's one representation.

  ``dose``: the fraction of trait scenarios among each step's scenarios (0..1; required: a study, or
  the ``DOSE`` macro of ``gin/runs/rl.gin``, sets it; ``dose_fraction`` is its exact value). Each
  pool draws from every domain, from ``*_only`` these, or from all but ``*_exclude`` these; ``traits``
  limits the trait scenarios to those categories (empty: all). ``reward_mode``: "rubric" (each
  scenario's own rubric) or "generic" (the reward control: trait items graded by generic helpfulness).
  ``trait_source`` / ``standard_source``: ``WORLD`` (the world's split) or ``imports/<name>`` (that
  split of an import); the filters apply to either.
  """

  dose: float
  trait_only: tuple[str, ...] = ()     # train trait data from these domains only
  trait_exclude: tuple[str, ...] = ()  # hold these domains out of the trait data
  standard_only: tuple[str, ...] = ()
  standard_exclude: tuple[str, ...] = ()
  traits: tuple[str, ...] = ()
  reward_mode: str = "rubric"
  trait_source: str = WORLD     # "world" or "imports/<name>": where the trait pool comes from
  standard_source: str = WORLD  # likewise for the standard pool

  def __post_init__(self):
    dose_fraction(self.dose)
    for field in ("trait_only", "trait_exclude", "standard_only", "standard_exclude", "traits"):
      object.__setattr__(self, field, v.names_tuple("MixtureConfig", field, getattr(self, field)))
    v.choice("MixtureConfig", "reward_mode", self.reward_mode, REWARD_MODES)
    _domains("MixtureConfig", self.trait_only, self.trait_exclude, "trait")
    _domains("MixtureConfig", self.standard_only, self.standard_exclude, "standard")
    for field in SOURCE_FIELDS.values():
      source_import(field, getattr(self, field))

  @property
  def dose_fraction(self) -> Fraction:
    return dose_fraction(self.dose)

  def import_of(self, pool: str) -> str | None:
    """The import ``pool`` ("trait" or "standard") draws from, or None for the world."""
    return source_import(SOURCE_FIELDS[pool], getattr(self, SOURCE_FIELDS[pool]))

  def needs(self, pool: str) -> bool:
    """Whether the dose draws anything from ``pool``."""
    return self.dose_fraction > 0 if pool == "trait" else self.dose_fraction < 1

  def allows(self, pool: str, item: Item) -> bool:
    return self.allows_trait(item) if pool == "trait" else self.allows_standard(item)

  def allows_trait(self, item: Item) -> bool:
    return (_allows(item.domain, self.trait_only, self.trait_exclude)
            and (not self.traits or item.category in self.traits))

  def allows_standard(self, item: Item) -> bool:
    return _allows(item.domain, self.standard_only, self.standard_exclude)


@dataclasses.dataclass(frozen=True)
class MixtureDraw(Generic[T]):
  pool: str  # "trait" or "standard"
  index: int  # into the sequence the sampler was given for that pool
  item: T


def trait_count(dose: Fraction, scenarios: int, steps: int) -> int:
  """Trait scenarios in the first ``steps`` batches of ``scenarios`` each: ``floor(dose * scenarios * steps)``."""
  return math.floor(dose * scenarios * steps)


@functools.lru_cache(maxsize=32)
def _epoch_permutation(seed: int, pool: str, epoch: int, size: int) -> np.ndarray:
  """The order a pool is read in during one epoch (cached: a pure function of its arguments)."""
  order = np.random.default_rng([seed, _STREAM[pool], epoch]).permutation(size)
  order.flags.writeable = False
  return order


def _check_int(value: Any, name: str, minimum: int) -> int:
  return int(v.integer("MixtureSampler", name, value, low=minimum))


def _check_names_exist(mixture: MixtureConfig, trait_items: Sequence[Item], standard_items: Sequence[Item]) -> None:
  """A selected domain or trait that no item has is a typo that would silently hold nothing out."""
  domains = {item.domain for item in trait_items} | {item.domain for item in standard_items}
  for field in ("trait_only", "trait_exclude", "standard_only", "standard_exclude"):
    unknown = [d for d in getattr(mixture, field) if d not in domains]
    if unknown:
      raise ValueError(f"MixtureConfig.{field} names unknown domains {unknown} (known: {sorted(domains)})")
  traits = {item.category for item in trait_items}
  unknown = [t for t in mixture.traits if t not in traits]
  if unknown:
    raise ValueError(f"MixtureConfig.traits names unknown traits {unknown} (known: {sorted(traits)})")


class MixtureSampler(Generic[T]):
  """Deterministic, stateless batches of scenarios mixing the trait and standard pools as ``mixture`` says."""

  def __init__(self, mixture: MixtureConfig, trait_items: Sequence[T], standard_items: Sequence[T], seed: int):
    self.mixture = mixture
    self.seed = _check_int(seed, "seed", 0)
    self.dose = mixture.dose_fraction
    self.trait_items, self.standard_items = trait_items, standard_items
    _check_names_exist(mixture, trait_items, standard_items)
    # Indices into the given sequences of the items each pool may use.
    self.pools = {
        "trait": tuple(i for i, item in enumerate(trait_items) if mixture.allows_trait(item)),
        "standard": tuple(i for i, item in enumerate(standard_items) if mixture.allows_standard(item)),
    }
    if self.dose > 0 and not self.pools["trait"]:
      raise ValueError(f"{mixture}: no trait scenarios left after filtering "
                       f"({len(trait_items)} given), but the dose needs some")
    if self.dose < 1 and not self.pools["standard"]:
      raise ValueError(f"{mixture}: no standard scenarios left after filtering "
                       f"({len(standard_items)} given), but the dose needs some")

  def pool_size(self, pool: str) -> int:
    return len(self.pools[pool])

  def num_trait(self, step: int, scenarios: int) -> int:
    """Trait scenarios in batch ``step`` of ``scenarios``."""
    return (trait_count(self.dose, scenarios, step + 1) - trait_count(self.dose, scenarios, step))

  def _draw(self, pool: str, k: int) -> MixtureDraw[T]:
    """Draw ``k`` (0-based, over the whole run) of ``pool``."""
    indices = self.pools[pool]
    epoch, position = divmod(k, len(indices))
    index = indices[int(_epoch_permutation(self.seed, pool, epoch, len(indices))[position])]
    items = self.trait_items if pool == "trait" else self.standard_items
    return MixtureDraw(pool, index, items[index])

  def batch(self, step: int, scenarios: int) -> list[MixtureDraw[T]]:
    """The ``scenarios`` draws of batch ``step``; trait scenarios sit at seeded positions.

    Keep ``scenarios`` fixed over a run: the draws before ``step`` are counted from it. (The trainer
    asks for ``RLConfig.batch_size / group_size`` scenarios: ``batch_size`` always counts sequences.)
    """
    step = _check_int(step, "step", 0)
    scenarios = _check_int(scenarios, "scenarios", 1)
    traits_before = trait_count(self.dose, scenarios, step)
    num_trait = self.num_trait(step, scenarios)
    standard_before = scenarios * step - traits_before
    rng = np.random.default_rng([self.seed, _STREAM["positions"], step])
    is_trait = np.zeros(scenarios, dtype=bool)
    is_trait[rng.choice(scenarios, size=num_trait, replace=False)] = True
    draws, next_trait, next_standard = [], traits_before, standard_before
    for trait_slot in is_trait:
      if trait_slot:
        draws.append(self._draw("trait", next_trait))
        next_trait += 1
      else:
        draws.append(self._draw("standard", next_standard))
        next_standard += 1
    return draws
