"""The RL reward of one sampled episode, by the mixture's reward mode.

``rubric``: every item is graded against its own rubric (the trait cells and the baseline).
``generic``: trait items get the trait-agnostic helpfulness reward instead (the reward control:
the same trait prompts, without the rubric's signal); standard items keep their rubric in both
modes, since the reward control changes only how the trait dose is graded.
"""

from __future__ import annotations

from typing import Sequence

from xgen.data.mixtures import REWARD_MODES
from xgen.data.schema import Scenario
from xgen.graders.generic import generic_helpfulness
from xgen.graders.rubric import grade


def episode_reward(scenario: Scenario, responses: Sequence[str], *, mode: str) -> float:
  if mode not in REWARD_MODES:
    raise ValueError(f"unknown reward mode '{mode}' (known: {', '.join(REWARD_MODES)})")
  if mode == "generic" and scenario.source == "trait":
    return generic_helpfulness(scenario, responses)
  return grade(scenario, responses).score
