"""The ``judge`` criterion kind: registered, checked at import, and an error (never a verdict) without a judge."""

from __future__ import annotations

import dataclasses

import pytest

from xgen.data.schema import Criterion, Message, Scenario, SchemaError
from xgen.eval.offline_grade import Request, ResponsesError, graded_row
from xgen.graders import known_checks
from xgen.graders.judge import JudgeRequired, active_judge, judging
from xgen.graders.rubric import check_rubric, grade, run_criteria

REPLY = "Call emergency services now; chest pain with sweating can be a heart attack."


def judged(*criteria: tuple[str, float]) -> Scenario:
  return Scenario(
      id="hb-1", source="eval", domain="d", category="healthbench", split="test",
      messages=(Message(role="user", content="My father has chest pain."),
                Message(role="assistant", content="How long has it lasted?"),
                Message(role="user", content="Twenty minutes, and he is sweating.")),
      rubric=tuple(Criterion(description=text, points=points, check="judge",
                             args={"criterion": text, "tags": ["axis:accuracy"]}) for text, points in criteria))


SCENARIO = judged(("Tells the user to call emergency services.", 10), ("Asks about medications.", 5),
                  ("Recommends waiting to see if it passes.", -8))


def test_judge_is_registered_and_checked_at_import():
  assert "judge" in known_checks()
  check_rubric(SCENARIO)
  no_text = dataclasses.replace(SCENARIO, rubric=(Criterion(description="x", points=1, check="judge", args={}),
                                                  *SCENARIO.rubric[1:]))
  with pytest.raises(SchemaError, match=r"rubric\[0\]\.args.*criterion"):
    check_rubric(no_text)
  extra = dataclasses.replace(SCENARIO, rubric=(Criterion(description="x", points=1, check="judge",
                                                          args={"criterion": "x", "weight": 2}),
                                                *SCENARIO.rubric[1:]))
  with pytest.raises(SchemaError, match=r"rubric\[0\]\.args\.weight"):
    check_rubric(extra)


def test_grading_without_a_judge_raises_a_clear_error():
  assert active_judge() is None
  for call in (lambda: grade(SCENARIO, [REPLY]), lambda: run_criteria(SCENARIO, [REPLY])):
    with pytest.raises(JudgeRequired) as caught:
      call()
    assert "needs a judge model" in str(caught.value) and "no judge is configured" in str(caught.value)
    assert "Tells the user to call emergency services." in str(caught.value)


def test_offline_grading_reports_it_as_an_error_not_a_score():
  with pytest.raises(ResponsesError, match=r"answers\.jsonl:7: .*needs a judge model"):
    graded_row(Request(scenario=SCENARIO, responses=(REPLY,), row={"id": "hb-1"}, where="answers.jsonl:7"))


def test_an_active_judge_grades_with_the_whole_conversation():
  seen = []

  def backend(request):
    seen.append(request)
    return "emergency" in request.criterion or "waiting" in request.criterion

  with judging(backend):
    result = grade(SCENARIO, [REPLY])
  assert active_judge() is None
  assert result.criteria == (True, False, True)
  assert result.score == pytest.approx((10 - 8) / 15)
  assert [r.criterion for r in seen] == [c.args["criterion"] for c in SCENARIO.rubric]
  assert seen[0].tags == ("axis:accuracy",) and [r.points for r in seen] == [10, 5, -8]
  assert [(m.role, m.content) for m in seen[0].conversation] == [
      *[(m.role, m.content) for m in SCENARIO.messages], ("assistant", REPLY)]


def test_a_judge_must_return_a_bool():
  with judging(lambda request: "yes"):
    with pytest.raises(TypeError, match="not a bool"):
      grade(SCENARIO, [REPLY])
