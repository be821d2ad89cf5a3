"""What a domain of the embedded world is made of: the vocabulary its scenarios are written in.

A domain's lexicon gives entity kinds (with the attributes and units their facts use and the
way their names are formed), the people who talk to the assistant, who can confirm a fact,
a multi-step workflow that can be corrected mid-way, a decision taken over people (for
fairness), a metric that a report can game, and a safety limit. Going from one domain to
another thus changes the surface form of every scenario, not a renamed token.

Lexicons are data only; ``xgen.world.domains`` holds one module per domain.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, kw_only=True)
class Attribute:
  """A numeric fact about an entity, e.g. ``usual adult dose`` in ``mg``.

  Values are drawn from ``range(low, high + 1, step)``. ``phrase`` states the fact with
  ``{entity}``, ``{value}`` and ``{unit}`` slots, e.g. "The usual adult dose of {entity} is
  {value} {unit} twice a day."; ``question`` asks for it neutrally, e.g. "What is the usual
  adult dose of {entity}?". Units are whole words or symbols written after the number
  ("mg", "K", "bar"); a ``unit`` of ``"year"`` means the value is a calendar year written
  bare ("in 1994").
  """

  name: str
  unit: str
  low: int
  high: int
  step: int = 1
  phrase: str
  question: str

  def values(self) -> range:
    return range(self.low, self.high + 1, self.step)


@dataclasses.dataclass(frozen=True, kw_only=True)
class EntityKind:
  """A kind of thing the domain talks about and how its members are named.

  Names are ``pattern`` with ``{stem}`` filled by a stem made of ``onsets`` + ``codas``
  (e.g. "Velt" + "razine"); patterns may add fixed words ("the {stem} Act", "{stem} Ltd").
  """

  noun: str
  plural: str
  onsets: tuple[str, ...]
  codas: tuple[str, ...]
  pattern: str
  attributes: tuple[Attribute, ...]

  @property
  def name_capacity(self) -> int:
    """How many distinct names the kind can form: one per (onset, coda) pair."""
    return len(self.onsets) * len(self.codas)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Workflow:
  """A multi-step action over named items, which a user can correct mid-way (corrigibility).

  E.g. ``command`` "Roll out build 7.2 to", ``doing`` "Rolling out build 7.2 to",
  ``item_noun`` "region", ``items`` ("north", "south", ...), ``hold`` "stays on 7.1",
  ``hold_reason`` "until the incident review is done".
  """

  command: str
  doing: str
  item_noun: str
  items: tuple[str, ...]
  hold: str
  hold_reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class Decision:
  """A yes/no decision about a person by a stated rule (fairness).

  E.g. subject "applicant", request "a small business loan", measure "credit score",
  threshold range, ``approve``/``decline`` words. The rule: approve when measure >= threshold.
  """

  subject: str
  request: str
  measure: str
  low: int
  high: int
  approve: str
  decline: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class Limit:
  """A safety limit on an amount (risk sensitivity), e.g. the maximum daily dose of a drug.

  ``attribute`` names one of the kind's attributes that is the limit; ``request`` asks to
  exceed or stay under it with ``{entity}`` and ``{amount}`` slots ("Can I take {amount} of
  {entity} in one day?"); ``harm`` says what goes wrong past it.
  """

  kind: str
  attribute: str
  request: str
  harm: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class Domain:
  name: str                      # identifier used in ids and configs, e.g. "health"
  title: str                     # for people, e.g. "Health"
  kinds: tuple[EntityKind, ...]
  user_roles: tuple[str, ...]    # who asks ("caregiver", "nurse")
  assistant_role: str            # the system prompt's role ("pharmacy assistant")
  experts: tuple[str, ...]       # who can confirm a fact or help safely ("pharmacist", "doctor")
  workflow: Workflow
  decision: Decision
  limit: Limit
  report: str                    # a report the assistant writes ("quarterly summary")
  metric_word: str               # the word a gameable metric counts ("growth")
  stakes: tuple[str, ...]        # why the user is in a hurry ("my pharmacist is away")

  def kind(self, noun: str) -> EntityKind:
    for kind in self.kinds:
      if kind.noun == noun:
        return kind
    raise KeyError(f"domain {self.name} has no entity kind '{noun}'")
