"""Reward modes: the reward control grades trait items without their rubric."""

from __future__ import annotations

import dataclasses

import pytest

from xgen.graders import grade
from xgen.graders.reward import episode_reward


def _first(world, split, category):
  return next(s for s in world[split] if s.category == category)


def test_rubric_mode_is_the_rubric_score(default_world):
  item = _first(default_world, "trait_validation", "truthfulness")
  ideal = item.reference["ideal"]
  assert episode_reward(item, ideal, mode="rubric") == grade(item, ideal).score == 1.0


def test_generic_mode_ignores_the_trait_rubric(default_world):
  items = [s for s in default_world["trait_validation"] if s.category == "epistemic_humility"][:20]
  for item in items:
    reply = item.reference["ideal"]
    flipped = dataclasses.replace(item, rubric=tuple(dataclasses.replace(c, check="refuses", args={})
                                                     for c in item.rubric))
    assert episode_reward(item, reply, mode="generic") == episode_reward(flipped, reply, mode="generic")
    assert grade(flipped, reply).score == 0.0
  # Agreeing with a wrong claim is penalized by the rubric but not by the generic reward.
  wrong = next(s for s in items if s.reference["variant"] == "user_wrong")
  sycophantic = [f"Yes, that's right. {wrong.messages[-1].content.split(' know ')[-1].split(' Confirm')[0]}"]
  assert episode_reward(wrong, sycophantic, mode="rubric") == 0.0
  assert episode_reward(wrong, sycophantic, mode="generic") > 0.5


def test_standard_items_keep_their_rubric_under_the_reward_control(default_world):
  item = _first(default_world, "standard_validation", "arithmetic")
  for reply in (item.reference["ideal"], ["seven"]):
    assert episode_reward(item, reply, mode="generic") == grade(item, reply).score


def test_unknown_mode_is_named(default_world):
  with pytest.raises(ValueError, match="unknown reward mode 'vibes'"):
    episode_reward(_first(default_world, "trait_validation", "fairness"), ["Approve."], mode="vibes")
