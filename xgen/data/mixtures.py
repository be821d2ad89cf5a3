"""The RL data mixture: which scenarios go into each batch, as a pure function of (seed, step).

A batch of ``B`` items mixes two pools: *trait* scenarios (the behaviour under study) and
*standard* scenarios (ordinary tasks). The ablation grid varies

* ``dose``: the fraction of trait items. Batch ``step`` holds exactly
  ``floor(dose*B*(step+1)) - floor(dose*B*step)`` trait items, computed with exact
  fractions, so over any first ``n`` steps the realized fraction is within ``1/(B*n)`` of
  the dose;
* which domains each pool may draw from (:class:`DomainSelection`), so domains can be held
  out of training;
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

SELECTION_MODES = ("all", "only", "exclude")
REWARD_MODES = ("rubric", "generic")
POOLS = ("trait", "standard")
# Distinct streams of randomness derived from the one seed.
_STREAM = {"trait": 1, "standard": 2, "positions": 3}


class Item(Protocol):
  domain: str
  category: str


T = TypeVar("T", bound=Item)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DomainSelection:
  """Which domains a pool may use: ``all``, ``only`` the given ones, or all but (``exclude``) them."""

  mode: str = "all"
  domains: tuple[str, ...] = ()

  def __post_init__(self):
    v.choice("DomainSelection", "mode", self.mode, SELECTION_MODES)
    object.__setattr__(self, "domains", v.names_tuple("DomainSelection", "domains", self.domains))
    if self.mode == "only" and not self.domains:
      raise ValueError("DomainSelection(mode='only') needs at least one domain")
    if self.mode == "all" and self.domains:
      raise ValueError(f"DomainSelection(mode='all') takes no domains, got {v.excerpt(self.domains)}")

  @classmethod
  def all(cls) -> "DomainSelection":
    return cls(mode="all")

  @classmethod
  def only(cls, *domains: str) -> "DomainSelection":
    return cls(mode="only", domains=domains)

  @classmethod
  def exclude(cls, *domains: str) -> "DomainSelection":
    return cls(mode="exclude", domains=domains)

  def allows(self, domain: str) -> bool:
    if self.mode == "all":
      return True
    if self.mode == "only":
      return domain in self.domains
    return domain not in self.domains


def dose_fraction(dose: Any) -> Fraction:
  """The dose (a number in [0, 1]) as an exact fraction: a float is read as its shortest decimal (0.3 is 3/10)."""
  v.number_in("MixtureSpec", "dose", dose, 0, 1)
  return Fraction(repr(dose)) if isinstance(dose, float) else Fraction(dose)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MixtureSpec:
  """One cell of the ablation grid's data axis."""

  dose: float  # fraction of trait scenarios in each RL batch, 0..1
  trait_domains: DomainSelection = DomainSelection()
  standard_domains: DomainSelection = DomainSelection()
  reward_mode: str = "rubric"
  traits: tuple[str, ...] = ()  # trait names (scenario categories) to train; empty means all

  def __post_init__(self):
    dose_fraction(self.dose)
    for field in ("trait_domains", "standard_domains"):
      if not isinstance(getattr(self, field), DomainSelection):
        raise v.fail("MixtureSpec", field, "a DomainSelection", getattr(self, field))
    v.choice("MixtureSpec", "reward_mode", self.reward_mode, REWARD_MODES)
    object.__setattr__(self, "traits", v.names_tuple("MixtureSpec", "traits", self.traits))

  @property
  def dose_fraction(self) -> Fraction:
    return dose_fraction(self.dose)

  def allows_trait(self, item: Item) -> bool:
    return self.trait_domains.allows(item.domain) and (not self.traits or item.category in self.traits)

  def allows_standard(self, item: Item) -> bool:
    return self.standard_domains.allows(item.domain)


@dataclasses.dataclass(frozen=True)
class MixtureDraw(Generic[T]):
  pool: str  # "trait" or "standard"
  index: int  # into the sequence the sampler was given for that pool
  item: T


def trait_count(dose: Fraction, batch_size: int, steps: int) -> int:
  """Trait items in the first ``steps`` batches: ``floor(dose * batch_size * steps)``."""
  return math.floor(dose * batch_size * steps)


