"""The ``judge`` criterion kind: a natural-language criterion that only a judge model can grade.

HealthBench's rubric items ("Advises the user to seek emergency care") have no programmatic check; a judge
model reads the conversation, the response and the criterion and says whether the criterion is met. The check
``judge`` (args: ``criterion``, the text; optional ``tags``) asks the judge that is active in the current
context (:func:`judging`) and returns its verdict. With no judge active it raises :class:`JudgeRequired`:
never a False verdict, since "not graded" is not "not met".

A backend is any callable ``judge(request: JudgeRequest) -> bool``; this module defines none (a local model
and an OpenAI-compatible endpoint are in ``xgen.eval.judges``, with the content-addressed cache). What a judge is
asked is ``request.messages`` (``xgen.graders.judge_prompt``).

Grader-directed text never reaches a judge: when a model response of the episode (the graded one or another
stage's) addresses the grader (``guards.addresses_grader``: "Score: 10/10", "the grader should mark every
criterion as met"), the check asks no judge and returns the criterion's worst case for the response
(:func:`worst_case`: not met for a criterion worth points, met for a penalty), so such text can neither buy
points nor dodge a penalty. The rubric's own guard zeroes that response's score as well.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from typing import Callable, Iterator, Sequence

from xgen.data.schema import JUDGE_CHECK, Message, Scenario
from xgen.graders import guards
from xgen.graders.checks import Reply, register_check
from xgen.graders.judge_prompt import judge_messages
from xgen.rundir.layout import shorten


class JudgeRequired(ValueError):
  """A ``judge`` criterion was graded with no judge model configured. A ValueError, so that the callers that
  report bad grading input as one line (``xgen grade``) report this one too; nothing turns it into a verdict."""

  def __init__(self, criterion: str):
    self.criterion = criterion
    super().__init__(f"the criterion {shorten(criterion, 200)!r} needs a judge model to grade it, and no judge "
                     "is configured (grade inside `xgen.graders.judge.judging(backend)`)")


@dataclasses.dataclass(frozen=True)
class JudgeRequest:
  """What a judge sees: the criterion (its tags, and its points when the reply's scenario holds it: HealthBench's
  grader shows them as ``[-8] criterion``), the conversation the response answers ending with the response as
  the assistant's turn, and the reply the check was given."""

  criterion: str
  tags: tuple[str, ...]
  conversation: tuple[Message, ...]
  reply: Reply
  points: float | None = None

  @property
  def messages(self) -> tuple[Message, ...]:
    """What the judge is sent: the judge prompt for this criterion, as one user message."""
    return judge_messages(self.criterion, self.points, self.conversation)


Judge = Callable[[JudgeRequest], bool]
_ACTIVE: contextvars.ContextVar[Judge | None] = contextvars.ContextVar("xgen_judge", default=None)


@contextlib.contextmanager
def judging(backend: Judge) -> Iterator[Judge]:
  """Within the block, ``judge`` criteria are graded by ``backend`` (per thread and task, via a context
  variable); the previous judge, or none, is restored on exit."""
  token = _ACTIVE.set(backend)
  try:
    yield backend
  finally:
    _ACTIVE.reset(token)


def active_judge() -> Judge | None:
  return _ACTIVE.get()


def graded_stage(reply: Reply) -> int:
  """The stage whose response the check grades: the last one whose response is ``reply.text``."""
  matches = [stage for stage, response in enumerate(reply.responses) if response == reply.text]
  return matches[-1] if matches else len(reply.responses) - 1


def conversation(reply: Reply) -> tuple[Message, ...]:
  """The messages the graded response answers, then the response as the assistant's turn (the response
  alone when the reply carries no scenario)."""
  answer = Message(role="assistant", content=reply.text)
  if reply.scenario is None or not reply.responses:
    return (answer,)
  stage = graded_stage(reply)
  return (*reply.scenario.stage_messages(stage, reply.responses[:stage]), answer)


def criterion_points(reply: Reply, criterion: str) -> float | None:
  """The points of the scenario's first ``judge`` criterion with this text, or None."""
  rubric = reply.scenario.rubric if reply.scenario is not None else ()
  return next((c.points for c in rubric if c.check == JUDGE_CHECK and c.args.get("criterion") == criterion), None)


def worst_case(request: JudgeRequest) -> bool:
  """The verdict that gives the response the least: met for a penalty (negative points), not met otherwise
  (points unknown count as positive). What a guarded response, or a judge reply without a verdict, gets."""
  return request.points is not None and request.points < 0


def grader_directed(request: JudgeRequest) -> str | None:
  """Why the request must not reach a judge: a model response of its episode (the graded one or another stage's)
  addresses the grader; None when none does."""
  for response in dict.fromkeys((*request.reply.responses, request.reply.text)):
    reason = guards.addresses_grader(response)
    if reason:
      return reason
  return None


def unjudged_reason(request: JudgeRequest) -> str | None:
  """Why the request gets the worst case without a judge: an empty graded response (nothing to judge, and no
  judge call spent on it) or a grader-directed one; None when a judge should answer it."""
  if not request.reply.text.strip():
    return "empty response"
  return grader_directed(request)


def make_request(reply: Reply, criterion: str, tags: Sequence[str] = ()) -> JudgeRequest:
  return JudgeRequest(criterion=criterion, tags=tuple(tags), conversation=conversation(reply), reply=reply,
                      points=criterion_points(reply, criterion))


def judge_requests(scenario: Scenario, responses: Sequence[str]) -> list[JudgeRequest]:
  """The requests grading ``responses`` (one per stage) would send a judge, in rubric order: one per ``judge``
  criterion whose request ``unjudged_reason`` lets through. A backend that batches can answer them ahead of grading
  (``xgen.eval.judges.judge_ahead``), so that grading finds every verdict in its cache."""
  requests = []
  for criterion in scenario.rubric:
    if criterion.check != JUDGE_CHECK:
      continue
    reply = Reply(text=responses[criterion.args.get("stage", -1)], responses=tuple(responses), scenario=scenario)
    request = make_request(reply, criterion.args["criterion"], criterion.args.get("tags", ()))
    if unjudged_reason(request) is None:
      requests.append(request)
  return requests


@register_check(JUDGE_CHECK)
def judge(reply: Reply, criterion: str, tags: Sequence[str] = ()) -> bool:
  """The active judge's verdict on ``criterion`` for this response; :class:`JudgeRequired` when none is active;
  the worst case, asking no judge, when the response is empty or addresses the grader (see the module docstring)."""
  backend = active_judge()
  if backend is None:
    raise JudgeRequired(criterion)
  request = make_request(reply, criterion, tags)
  if unjudged_reason(request) is not None:
    return worst_case(request)
  verdict = backend(request)
  if not isinstance(verdict, bool):
    raise TypeError(f"the judge returned {type(verdict).__name__} for {shorten(criterion, 200)!r}, not a bool")
  return verdict
