"""The scenario record: one type for everything xgen trains or evaluates on.

The layout follows HealthBench's rubric format so that real benchmarks map onto it:
a conversation (``messages``), a rubric of criteria (at least 2) each worth some points and
carrying a machine check, and free-form reference fields the checks read. A criterion's points
may be negative (a penalty, paid when its check is met); every rubric has at least one
criterion with positive points.

Multi-turn items are expressed as *stages*. Stage 0 is ``messages``; each entry of
``followups`` is a later stage that either continues the conversation (the model's
previous reply and the new messages are appended) or starts afresh (only the new
messages). A criterion names the stage whose response it grades.

Records are plain, immutable dataclasses. ``to_json``/``from_json`` are exact inverses,
and ``Scenario.from_dict`` validates, raising :class:`SchemaError` that names the field.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Mapping, Sequence

from xgen.rundir.layout import shorten

SOURCES = ("pretrain", "standard", "trait", "eval", "attack")
SPLITS = ("train", "validation", "test")
EVAL_SOURCE, TEST_SPLIT = SOURCES[3], SPLITS[2]  # where eval items live, for the importers
ROLES = ("system", "user", "assistant")
FOLLOWUP_MODES = ("continue", "fresh")
# Sources whose records are graded by a rubric; the others are SFT targets.
GRADED_SOURCES = ("standard", "trait", "eval")
# The upper bound only catches runaway data (a rubric of thousands of criteria is a broken export), so real
# benchmarks must fit under it: HealthBench rubrics run to 20 criteria and more, with points from -10 to 10.
MIN_CRITERIA, MAX_CRITERIA = 2, 64


class SchemaError(ValueError):
  """A record does not follow the schema. ``field`` is a dotted path into the record. The text is cut
  to a few hundred characters, since a field name or a quoted value may be megabytes long."""

  def __init__(self, field: str, message: str, *, where: str = ""):
    self.field = field
    self.where = where
    self.message = message
    prefix = f"{where}: " if where else ""
    super().__init__(f"{prefix}field '{shorten(field, 100)}': {shorten(message, 500)}")

  def at(self, where: str) -> "SchemaError":
    """The same error, located in a file (``path:line``)."""
    return SchemaError(self.field, self.message, where=where)


JUDGE_CHECK = "judge"  # the check of a criterion whose verdict a judge model gives (xgen/graders/judge.py)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Message:
  role: str
  content: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class Followup:
  """A later stage: ``continue`` appends the previous reply and ``messages``; ``fresh`` starts over."""

  mode: str
  messages: tuple[Message, ...]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Criterion:
  description: str
  points: float
  check: str
  args: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Scenario:
  id: str
  source: str
  domain: str
  category: str  # the trait, eval family or task kind
  split: str
  messages: tuple[Message, ...]
  rubric: tuple[Criterion, ...] = ()
  followups: tuple[Followup, ...] = ()
  reference: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  tags: tuple[str, ...] = ()

  @property
  def num_stages(self) -> int:
    return 1 + len(self.followups)

  @property
  def total_points(self) -> float:
    """The most a reply can earn: the sum of the positive points (a negative criterion is a penalty)."""
    return float(sum(c.points for c in self.rubric if c.points > 0))

  def stage_messages(self, stage: int, replies: Sequence[str] = ()) -> list[Message]:
    """The conversation shown to the model at ``stage``, given its replies to earlier stages."""
    if not 0 <= stage < self.num_stages:
      raise IndexError(f"{self.id}: stage {stage} of {self.num_stages}")
    if len(replies) < stage:
      raise ValueError(f"{self.id}: stage {stage} needs {stage} earlier replies, got {len(replies)}")
    conversation = list(self.messages)
    for index, followup in enumerate(self.followups[:stage]):
      if followup.mode == "fresh":
        conversation = list(followup.messages)
      else:
        conversation += [Message(role="assistant", content=replies[index]), *followup.messages]
    return conversation

  def to_dict(self) -> dict[str, Any]:
    return {
        "id": self.id,
        "source": self.source,
        "domain": self.domain,
        "category": self.category,
        "split": self.split,
        "messages": [dataclasses.asdict(m) for m in self.messages],
        "followups": [
            {"mode": f.mode, "messages": [dataclasses.asdict(m) for m in f.messages]}
            for f in self.followups
        ],
        "rubric": [
            {"description": c.description, "points": c.points, "check": c.check, "args": dict(c.args)}
            for c in self.rubric
        ],
        "reference": dict(self.reference),
        "tags": list(self.tags),
    }

  def to_json(self) -> str:
    """Canonical JSON: sorted keys, no whitespace, so equal records give equal bytes."""
    return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

  @classmethod
  def from_json(cls, text: str) -> "Scenario":
    try:
      data = json.loads(text)
    except json.JSONDecodeError as error:
      raise SchemaError("<record>", f"not valid JSON ({error.msg} at column {error.colno})") from None
    except RecursionError:
      raise SchemaError("<record>", f"nested more than {MAX_DEPTH} levels deep") from None
    problem = _plain_text_problem(data)
    if problem:
      raise SchemaError(*problem)
    return cls.from_dict(data)

  @classmethod
  def from_dict(cls, data: Any) -> "Scenario":
    return _parse_scenario(data)

  def __post_init__(self):
    _validate(self)


# ---------------------------------------------------------------------------------------------
# Parsing: untrusted dicts (JSONL lines) into records, naming the first bad field.

MAX_DEPTH = 32  # levels of nested JSON arrays and objects in one record (the world's records use 5)


def _plain_text_problem(data: Any) -> tuple[str, str] | None:
  """(field, problem) for a value that cannot be stored, or None: nesting deeper than MAX_DEPTH, or a
  string (or key) holding a lone surrogate, which a JSON escape (``"\\ud800"``) allows but UTF-8 cannot
  encode. Iterative, so no input can exhaust the stack."""
  stack = [("<record>", data, 0)]
  while stack:
    field, value, depth = stack.pop()
    if isinstance(value, (dict, list)):
      if depth >= MAX_DEPTH:
        return field, f"nested more than {MAX_DEPTH} levels deep"
      items = value.items() if isinstance(value, dict) else enumerate(value)
      for key, item in items:
        if isinstance(value, list):
          where = f"{field}[{key}]"
        else:
          if _surrogate(key) is not None:
            return field, f"a key holds a lone surrogate at character {_surrogate(key)} (not valid Unicode)"
          where = key if field == "<record>" else f"{field}.{key}"
        stack.append((where, item, depth + 1))
    elif isinstance(value, str) and _surrogate(value) is not None:
      return field, f"holds a lone surrogate at character {_surrogate(value)} (not valid Unicode)"
  return None


def _surrogate(text: str) -> int | None:
  """The index of the first lone surrogate in ``text``, or None."""
  try:
    text.encode("utf-8")
  except UnicodeEncodeError as error:
    return error.start
  return None


_REQUIRED = ("id", "source", "domain", "category", "split", "messages")
_OPTIONAL = ("rubric", "followups", "reference", "tags")


def _expect(value: Any, kind: type | tuple[type, ...], field: str, what: str) -> Any:
  # bool is an int in Python; a JSON true is never a valid number here.
  if not isinstance(value, kind) or (isinstance(value, bool) and kind == (int, float)):
    raise SchemaError(field, f"expected {what}, got {type(value).__name__}")
  return value


def _parse_messages(items: Any, field: str) -> tuple[Message, ...]:
  _expect(items, list, field, "a list of messages")
  messages = []
  for i, item in enumerate(items):
    path = f"{field}[{i}]"
    _expect(item, dict, path, "an object with 'role' and 'content'")
    unknown = set(item) - {"role", "content"}
    if unknown:
      raise SchemaError(f"{path}.{sorted(unknown)[0]}", "unknown field")
    for key in ("role", "content"):
      if key not in item:
        raise SchemaError(f"{path}.{key}", "missing")
      _expect(item[key], str, f"{path}.{key}", "a string")
    messages.append(Message(role=item["role"], content=item["content"]))
  return tuple(messages)


def _parse_scenario(data: Any) -> Scenario:
  _expect(data, dict, "<record>", "a JSON object")
  for key in _REQUIRED:
    if key not in data:
      raise SchemaError(key, "missing")
  unknown = set(data) - set(_REQUIRED) - set(_OPTIONAL)
  if unknown:
    raise SchemaError(sorted(unknown)[0], f"unknown field (allowed: {', '.join(_REQUIRED + _OPTIONAL)})")
  for key in ("id", "source", "domain", "category", "split"):
    _expect(data[key], str, key, "a string")
  messages = _parse_messages(data["messages"], "messages")

  followups = []
  for i, item in enumerate(_expect(data.get("followups", []), list, "followups", "a list")):
    path = f"followups[{i}]"
    _expect(item, dict, path, "an object with 'mode' and 'messages'")
    if "mode" not in item:
      raise SchemaError(f"{path}.mode", "missing")
    _expect(item["mode"], str, f"{path}.mode", "a string")
    followups.append(Followup(mode=item["mode"], messages=_parse_messages(item.get("messages"), f"{path}.messages")))

  rubric = []
  for i, item in enumerate(_expect(data.get("rubric", []), list, "rubric", "a list of criteria")):
    path = f"rubric[{i}]"
    _expect(item, dict, path, "an object")
    unknown = set(item) - {"description", "points", "check", "args"}
    if unknown:
      raise SchemaError(f"{path}.{sorted(unknown)[0]}", "unknown field")
    for key in ("description", "points", "check"):
      if key not in item:
        raise SchemaError(f"{path}.{key}", "missing")
    _expect(item["description"], str, f"{path}.description", "a string")
    _expect(item["points"], (int, float), f"{path}.points", "a number")
    _expect(item["check"], str, f"{path}.check", "a string")
    args = _expect(item.get("args", {}), dict, f"{path}.args", "an object")
    rubric.append(Criterion(description=item["description"], points=float(item["points"]),
                            check=item["check"], args=args))

  reference = _expect(data.get("reference", {}), dict, "reference", "an object")
  tags = _expect(data.get("tags", []), list, "tags", "a list of strings")
  for i, tag in enumerate(tags):
    _expect(tag, str, f"tags[{i}]", "a string")

  return Scenario(id=data["id"], source=data["source"], domain=data["domain"], category=data["category"],
                  split=data["split"], messages=messages, followups=tuple(followups), rubric=tuple(rubric),
                  reference=reference, tags=tuple(tags))


# ---------------------------------------------------------------------------------------------
# Semantic validation, run on every record however it was made.


def _validate_conversation(messages: Sequence[Message], field: str, *, graded: bool, first: bool):
  if not messages:
    raise SchemaError(field, "must hold at least one message")
  for i, message in enumerate(messages):
    if message.role not in ROLES:
      raise SchemaError(f"{field}[{i}].role", f"must be one of {', '.join(ROLES)}, got '{message.role}'")
    if message.role == "system" and i != 0:
      raise SchemaError(f"{field}[{i}].role", "a system message may only come first")
    if not message.content.strip():
      raise SchemaError(f"{field}[{i}].content", "is empty")
  if graded and messages[-1].role != "user":
    raise SchemaError(f"{field}[{len(messages) - 1}].role", "a graded stage must end with a user message")
  if first and not graded and messages[-1].role != "assistant":
    raise SchemaError(f"{field}[{len(messages) - 1}].role",
                      "a training conversation must end with the assistant's target reply")


def _validate(s: Scenario):
  if not s.id.strip():
    raise SchemaError("id", "is empty")
  if s.source not in SOURCES:
    raise SchemaError("source", f"must be one of {', '.join(SOURCES)}, got '{s.source}'")
  if s.split not in SPLITS:
    raise SchemaError("split", f"must be one of {', '.join(SPLITS)}, got '{s.split}'")
  for key in ("domain", "category"):
    if not getattr(s, key).strip():
      raise SchemaError(key, "is empty")
  graded = s.source in GRADED_SOURCES
  _validate_conversation(s.messages, "messages", graded=graded, first=True)
  for i, followup in enumerate(s.followups):
    if followup.mode not in FOLLOWUP_MODES:
      raise SchemaError(f"followups[{i}].mode", f"must be one of {', '.join(FOLLOWUP_MODES)}, got '{followup.mode}'")
    _validate_conversation(followup.messages, f"followups[{i}].messages", graded=True, first=False)
  if s.followups and not graded:
    raise SchemaError("followups", f"only graded sources ({', '.join(GRADED_SOURCES)}) have later stages")
  if graded:
    if not MIN_CRITERIA <= len(s.rubric) <= MAX_CRITERIA:
      raise SchemaError("rubric", f"a {s.source} record needs {MIN_CRITERIA}-{MAX_CRITERIA} criteria, "
                        f"got {len(s.rubric)}")
  elif s.rubric:
    raise SchemaError("rubric", f"a {s.source} record is a training target and carries no rubric")
  for i, criterion in enumerate(s.rubric):
    if not criterion.description.strip():
      raise SchemaError(f"rubric[{i}].description", "is empty")
    if not criterion.check.strip():
      raise SchemaError(f"rubric[{i}].check", "is empty")
    if not (math.isfinite(criterion.points) and criterion.points != 0):
      raise SchemaError(f"rubric[{i}].points", f"must be a non-zero number (negative for a penalty), "
                        f"got {criterion.points}")
    stage = criterion.args.get("stage", -1)
    if not isinstance(stage, int) or not -s.num_stages <= stage < s.num_stages:
      raise SchemaError(f"rubric[{i}].args.stage", f"no stage {stage} in a {s.num_stages}-stage record")
  if s.rubric and not any(c.points > 0 for c in s.rubric):
    raise SchemaError("rubric", "needs at least one criterion with positive points")
  try:
    json.dumps(dict(s.reference), allow_nan=False)
  except (TypeError, ValueError) as error:
    raise SchemaError("reference", f"must be plain JSON ({error})") from None