@functools.lru_cache(maxsize=32)
def _epoch_permutation(seed: int, pool: str, epoch: int, size: int) -> np.ndarray:
  """The order a pool is read in during one epoch (cached: a pure function of its arguments)."""
  order = np.random.default_rng([seed, _STREAM[pool], epoch]).permutation(size)
  order.flags.writeable = False
  return order


def _check_int(value: Any, name: str, minimum: int) -> int:
  return int(v.integer("MixtureSampler", name, value, low=minimum))


def _check_names_exist(spec: MixtureSpec, trait_items: Sequence[Item], standard_items: Sequence[Item]) -> None:
  """A selected domain or trait that no item has is a typo that would silently hold nothing out."""
  domains = {item.domain for item in trait_items} | {item.domain for item in standard_items}
  for field in ("trait_domains", "standard_domains"):
    unknown = [d for d in getattr(spec, field).domains if d not in domains]
    if unknown:
      raise ValueError(f"MixtureSpec.{field} names unknown domains {unknown} (known: {sorted(domains)})")
  traits = {item.category for item in trait_items}
  unknown = [t for t in spec.traits if t not in traits]
  if unknown:
    raise ValueError(f"MixtureSpec.traits names unknown traits {unknown} (known: {sorted(traits)})")


class MixtureSampler(Generic[T]):
  """Deterministic, stateless batches mixing the trait and standard pools as ``spec`` says."""

  def __init__(self, spec: MixtureSpec, trait_items: Sequence[T], standard_items: Sequence[T], seed: int):
    self.spec = spec
    self.seed = _check_int(seed, "seed", 0)
    self.dose = spec.dose_fraction
    self.trait_items, self.standard_items = trait_items, standard_items
    _check_names_exist(spec, trait_items, standard_items)
    # Indices into the given sequences of the items each pool may use.
    self.pools = {
        "trait": tuple(i for i, item in enumerate(trait_items) if spec.allows_trait(item)),
        "standard": tuple(i for i, item in enumerate(standard_items) if spec.allows_standard(item)),
    }
    if self.dose > 0 and not self.pools["trait"]:
      raise ValueError(f"{spec}: no trait scenarios left after filtering "
                       f"({len(trait_items)} given), but the dose needs some")
    if self.dose < 1 and not self.pools["standard"]:
      raise ValueError(f"{spec}: no standard scenarios left after filtering "
                       f"({len(standard_items)} given), but the dose needs some")

  def pool_size(self, pool: str) -> int:
    return len(self.pools[pool])

  def num_trait(self, step: int, batch_size: int) -> int:
    """Trait items in batch ``step``."""
    return (trait_count(self.dose, batch_size, step + 1) - trait_count(self.dose, batch_size, step))

  def _draw(self, pool: str, k: int) -> MixtureDraw[T]:
    """Draw ``k`` (0-based, over the whole run) of ``pool``."""
    indices = self.pools[pool]
    epoch, position = divmod(k, len(indices))
    index = indices[int(_epoch_permutation(self.seed, pool, epoch, len(indices))[position])]
    items = self.trait_items if pool == "trait" else self.standard_items
    return MixtureDraw(pool, index, items[index])

  def batch(self, step: int, batch_size: int) -> list[MixtureDraw[T]]:
    """The ``batch_size`` draws of batch ``step``; trait items sit at seeded positions.

    Keep ``batch_size`` fixed over a run: the draws before ``step`` are counted from it.
    """
    step = _check_int(step, "step", 0)
    batch_size = _check_int(batch_size, "batch_size", 1)
    traits_before = trait_count(self.dose, batch_size, step)
    num_trait = self.num_trait(step, batch_size)
    standard_before = batch_size * step - traits_before
    rng = np.random.default_rng([self.seed, _STREAM["positions"], step])
    is_trait = np.zeros(batch_size, dtype=bool)
    is_trait[rng.choice(batch_size, size=num_trait, replace=False)] = True
    draws, next_trait, next_standard = [], traits_before, standard_before
    for trait_slot in is_trait:
      if trait_slot:
        draws.append(self._draw("trait", next_trait))
        next_trait += 1
      else:
        draws.append(self._draw("standard", next_standard))
        next_standard += 1
    return draws
