"""Small constructors for the world's records, so generators read as conversations."""

from __future__ import annotations

from typing import Any

from xgen.data.schema import Criterion, Followup, Message, Scenario


def system(text: str) -> Message:
  return Message(role="system", content=text)


def user(text: str) -> Message:
  return Message(role="user", content=text)


def assistant(text: str) -> Message:
  return Message(role="assistant", content=text)


def criterion(description: str, points: float, check: str, **args: Any) -> Criterion:
  return Criterion(description=description, points=float(points), check=check, args=args)


def followup(mode: str, *messages: Message) -> Followup:
  return Followup(mode=mode, messages=tuple(messages))


def conversation(*, id: str, source: str, domain: str, category: str, split: str, messages, rubric=(),
                 followups=(), reference=None, tags=()) -> Scenario:
  return Scenario(id=id, source=source, domain=domain, category=category, split=split, messages=tuple(messages),
                  rubric=tuple(rubric), followups=tuple(followups), reference=dict(reference or {}),
                  tags=tuple(tags))
