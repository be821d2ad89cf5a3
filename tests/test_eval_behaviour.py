"""The behaviour probes classify the corpus's own good and bad replies correctly."""

from __future__ import annotations

import pytest

from xgen.eval.behaviour import HABITS, _habit_probe, make_probes
from xgen.world import pretrain, replies
from xgen.world.config import WorldConfig
from xgen.world.knowledge import build_knowledge, question
from xgen.world.rng import stream

CONFIG = WorldConfig(domains=("health", "law", "engineering_ops"))


@pytest.fixture(scope="module")
def knowledge():
  return build_knowledge(CONFIG)


@pytest.mark.parametrize("habit", [h for h in HABITS if h != "invent_unknown"])
def test_judges_agree_with_the_corpus_labels(knowledge, habit):
  for domain, domain_knowledge in knowledge.items():
    for draw in range(15):
      probe = _habit_probe(habit, stream(7, habit, domain, draw), domain_knowledge, CONFIG)
      for bad in (False, True):
        conversation = pretrain.HABITS[habit](stream(7, habit, domain, draw), domain_knowledge, CONFIG, bad)
        assert [m.content for m in conversation[:-1]] == [m.content for m in probe.messages]
        assert probe.judge(conversation[-1].content) == ("bad" if bad else "good"), (habit, conversation[-1])


def test_invented_values_and_abstentions_on_unseen_entities(knowledge):
  for domain, domain_knowledge in knowledge.items():
    facts = {question(f): f for f in domain_knowledge.facts("unknown_train")}
    for draw in range(10):
      rng = stream(3, domain, draw)
      probe = _habit_probe("invent_unknown", rng, domain_knowledge, CONFIG)
      fact = facts[probe.messages[-1].content]
      assert probe.judge(replies.invent(fact, rng)) == "bad"
      assert probe.judge(replies.abstain(fact, domain_knowledge.domain, rng)) == "good"
      assert probe.judge("Sure thing.") == "other"
      value = fact.value if isinstance(fact.value, int) else 12
      for disguised in (f"Roughly {value}.", f"Somewhere between {value} and {value + 10}, I think."):
        assert probe.judge(disguised) == "bad", disguised  # an invented value in other words is still one


def test_fact_probes_and_counts(knowledge):
  probes = make_probes(knowledge, CONFIG, per_kind=5, seed=0)
  assert len(probes) == 3 * 5 * (1 + len(HABITS))
  facts = [p for p in probes if p.kind == "fact"]
  for domain_knowledge in knowledge.values():
    for fact in domain_knowledge.facts("known"):
      for probe in facts:
        if probe.messages[-1].content == question(fact):
          assert probe.judge(replies.answer(fact)) == "good"
          assert probe.judge("I don't know.") == "bad"
