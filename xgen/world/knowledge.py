"""Entities and their facts: what the world knows and which of it the model can ever see.

Each (domain, kind) gets four disjoint pools of named entities:
  known          stated in the pretraining corpus, so a model can learn their facts;
  unknown_train  never shown anywhere; RL trait scenarios ask about them (right answer: "I don't know");
  unknown_eval   never shown anywhere; only eval suites ask about them;
  invented       only in pretraining, and only with made-up answers (the habit of inventing),
                 disjoint from both unknown pools so the model learns a habit, not a fact.
Every entity has a true value for every attribute of its kind; for unknown entities the value
exists but is never written, which keeps the data model uniform.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from xgen.world.config import WorldConfig
from xgen.world.domains import get_domain
from xgen.world.lexicon import Attribute, Domain, EntityKind
from xgen.world.rng import stream

POOLS = ("known", "unknown_train", "unknown_eval", "invented")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Entity:
  name: str
  domain: str
  kind: EntityKind
  pool: str
  values: dict[str, int]  # attribute name -> true value

  def attribute(self, name: str) -> Attribute:
    for attribute in self.kind.attributes:
      if attribute.name == name:
        return attribute
    raise KeyError(f"{self.kind.noun} has no attribute '{name}'")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Fact:
  entity: Entity
  attribute: Attribute

  @property
  def value(self) -> int:
    return self.entity.values[self.attribute.name]


@dataclasses.dataclass(frozen=True, kw_only=True)
class DomainKnowledge:
  domain: Domain
  entities: dict[str, tuple[Entity, ...]]  # pool -> entities, over all kinds

  def facts(self, pool: str) -> tuple[Fact, ...]:
    return tuple(Fact(entity=e, attribute=a) for e in self.entities[pool] for a in e.kind.attributes)

  def limit_facts(self, pool: str = "known") -> tuple[Fact, ...]:
    """Facts that are a safety limit (the domain's ``Limit``)."""
    limit = self.domain.limit
    return tuple(Fact(entity=e, attribute=e.attribute(limit.attribute))
                 for e in self.entities[pool] if e.kind.noun == limit.kind)


def format_value(attribute: Attribute, value: int) -> str:
  """A value as written in text: "40 mg"; a year is written bare ("1994")."""
  return str(value) if attribute.unit == "year" else f"{value} {attribute.unit}"


def statement(fact: Fact, value: int | None = None) -> str:
  """The fact (or the same sentence with another value) in the lexicon's own words."""
  value = fact.value if value is None else value
  return capitalize(fact.attribute.phrase.format(entity=fact.entity.name, value=value, unit=fact.attribute.unit))


def clause(fact: Fact, value: int | None = None) -> str:
  """The fact's sentence for use inside another sentence ("I read that the usual dose of ... is ...")."""
  value = fact.value if value is None else value
  text = fact.attribute.phrase.format(entity=fact.entity.name, value=value, unit=fact.attribute.unit)
  return text if fact.attribute.phrase.startswith("{entity}") else text[:1].lower() + text[1:]


def question(fact: Fact) -> str:
  return capitalize(fact.attribute.question.format(entity=fact.entity.name))


def capitalize(text: str) -> str:
  return text[:1].upper() + text[1:]


def wrong_value(fact: Fact, rng: np.random.Generator) -> int:
  """A plausible value for the attribute that is not the true one and not too close to it."""
  values = list(fact.attribute.values())
  far = [v for v in values if abs(v - fact.value) >= max(fact.attribute.step, (fact.attribute.high - fact.attribute.low) // 10)]
  choices = far or [v for v in values if v != fact.value]
  return int(choices[int(rng.integers(len(choices)))])


def over_limit(fact: Fact, rng: np.random.Generator) -> int:
  """An amount clearly past a limit: 1.5x to 3x, on the attribute's grid."""
  step = fact.attribute.step
  amount = int(fact.value * rng.uniform(1.5, 3.0))
  return max(fact.value + step, amount - amount % step)


def under_limit(fact: Fact, rng: np.random.Generator) -> int:
  """An amount clearly within a limit: 30% to 70% of it, on the attribute's grid."""
  step = fact.attribute.step
  amount = int(fact.value * rng.uniform(0.3, 0.7))
  return max(step, amount - amount % step)


def _names(kind: EntityKind, count: int, rng: np.random.Generator) -> list[str]:
  stems = [onset + coda for onset, coda in itertools.product(kind.onsets, kind.codas)]
  if count > kind.name_capacity:
    raise ValueError(f"entity kind '{kind.noun}' forms {kind.name_capacity} names, {count} were asked for")
  order = rng.permutation(len(stems))[:count]
  return [kind.pattern.format(stem=stems[i]) for i in order]


def build_knowledge(config: WorldConfig) -> dict[str, DomainKnowledge]:
  sizes = {"known": config.known_per_kind, "unknown_train": config.unknown_train_per_kind,
           "unknown_eval": config.unknown_eval_per_kind, "invented": config.invented_per_kind}
  world = {}
  for domain_name in config.domains:
    domain = get_domain(domain_name)
    pools: dict[str, list[Entity]] = {pool: [] for pool in POOLS}
    for kind in domain.kinds:
      rng = stream(config.seed, "knowledge", domain.name, kind.noun)
      names = _names(kind, sum(sizes.values()), rng)
      start = 0
      for pool in POOLS:
        for name in names[start:start + sizes[pool]]:
          values = {a.name: int(rng.choice(np.asarray(a.values()))) for a in kind.attributes}
          pools[pool].append(Entity(name=name, domain=domain.name, kind=kind, pool=pool, values=values))
        start += sizes[pool]
    world[domain.name] = DomainKnowledge(domain=domain, entities={p: tuple(v) for p, v in pools.items()})
  return world
