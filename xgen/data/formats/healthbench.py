"""HealthBench's rubric JSONL as scenarios.

A line holds ``prompt_id``, ``prompt`` (the conversation: a list of ``{role, content}`` messages ending
with the user's turn), ``rubrics`` (a list of ``{criterion, points, tags}``, points from -10 to 10,
negative for a penalty) and ``example_tags``; other top-level fields (``ideal_completions_data``,
``canary``) are not graded and are ignored, except the physicians' ideal completion, kept in ``reference``.

The mapping:

* ``id``: ``prompt_id``; ``source`` ``eval``, ``split`` ``test``, ``category`` :data:`CATEGORY`, ``domain`` as
  given (the CLI's ``--domain``), so the items form the eval suite ``healthbench.<domain>``;
* ``messages``: the whole ``prompt``, every turn kept (earlier assistant turns included);
* ``rubric``: every criterion in order, negative ones too, each a ``judge`` criterion worth its points with
  ``args = {"criterion": text, "tags": tags}`` (see :mod:`xgen.graders.judge`);
* ``tags``: ``example_tags``; ``reference``: the format, the prompt id and the ideal completion if any.
"""

from __future__ import annotations

from typing import Any

from xgen.data.formats import common
from xgen.data.schema import EVAL_SOURCE, JUDGE_CHECK, TEST_SPLIT, Scenario, SchemaError

FORMAT = "healthbench"
CATEGORY = "healthbench"
MIN_POINTS, MAX_POINTS = -10, 10
# Schema fields named as HealthBench names them in error messages.
RENAMES = {"id": "prompt_id", "messages": "prompt", "rubric": "rubrics", "tags": "example_tags"}


def messages(value: Any) -> list[dict]:
  """The prompt's messages as schema dicts (roles and order are validated by the schema)."""
  out = []
  for i, item in enumerate(common.items(value, "prompt", "messages")):
    message = common.obj(item, f"prompt[{i}]", ("role", "content"))
    out.append({key: common.text(common.required(message, key, f"prompt[{i}].{key}"), f"prompt[{i}].{key}",
                                 empty=True) for key in ("role", "content")})
  return out


def criterion(value: Any, field: str) -> dict:
  """One rubric item as a ``judge`` criterion."""
  item = common.obj(value, field, ("criterion", "points", "tags"))
  description = common.text(common.required(item, "criterion", f"{field}.criterion"), f"{field}.criterion")
  points = common.number(common.required(item, "points", f"{field}.points"), f"{field}.points")
  if not MIN_POINTS <= points <= MAX_POINTS:
    raise SchemaError(f"{field}.points", f"must lie in [{MIN_POINTS}, {MAX_POINTS}], got {points:g}")
  tags = common.strings(item.get("tags", []), f"{field}.tags")
  return {"description": description, "points": points, "check": JUDGE_CHECK,
          "args": {"criterion": description, "tags": tags}}


def ideal_completion(record: dict) -> str | None:
  """The physicians' ideal completion, when the record carries one."""
  data = record.get("ideal_completions_data")
  completion = data.get("ideal_completion") if isinstance(data, dict) else None
  return completion if isinstance(completion, str) else None


def scenario(record: dict, *, line: int, name: str, domain: str) -> Scenario:
  """The scenario of one HealthBench line (``line`` and ``name`` are unused: the id is the prompt id)."""
  del line, name
  prompt_id = common.text(common.required(record, "prompt_id"), "prompt_id")
  conversation = messages(common.required(record, "prompt"))
  rubric = [criterion(item, f"rubrics[{i}]")
            for i, item in enumerate(common.items(common.required(record, "rubrics"), "rubrics", "criteria"))]
  tags = common.strings(record.get("example_tags", []), "example_tags")
  reference = {"format": FORMAT, "prompt_id": prompt_id}
  if ideal_completion(record) is not None:
    reference["ideal_completion"] = ideal_completion(record)
  return common.build({"id": prompt_id, "source": EVAL_SOURCE, "domain": domain, "category": CATEGORY,
                       "split": TEST_SPLIT, "messages": conversation, "rubric": rubric, "reference": reference,
                       "tags": tags}, RENAMES)
