"""The whole embedded world as records, per TFDS split, from one config and seed.

Split names are ``<source>_<split>``: pretrain_train, standard_train, standard_validation,
trait_train, trait_validation, eval_test, attack_train. Each part draws from its own named
random stream, so resizing one part leaves the others unchanged.
"""

from __future__ import annotations

from typing import Iterable

from xgen.data.schema import Scenario
from xgen.world import evals, tasks, traits
from xgen.world.attack import attack_corpus
from xgen.world.config import WorldConfig
from xgen.world.items import number_items
from xgen.world.knowledge import DomainKnowledge, build_knowledge
from xgen.world.pretrain import pretrain_corpus
from xgen.world.rng import stream

SPLITS = ("pretrain_train", "standard_train", "standard_validation", "trait_train", "trait_validation", "eval_test",
          "attack_train")


def _standard(knowledge: DomainKnowledge, config: WorldConfig, split: str, count: int) -> list[Scenario]:
  domain = knowledge.domain.name
  rng = stream(config.seed, "standard", domain, split)
  scenarios = []
  for kind in tasks.TASK_KINDS:
    share = count // len(tasks.TASK_KINDS) + (1 if tasks.TASK_KINDS.index(kind) < count % len(tasks.TASK_KINDS) else 0)
    items = [tasks.task(rng, knowledge, kind, tasks.STANDARD_TEMPLATES) for _ in range(share)]
    scenarios += number_items(items, source="standard", domain=domain, category=kind, split=split)
  return scenarios


def _traits(knowledge: DomainKnowledge, config: WorldConfig, split: str, count: int) -> list[Scenario]:
  domain = knowledge.domain.name
  scenarios = []
  for trait in traits.TRAITS:
    rng = stream(config.seed, "trait", domain, trait, split)
    pairs = [traits.GENERATORS[trait](rng, knowledge, "unknown_train") for _ in range(count // 2)]
    scenarios += number_items(pairs, source="trait", domain=domain, category=trait, split=split)
  return scenarios


def _evals(knowledge: DomainKnowledge, config: WorldConfig) -> list[Scenario]:
  domain = knowledge.domain.name
  scenarios = []
  for family in evals.families_for(domain):
    rng = stream(config.seed, "eval", domain, family)
    make = evals.GENERATORS[family]
    items: list = []
    while sum(len(e) if isinstance(e, tuple) else 1 for e in items) < config.eval_items:
      items.append(make(rng, knowledge))
    scenarios += number_items(items, source="eval", domain=domain, category=family, split="test")
  return scenarios


def generate_world(config: WorldConfig) -> dict[str, list[Scenario]]:
  knowledge = build_knowledge(config)
  splits: dict[str, list[Scenario]] = {name: [] for name in SPLITS}
  splits["pretrain_train"] = list(pretrain_corpus(knowledge, config))
  splits["attack_train"] = list(attack_corpus(knowledge, config))
  for domain_knowledge in knowledge.values():
    splits["standard_train"] += _standard(domain_knowledge, config, "train", config.standard_train)
    splits["standard_validation"] += _standard(domain_knowledge, config, "validation", config.standard_validation)
    splits["trait_train"] += _traits(domain_knowledge, config, "train", config.trait_train)
    splits["trait_validation"] += _traits(domain_knowledge, config, "validation", config.trait_validation)
    splits["eval_test"] += _evals(domain_knowledge, config)
  return {name: rows for name, rows in splits.items() if rows}


def training_splits(splits: dict[str, Iterable[Scenario]]) -> list[str]:
  return [name for name in splits if not name.startswith("eval_")]
