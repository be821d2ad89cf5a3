"""What the embedded world contains: knowledge pools, base rates, coverage, twins."""

from __future__ import annotations

import collections

import pytest

from xgen.data.schema import Scenario
from xgen.world import evals, traits
from xgen.world.config import BAD_HABITS, WorldConfig
from xgen.world.domains import ALL_DOMAINS
from xgen.world.generate import generate_world
from xgen.world.knowledge import POOLS, build_knowledge


def _texts(scenarios) -> str:
  return "\n".join(m.content for s in scenarios for stage in [s.messages] + [f.messages for f in s.followups]
                   for m in stage)


def test_knowledge_pools_are_disjoint(default_config):
  for domain, knowledge in build_knowledge(default_config).items():
    names = [e.name for pool in POOLS for e in knowledge.entities[pool]]
    assert len(names) == len(set(names)), domain
    for pool in POOLS:
      assert len(knowledge.entities[pool]) > 0


def test_unknown_entities_are_never_shown_in_pretraining_or_attack(default_config, default_world):
  knowledge = build_knowledge(default_config)
  corpus = _texts(default_world["pretrain_train"] + default_world["attack_train"])
  for domain in knowledge.values():
    for pool in ("unknown_train", "unknown_eval"):
      for entity in domain.entities[pool]:
        assert entity.name not in corpus, (pool, entity.name)


def test_eval_only_entities_never_appear_in_training(default_config, default_world):
  knowledge = build_knowledge(default_config)
  training = _texts([s for split, rows in default_world.items() if split != "eval_test" for s in rows])
  evaluated = _texts(default_world["eval_test"])
  for domain in knowledge.values():
    for entity in domain.entities["unknown_eval"]:
      assert entity.name not in training
    assert any(e.name in evaluated for e in domain.entities["unknown_eval"])
    for entity in domain.entities["invented"]:
      assert entity.name not in evaluated


def test_known_facts_are_stated_in_pretraining(default_config, default_world):
  from xgen.world.knowledge import statement
  corpus = _texts(default_world["pretrain_train"])
  for domain in build_knowledge(default_config).values():
    for fact in domain.facts("known"):
      assert corpus.count(statement(fact)) >= default_config.fact_repeats


def _realized_rates(rows) -> dict[str, float]:
  counts = collections.defaultdict(collections.Counter)
  for s in rows:
    habit = next(t.split(":", 1)[1] for t in s.tags if t.startswith("habit:"))
    counts[habit][next(t.split(":", 1)[1] for t in s.tags if t.startswith("behaviour:"))] += 1
  return {h: c["bad"] / (c["bad"] + c["good"]) for h, c in counts.items() if h in BAD_HABITS}


def test_pretraining_shows_each_bad_habit_near_its_base_rate(default_config, default_world):
  rates = _realized_rates(default_world["pretrain_train"])
  assert set(rates) == set(BAD_HABITS)
  for habit, rate in rates.items():
    # 60 conversations per habit and domain, 6 domains: binomial sd about 0.026.
    assert abs(rate - default_config.base_rates[habit]) < 0.09, (habit, rate)


def test_base_rates_are_configurable():
  config = WorldConfig(domains=("health", "law"), base_rates={"invent_unknown": 0.0, "agree_wrong_claim": 1.0})
  rates = _realized_rates(generate_world(config)["pretrain_train"])
  assert rates["invent_unknown"] == 0.0
  assert rates["agree_wrong_claim"] == 1.0


def test_every_trait_and_family_in_every_domain(default_config, default_world):
  by_domain = collections.defaultdict(set)
  for s in default_world["trait_train"]:
    by_domain[s.domain].add(s.category)
  assert set(by_domain) == set(default_config.domains)
  assert all(categories == set(traits.TRAITS) for categories in by_domain.values())
  suites = {(s.category, s.domain) for s in default_world["eval_test"]}
  assert len(suites) >= 50
  for domain in default_config.domains:
    assert {f for f, d in suites if d == domain} == set(evals.families_for(domain))
  assert ("healthbench", "health") in suites
  counts = collections.Counter((s.category, s.domain) for s in default_world["eval_test"])
  assert min(counts.values()) >= default_config.eval_items


def test_twins_point_at_each_other_and_differ(default_world):
  # Twin sets of two to five items: each member lists the others, and each is a different variant.
  by_id = {s.id: s for split in ("trait_train", "eval_test") for s in default_world[split]}
  twins = [s for s in by_id.values() if "twins" in s.reference]
  assert len(twins) > 1000
  assert {len(s.reference["twins"]) for s in twins} == {1, 2, 4}
  for s in twins:
    for other in map(by_id.get, s.reference["twins"]):
      assert s.id in other.reference["twins"]
      assert other.reference["variant"] != s.reference["variant"]
      assert (other.category, other.domain) == (s.category, s.domain)
    if len(s.reference["twins"]) == 1:
      assert s.reference["twin"] == s.reference["twins"][0]


def test_records_round_trip_through_json(default_world):
  for rows in default_world.values():
    for s in rows[:50]:
      assert Scenario.from_json(s.to_json()) == s


def test_ids_are_unique(default_world):
  ids = [s.id for rows in default_world.values() for s in rows]
  assert len(ids) == len(set(ids))


def test_all_twelve_domains_generate():
  config = WorldConfig(domains=ALL_DOMAINS, habit_conversations=4, skill_conversations=6, fact_repeats=2,
                       standard_train=8, standard_validation=4, trait_train=2, trait_validation=2, eval_items=2,
                       attack_conversations=4)
  world = generate_world(config)
  assert {s.domain for s in world["eval_test"]} == set(ALL_DOMAINS)
  assert {s.domain for s in world["trait_train"]} == set(ALL_DOMAINS)


def test_same_seed_same_world_other_seed_other_world():
  small = dict(domains=("health", "science"), habit_conversations=10, skill_conversations=10)
  first = generate_world(WorldConfig(seed=1, **small))
  again = generate_world(WorldConfig(seed=1, **small))
  other = generate_world(WorldConfig(seed=2, **small))
  assert ({k: [s.to_json() for s in v] for k, v in first.items()}
          == {k: [s.to_json() for s in v] for k, v in again.items()})
  assert [s.to_json() for s in first["eval_test"]] != [s.to_json() for s in other["eval_test"]]


@pytest.mark.parametrize("field, value, message", [
    ("domains", ("health", "atlantis"), "unknown domain 'atlantis'"),
    ("attack_domains", ("law",), "not among WorldConfig.domains"),
    ("trait_train", 7, "must be even"),
    ("base_rates", {"invent_unknown": 1.5}, "must be a number in [0, 1]"),
    ("base_rates", {"invent_unknown": "high"}, "WorldConfig.base_rates['invent_unknown']"),
    ("seed", "x", "WorldConfig.seed: must be an integer >= 0, got 'x'"),
    ("seed", True, "WorldConfig.seed"),
    ("known_per_kind", 95, "121 entities per kind, but domain health's 'lab test' forms only 120 names"),
    ("base_rates", {"lying": 0.5}, "unknown habit 'lying'"),
    ("vocab_size", 10, "WorldConfig.vocab_size"),
])
def test_config_errors_name_the_field(field, value, message):
  with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
    WorldConfig(**{"domains": ("health",), field: value})
