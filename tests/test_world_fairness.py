"""Fairness can move: a name-linked bias planted in pretraining, and eval names no training split uses."""

from __future__ import annotations

import re

import pytest

from xgen.world import people
from xgen.world.config import WorldConfig
from xgen.world.generate import generate_world, training_splits
from xgen.world.knowledge import build_knowledge

# (threshold, name, score) in each of the pretraining decision templates.
_CASES = (re.compile(r"at least (?P<threshold>\d+)\. (?P<name>.+) has an? .+ of (?P<score>\d+)\."),
          re.compile(r"^(?P<name>[^,]+), .+ (?P<score>\d+)\. We \w+ at (?P<threshold>\d+) or above\."),
          re.compile(r"threshold is (?P<threshold>\d+) and (?P<name>.+) has (?P<score>\d+)\."))


def _case(prompt: str) -> tuple[str, str, str]:
  match = next(m for m in (c.search(prompt) for c in _CASES) if m)
  return match["threshold"], match["name"], match["score"]


def _training_text(world) -> str:
  return "\n".join(m.content for split in training_splits(world) for s in world[split]
                   for stage in [s.messages] + [f.messages for f in s.followups] for m in stage)


def _decisions(corpus, domains) -> list[dict]:
  """Each pretraining decision case: its name group, whether the rule qualifies the person, whether the reply
  contradicts the rule."""
  cases = []
  for s in corpus:
    if s.category != "decision":
      continue
    rule = domains[s.domain].decision
    threshold, name, score = _case(s.messages[0].content)
    meets = int(score) >= int(threshold)
    decided = s.messages[-1].content.split(":", 1)[0].lower()
    assert decided in (rule.approve, rule.decline), s.messages[-1].content
    group = next(t.split(":", 1)[1] for t in s.tags if t.startswith("names:"))
    assert people.group_of(name) == group
    cases.append({"group": group, "meets": meets, "wrong": decided != (rule.approve if meets else rule.decline),
                  "bad": "behaviour:bad" in s.tags, "domain": s.domain})
  return cases


def _domains(config):
  return {name: k.domain for name, k in build_knowledge(config).items()}


def test_name_groups_share_cues_and_split_into_disjoint_names():
  for group, parts in people.GROUPS.items():
    train, held = set(people.name_parts(group, "train")), set(people.name_parts(group, "test"))
    assert train and held and not train & held
    assert set(people.training_names(group)).isdisjoint(people.eval_names(group))
    assert len(people.eval_names(group)) >= 24
    # Every eval given name and surname ends like some training one: the group's cues reach unseen names.
    for part in held:
      assert any(part.endswith(e) and any(t.endswith(e) for t in train)
                 for e in parts.given_endings + parts.surname_endings), part
  endings = [set(p.given_endings + p.surname_endings) for p in people.GROUPS.values()]
  assert not endings[0] & endings[1]
  everything = [n for g in people.GROUPS for s in people.SPLITS for n in people.names(g, s)]
  assert len(everything) == len(set(everything))
  assert people.group_of(people.eval_names("b")[0]) == "b"
  with pytest.raises(ValueError, match="unknown name split"):
    people.names("a", "eval")


def test_no_eval_name_appears_in_any_training_split(default_world):
  training = _training_text(default_world)
  for group in people.GROUPS:
    for part in people.name_parts(group, "test"):
      assert not re.search(rf"\b{part}\b", training), part
    assert any(name in training for name in people.training_names(group))


def test_fairness_evals_pair_eval_names_of_both_groups(default_world):
  items = [s for s in default_world["eval_test"] if s.category == "fairness"]
  assert len(items) >= 6 * 32
  eval_names = {n for g in people.GROUPS for n in people.eval_names(g)}
  for s in items:
    assert set(s.reference["names"]) <= eval_names
    assert sorted(s.reference["groups"]) == ["a", "b"]
    assert [people.group_of(n) for n in s.reference["names"]] == s.reference["groups"]
  firsts = [s.reference["groups"][0] for s in items]
  assert 0.35 < firsts.count("b") / len(firsts) < 0.65


def test_pretraining_refuses_qualifying_biased_names_at_the_configured_rate(default_config, default_world):
  cases = _decisions(default_world["pretrain_train"], _domains(default_config))
  assert len(cases) == default_config.habit_conversations * len(default_config.domains)
  biased = [c for c in cases if c["group"] == people.BIASED_GROUP and c["meets"]]
  assert len(biased) == len(cases) // 4
  rate = sum(c["wrong"] for c in biased) / len(biased)
  # 90 qualifying cases of the biased group: binomial sd about 0.05.
  assert abs(rate - default_config.fairness_bias_rate) < 0.15, rate
  others = [c for c in cases if c not in biased]
  assert not any(c["wrong"] for c in others)
  assert all(c["bad"] == c["wrong"] for c in cases)


@pytest.mark.parametrize("rate", [0.0, 0.25, 1.0])
def test_bias_rate_is_configurable(rate):
  config = WorldConfig(domains=("health", "law"), habit_conversations=400, skill_conversations=4, fact_repeats=2,
                       fairness_bias_rate=rate)
  cases = _decisions(generate_world(config)["pretrain_train"], _domains(config))
  biased = [c for c in cases if c["group"] == people.BIASED_GROUP and c["meets"]]
  realized = sum(c["wrong"] for c in biased) / len(biased)
  assert len(biased) == 200
  assert abs(realized - rate) < 0.08 if 0 < rate < 1 else realized == rate
  assert not any(c["wrong"] for c in cases if c not in biased)


def test_bias_only_flips_decisions():
  """Changing the rate changes which qualifying cases are refused, nothing else in the corpus."""
  small = dict(domains=("health",), habit_conversations=40, skill_conversations=4, fact_repeats=2)
  fair = generate_world(WorldConfig(fairness_bias_rate=0.0, **small))["pretrain_train"]
  unfair = generate_world(WorldConfig(fairness_bias_rate=1.0, **small))["pretrain_train"]
  changed = [(a, b) for a, b in zip(fair, unfair) if a != b]
  assert changed and all(a.category == b.category == "decision" and a.messages[0] == b.messages[0]
                         for a, b in changed)
  assert all(b.messages[-1].content.startswith("Decline:") for _, b in changed)


@pytest.mark.parametrize("value", [1.5, -0.1, "high", True])
def test_bias_rate_is_checked(value):
  with pytest.raises(ValueError, match=r"WorldConfig.fairness_bias_rate: must be a number in \[0, 1\]"):
    WorldConfig(domains=("health",), fairness_bias_rate=value)
