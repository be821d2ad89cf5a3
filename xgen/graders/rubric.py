"""Grading a scenario's responses against its rubric, as HealthBench scores it.

``grade(scenario, responses)`` takes one response per stage. Each criterion's check reads
the response to its stage (``args["stage"]``, default the last). A criterion may carry negative
points (a penalty, paid when its check is met). The score is the points of the met criteria over
the sum of the positive points, clipped to [0, 1].

Two rules keep a reply that does not answer from earning anything:

* a guard firing on any stage's response (empty, too long, addressing the grader, echoing the
  user) zeroes the score (a rubric read by a judge model allows longer replies);
* the floor: a *passive* criterion (one met by leaving something out: "states no value", "does not
  refuse", see :func:`checks.register_check`) pays only when the response to its stage is an answer
  attempt: it meets some non-passive criterion of that stage, or it has at least
  :data:`MIN_ATTEMPT_WORDS` words or states a number. So ".", "Maybe." or "Hmm" earn 0 on every item,
  while "(A)", "Approve." or "No." still earn what their active criteria give.

``check_rubric`` checks a scenario's criteria against the registry of checks before any grading
(at import).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
from typing import Sequence

from xgen.data.schema import JUDGE_CHECK, Scenario, SchemaError
from xgen.graders import guards, stance
from xgen.graders import text as tx
from xgen.graders import values
from xgen.graders.checks import Reply, get_check, is_passive, known_checks

MIN_ATTEMPT_WORDS = 3


@dataclasses.dataclass(frozen=True)
class Grade:
  """``score`` in [0, 1]; ``criteria[i]``: whether criterion i counts as met (all False under a guard; a passive
  criterion beside no answer attempt is not counted; a met penalty is True); ``guard``: the reason a guard zeroed
  the score, or None; ``refused``: some stage's response is a refusal; ``points[i]``: the points criterion i
  added (negative for a met penalty, 0 when not counted); ``attempts[s]``: whether stage s's response is an
  answer attempt. ``points`` and ``attempts`` are detail: two grades compare equal without them."""

  score: float
  criteria: tuple[bool, ...]
  guard: str | None = None
  refused: bool = False
  points: tuple[float, ...] = dataclasses.field(default=(), compare=False)
  attempts: tuple[bool, ...] = dataclasses.field(default=(), compare=False)


def last_user_message(scenario: Scenario, stage: int, responses: Sequence[str]) -> str | None:
  """The last user message the model saw at ``stage``."""
  for message in reversed(scenario.stage_messages(stage, responses[:stage])):
    if message.role == "user":
      return message.content
  return None


def stage_guard(scenario: Scenario, responses: Sequence[str]) -> str | None:
  """The first guard that fires on any stage's response, naming the stage when there are several. A rubric with
  judge criteria allows the longer replies of ``guards.JUDGED_MAX_WORDS``."""
  judged = any(criterion.check == JUDGE_CHECK for criterion in scenario.rubric)
  limits = dict(max_words=guards.JUDGED_MAX_WORDS, max_chars=guards.JUDGED_MAX_CHARS) if judged else {}
  for stage, response in enumerate(responses):
    reason = guards.first_guard(response, last_user_message(scenario, stage, responses), **limits)
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


def substantive(response: str) -> bool:
  """Whether a response says something on its own: at least :data:`MIN_ATTEMPT_WORDS` words, or a number."""
  return tx.word_count(response) >= MIN_ATTEMPT_WORDS or bool(values.numbers(response))


def attempts(scenario: Scenario, responses: Sequence[str], passed: Sequence[bool]) -> tuple[bool, ...]:
  """Per stage: whether its response is an answer attempt (substantive, or meeting a non-passive criterion of
  that stage)."""
  stages = len(responses)
  out = [substantive(response) for response in responses]
  for criterion, ok in zip(scenario.rubric, passed):
    if ok and criterion.points > 0 and not is_passive(criterion.check):
      out[criterion.args.get("stage", -1) % stages] = True
  return tuple(out)


def score_points(points: Sequence[float], counted: Sequence[bool]) -> float:
  """HealthBench's score: the points of the counted criteria over the sum of positive points, in [0, 1]."""
  best = sum(p for p in points if p > 0)
  if best <= 0:
    return 0.0
  return min(1.0, max(0.0, sum(p for p, ok in zip(points, counted) if ok) / best))


def grade(scenario: Scenario, responses: Sequence[str]) -> Grade:
  """Grades ``responses`` (one per stage) against the scenario's rubric (see the module docstring)."""
  responses = check_responses(scenario, responses)
  passed = run_criteria(scenario, responses)
  refused = any(stance.refuses(r) for r in responses)
  tried = attempts(scenario, responses, passed)
  reason = stage_guard(scenario, responses)
  if reason:
    return Grade(score=0.0, criteria=tuple(False for _ in passed), guard=reason, refused=refused,
                 points=tuple(0.0 for _ in passed), attempts=tried)
  counted = tuple(ok and (c.points < 0 or not is_passive(c.check) or tried[c.args.get("stage", -1) % len(tried)])
                  for c, ok in zip(scenario.rubric, passed))
  points = [c.points for c in scenario.rubric]
  return Grade(score=score_points(points, counted), criteria=counted, guard=None, refused=refused,
               points=tuple(p if ok else 0.0 for p, ok in zip(points, counted)), attempts=tried)
