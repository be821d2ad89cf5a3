"""Grading a scenario's responses against its rubric.

``grade(scenario, responses)`` takes one response per stage. Each criterion's check reads
the response to its stage (``args["stage"]``, default the last); the score is the share of
points earned. A guard firing on any stage's response zeroes the score. ``check_rubric`` checks
a scenario's criteria against the registry of checks before any grading (at import).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
from typing import Sequence

from xgen.data.schema import Scenario, SchemaError
from xgen.graders import guards
from xgen.graders import text as tx
from xgen.graders.checks import Reply, get_check, known_checks


@dataclasses.dataclass(frozen=True)
class Grade:
  """``score`` in [0, 1]; ``criteria[i]``: whether criterion i earned its points (all False under a guard);
  ``guard``: the reason a guard zeroed the score, or None; ``refused``: some stage's response is a refusal."""

  score: float
  criteria: tuple[bool, ...]
  guard: str | None = None
  refused: bool = False


def last_user_message(scenario: Scenario, stage: int, responses: Sequence[str]) -> str | None:
  """The last user message the model saw at ``stage``."""
  for message in reversed(scenario.stage_messages(stage, responses[:stage])):
    if message.role == "user":
      return message.content
  return None


def stage_guard(scenario: Scenario, responses: Sequence[str]) -> str | None:
  """The first guard that fires on any stage's response, naming the stage when there are several."""
  for stage, response in enumerate(responses):
    reason = guards.first_guard(response, last_user_message(scenario, stage, responses))
    if reason:
      return f"stage {stage}: {reason}" if scenario.num_stages > 1 else reason
  return None


def check_responses(scenario: Scenario, responses: Sequence[str]) -> tuple[str, ...]:
  if isinstance(responses, str):
    raise TypeError(f"{scenario.id}: responses must be a sequence of strings, one per stage, not a string")
  responses = tuple(responses)
  if len(responses) != scenario.num_stages:
    raise ValueError(f"{scenario.id}: expected {scenario.num_stages} responses (one per stage), "
                     f"got {len(responses)}")
  for stage, response in enumerate(responses):
    if not isinstance(response, str):
      raise TypeError(f"{scenario.id}: response to stage {stage} is a {type(response).__name__}, not a string")
  return responses


@functools.lru_cache(maxsize=None)
def _signature(check) -> inspect.Signature:
  return inspect.signature(check)


def check_rubric(scenario: Scenario) -> None:
  """Raises SchemaError naming the first criterion whose ``check`` is not registered or whose ``args``
  (besides ``stage``) do not fit that check's signature, so such data fails when it is imported
  rather than when it is graded."""
  for index, criterion in enumerate(scenario.rubric):
    if criterion.check not in known_checks():
      close = difflib.get_close_matches(criterion.check, known_checks(), n=1)
      hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(known_checks())}"
      raise SchemaError(f"rubric[{index}].check", f"no check named {criterion.check!r} ({hint})")
    args = {k: v for k, v in criterion.args.items() if k != "stage"}
    signature = _signature(get_check(criterion.check))
    takes = list(signature.parameters)[1:]  # after the reply
    if not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
      for name in args:
        if name not in takes:
          raise SchemaError(f"rubric[{index}].args.{name}", f"check '{criterion.check}' takes no such argument "
                            f"(it takes: {', '.join(takes) or 'none'}, and 'stage')")
    try:
      signature.bind(Reply(text=""), **args)
    except TypeError as error:
      raise SchemaError(f"rubric[{index}].args", f"do not fit check '{criterion.check}': {error}") from None


def run_criteria(scenario: Scenario, responses: Sequence[str]) -> tuple[bool, ...]:
  """Each criterion's check on the response to its stage."""
  results = []
  for index, criterion in enumerate(scenario.rubric):
    try:
      check = get_check(criterion.check)
    except KeyError as error:
      raise KeyError(f"{scenario.id}: rubric[{index}]: {error.args[0]}") from None
    args = {k: v for k, v in criterion.args.items() if k != "stage"}
    reply = Reply(text=responses[criterion.args.get("stage", -1)], responses=tuple(responses), scenario=scenario)
    try:
      _signature(check).bind(reply, **args)
    except TypeError as error:
      raise ValueError(f"{scenario.id}: rubric[{index}]: bad args for check '{criterion.check}': {error}") from None
    results.append(bool(check(reply, **args)))
  return tuple(results)


def grade(scenario: Scenario, responses: Sequence[str]) -> Grade:
  """Grades ``responses`` (one per stage) against the scenario's rubric."""
  responses = check_responses(scenario, responses)
  passed = run_criteria(scenario, responses)
  refused = any(tx.is_refusal(r) for r in responses)
  reason = stage_guard(scenario, responses)
  if reason:
    return Grade(score=0.0, criteria=tuple(False for _ in passed), guard=reason, refused=refused)
  total = scenario.total_points
  earned = sum(c.points for c, ok in zip(scenario.rubric, passed) if ok)
  score = min(1.0, max(0.0, earned / total)) if total > 0 else 0.0
  return Grade(score=score, criteria=passed, guard=None, refused=refused)
