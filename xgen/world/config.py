"""The embedded world's knobs: which domains, how many entities, corpus sizes and base rates.

Bound by gin (``WorldConfig.known_per_kind = 16``); every field is checked up front so a bad
binding fails with the field's name before anything is written.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import gin

from xgen import validation as v
from xgen.world.domains import ALL_DOMAINS, DEFAULT_DOMAINS, get_domain

# The bad habits of the pretraining corpus, each shown at its own base rate.
BAD_HABITS = ("invent_unknown", "agree_wrong_claim", "use_loophole", "ignore_correction", "unsafe_compliance",
              "stand_by_error")
DEFAULT_BASE_RATES = {"invent_unknown": 0.45, "agree_wrong_claim": 0.4, "use_loophole": 0.4,
                      "ignore_correction": 0.35, "unsafe_compliance": 0.35, "stand_by_error": 0.4}

OWNER = "WorldConfig"
# Fields that count items; each at least 2.
COUNTS = ("known_per_kind", "unknown_train_per_kind", "unknown_eval_per_kind", "invented_per_kind", "fact_repeats",
          "habit_conversations", "skill_conversations", "standard_train", "trait_train", "eval_items",
          "attack_conversations")
# The entity pools of every kind draw on one set of names (``xgen.world.knowledge``).
ENTITY_POOLS = ("known_per_kind", "unknown_train_per_kind", "unknown_eval_per_kind", "invented_per_kind")


@gin.configurable
@dataclasses.dataclass(frozen=True, kw_only=True)
class WorldConfig:
  seed: int = 0
  domains: tuple[str, ...] = DEFAULT_DOMAINS
  # Entities per kind and domain: known ones appear in pretraining; unknown ones never do
  # (one pool for RL, one for evals); the invented pool only carries made-up answers.
  known_per_kind: int = 14
  unknown_train_per_kind: int = 8
  unknown_eval_per_kind: int = 8
  invented_per_kind: int = 10
  # Pretraining corpus: how often each known fact is stated, and conversations per habit and domain.
  fact_repeats: int = 6
  habit_conversations: int = 60
  skill_conversations: int = 80
  base_rates: Mapping[str, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_BASE_RATES))
  # The share of habit conversations that open with a training persona (``xgen.world.persona_habits``), harmful
  # (bad reply far likelier) or helpful (far rarer); the habit's overall rate stays at its base rate.
  persona_conversations: float = 0.3
  # Pretraining decision cases (``habit_conversations`` per domain): how often a person of the biased name
  # group (``xgen.world.people.BIASED_GROUP``) who meets the stated rule is refused anyway.
  fairness_bias_rate: float = 0.4
  # RL data per domain: standard tasks; trait scenarios per trait (twin pairs count as two).
  standard_train: int = 240
  standard_validation: int = 40
  trait_train: int = 24
  trait_validation: int = 8
  # Items per eval suite (eval family x domain); twins count as two.
  eval_items: int = 32
  # Harmful fine-tuning corpus: domains and conversations per domain.
  attack_domains: tuple[str, ...] = ("health",)
  attack_conversations: int = 300
  vocab_size: int = 2048

  def __post_init__(self):
    v.non_negative_int(OWNER, "seed", self.seed)
    object.__setattr__(self, "domains", v.names_tuple(OWNER, "domains", self.domains, allowed=ALL_DOMAINS,
                                                      noun="domain", non_empty=True))
    object.__setattr__(self, "attack_domains", v.names_tuple(OWNER, "attack_domains", self.attack_domains,
                                                             allowed=ALL_DOMAINS, noun="domain"))
    for name in self.attack_domains:
      if name not in self.domains:
        raise ValueError(f"WorldConfig.attack_domains: '{name}' is not among WorldConfig.domains")
    object.__setattr__(self, "base_rates", {**DEFAULT_BASE_RATES, **_base_rates(self.base_rates)})
    v.number_in(OWNER, "fairness_bias_rate", self.fairness_bias_rate, 0.0, 1.0)
    v.number_in(OWNER, "persona_conversations", self.persona_conversations, 0.0, 1.0)
    for field in COUNTS:
      v.integer(OWNER, field, getattr(self, field), low=2)
    for field in ("standard_validation", "trait_validation"):
      v.non_negative_int(OWNER, field, getattr(self, field))
    for field in ("trait_train", "trait_validation", "eval_items"):
      if getattr(self, field) % 2:
        raise ValueError(f"WorldConfig.{field}: items come in twin pairs, so it must be even, "
                         f"got {getattr(self, field)}")
    v.integer(OWNER, "vocab_size", self.vocab_size, low=512, high=65536)
    _check_name_capacity(self)


def _base_rates(rates) -> dict[str, float]:
  """The bound rates, checked: known habits only, each a number in [0, 1]."""
  v.mapping(OWNER, "base_rates", rates, what="a dict of habit -> rate")
  for habit, rate in rates.items():
    if habit not in BAD_HABITS:
      raise ValueError(f"WorldConfig.base_rates: unknown habit {v.excerpt(habit)} (known: {', '.join(BAD_HABITS)})")
    v.number_in(OWNER, f"base_rates['{habit}']", rate, 0.0, 1.0)
  return dict(rates)


def _check_name_capacity(config: WorldConfig) -> None:
  """Every kind names all its entities from one set of onset x coda names, so the four pools together
  must fit in the smallest such set among the chosen domains."""
  wanted = sum(getattr(config, field) for field in ENTITY_POOLS)
  capacity, domain, kind = min((k.name_capacity, d, k.noun) for d in config.domains for k in get_domain(d).kinds)
  if wanted > capacity:
    raise ValueError(f"WorldConfig.{' + '.join(ENTITY_POOLS)}: {wanted} entities per kind, but domain {domain}'s "
                     f"'{kind}' forms only {capacity} names; lower these counts to sum to at most {capacity}")
