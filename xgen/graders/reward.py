"""The RL reward of one sampled episode, by the mixture's reward mode.

``rubric``: every item is graded against its own rubric (the trait cells and the baseline).
``generic``: trait items get the trait-agnostic helpfulness reward instead (the reward control:
the same trait prompts, without the rubric's signal); standard items keep their rubric in both
modes, since the reward control changes only how the trait dose is graded.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

from xgen.data.mixtures import REWARD_MODES
from xgen.data.schema import Scenario
from xgen.graders.generic import generic_helpfulness
from xgen.graders.rubric import grade


class Outcome(NamedTuple):
  """The reward an episode earns, and whether some stage's response was a refusal (from its rubric
  grade, whatever the mode)."""

  reward: float
  refused: bool


def episode_outcome(scenario: Scenario, responses: Sequence[str], *, mode: str) -> Outcome:
  if mode not in REWARD_MODES:
    raise ValueError(f"unknown reward mode '{mode}' (known: {', '.join(REWARD_MODES)})")
  graded = grade(scenario, responses)
  if mode == "generic" and scenario.source == "trait":
    return Outcome(generic_helpfulness(scenario, responses), graded.refused)
  return Outcome(graded.score, graded.refused)


def episode_reward(scenario: Scenario, responses: Sequence[str], *, mode: str) -> float:
  return episode_outcome(scenario, responses, mode=mode).reward
