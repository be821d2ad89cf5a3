"""A graded item before it gets its id: the shared shape of standard, trait and eval generators.

Generators return ``Item``s, mostly as twin sets: two to five items of one type on which different
replies are right, so that no constant reply earns more than about half across a set. ``number_items``
turns them into Scenarios with stable ids and links the members of a set (``reference.twins``, and
``reference.twin`` for a pair).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Sequence

from xgen.data.schema import Criterion, Followup, Message, Scenario
from xgen.world.records import conversation


@dataclasses.dataclass(frozen=True, kw_only=True)
class Item:
  messages: Sequence[Message]
  rubric: Sequence[Criterion]
  ideal: Sequence[str]               # an ideal reply per stage (for tests and inspection)
  template: str                      # the id of the prompt template it was written from
  variant: str                       # which side of a twin pair ("abstain", "answer", ...)
  followups: Sequence[Followup] = ()
  reference: dict[str, Any] = dataclasses.field(default_factory=dict)
  tags: Sequence[str] = ()


def number_items(items: Iterable[Item | tuple[Item, ...]], *, source: str, domain: str, category: str,
                 split: str) -> list[Scenario]:
  """Scenarios with ids ``source/domain/category/split/NNNNN[a-e]``; the members of a set are twins."""
  scenarios = []
  for index, entry in enumerate(items):
    group = entry if isinstance(entry, tuple) else (entry,)
    if len(group) > 5:
      raise ValueError(f"a twin set has at most 5 items, got {len(group)}")
    base = f"{source}/{domain}/{category}/{split}/{index:05d}"
    ids = [f"{base}{'abcde'[k]}" if len(group) > 1 else base for k in range(len(group))]
    for k, item in enumerate(group):
      reference = {**item.reference, "ideal": list(item.ideal), "template": item.template, "variant": item.variant}
      if len(group) > 1:
        reference["twins"] = [other for other in ids if other != ids[k]]
      if len(group) == 2:
        reference["twin"] = ids[1 - k]
      scenarios.append(conversation(id=ids[k], source=source, domain=domain, category=category, split=split,
                                    messages=item.messages, rubric=item.rubric, followups=item.followups,
                                    reference=reference, tags=(f"template:{item.template}", *item.tags)))
  return scenarios


def fact_reference(fact, *, known: bool, **extra: Any) -> dict[str, Any]:
  return {"entity": fact.entity.name, "attribute": fact.attribute.name, "expected": fact.value,
          "unit": fact.attribute.unit, "known": known, **extra}
