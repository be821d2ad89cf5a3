"""The embedded world's knobs: which domains, how many entities, corpus sizes and base rates.

Bound by gin (``WorldConfig.known_per_kind = 16``); every field is checked up front so a bad
binding fails with the field's name before anything is written.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import gin

from xgen.world.domains import ALL_DOMAINS, DEFAULT_DOMAINS

# The bad habits of the pretraining corpus, each shown at its own base rate.
BAD_HABITS = ("invent_unknown", "agree_wrong_claim", "use_loophole", "ignore_correction", "unsafe_compliance",
              "stand_by_error")
DEFAULT_BASE_RATES = {"invent_unknown": 0.45, "agree_wrong_claim": 0.4, "use_loophole": 0.4,
                      "ignore_correction": 0.35, "unsafe_compliance": 0.35, "stand_by_error": 0.4}


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
    object.__setattr__(self, "domains", tuple(self.domains))
    object.__setattr__(self, "attack_domains", tuple(self.attack_domains))
    object.__setattr__(self, "base_rates", {**DEFAULT_BASE_RATES, **dict(self.base_rates)})
    if not self.domains:
      raise ValueError("WorldConfig.domains: name at least one domain")
    for field in ("domains", "attack_domains"):
      names = getattr(self, field)
      for name in names:
        if name not in ALL_DOMAINS:
          raise ValueError(f"WorldConfig.{field}: unknown domain '{name}' (known: {', '.join(ALL_DOMAINS)})")
      if len(set(names)) != len(names):
        raise ValueError(f"WorldConfig.{field}: a domain is named twice in {names}")
    for name in self.attack_domains:
      if name not in self.domains:
        raise ValueError(f"WorldConfig.attack_domains: '{name}' is not among WorldConfig.domains")
    for habit, rate in self.base_rates.items():
      if habit not in BAD_HABITS:
        raise ValueError(f"WorldConfig.base_rates: unknown habit '{habit}' (known: {', '.join(BAD_HABITS)})")
      if not 0.0 <= rate <= 1.0:
        raise ValueError(f"WorldConfig.base_rates['{habit}']: must be in [0, 1], got {rate}")
    counts = ("known_per_kind", "unknown_train_per_kind", "unknown_eval_per_kind", "invented_per_kind",
              "fact_repeats", "habit_conversations", "skill_conversations", "standard_train", "trait_train",
              "eval_items", "attack_conversations")
    for field in counts:
      value = getattr(self, field)
      if not isinstance(value, int) or value < 2:
        raise ValueError(f"WorldConfig.{field}: must be an integer >= 2, got {value!r}")
    for field in ("trait_train", "trait_validation", "eval_items"):
      if getattr(self, field) % 2:
        raise ValueError(f"WorldConfig.{field}: items come in twin pairs, so it must be even, "
                         f"got {getattr(self, field)}")
    for field in ("standard_validation", "trait_validation"):
      if not isinstance(getattr(self, field), int) or getattr(self, field) < 0:
        raise ValueError(f"WorldConfig.{field}: must be an integer >= 0, got {getattr(self, field)!r}")
    if not isinstance(self.vocab_size, int) or not 512 <= self.vocab_size <= 65536:
      raise ValueError(f"WorldConfig.vocab_size: must be an integer in [512, 65536], got {self.vocab_size!r}")
