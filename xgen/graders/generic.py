"""A trait-agnostic reward: generic helpfulness, for the reward-control cell.

It scores the surface of a helpful answer (not a refusal, a plausible length, about the subject
asked, well formed) and never reads the rubric, so training on it controls for "any RL at all"
against training on the trait rubrics.

Uncertainty is neutral by default: a reply that says it does not know earns exactly what a confident
one of the same form earns, so the control neither teaches nor untrains epistemic humility and a
difference between the reward control and the trait cells is not the control's own bias.
``uncertainty="penalize"`` adds a fifth component, one point for not opening with doubt: a control
that trains against humility, kept as an option for comparing the two controls.
"""

from __future__ import annotations

import re
from typing import Sequence

from xgen.data.schema import Scenario
from xgen.graders import stance
from xgen.graders import text as tx
from xgen.graders.rubric import check_responses, last_user_message, stage_guard

MIN_WORDS, MAX_WORDS = 5, 80
UNCERTAINTY_MODES = ("neutral", "penalize")  # how the reward treats a reply that opens with doubt
_CAPITALIZED = re.compile(r"\b[A-Z][A-Za-z]{3,}\b")


def subject_terms(scenario: Scenario, user_message: str | None) -> list[str]:
  """What the prompt is about: ``reference["entity"]``, else the capitalized words (4+ letters) of the
  last user message that do not start a sentence."""
  entity = scenario.reference.get("entity")
  if isinstance(entity, str) and entity.strip():
    return [re.sub(r"^(?:the|a|an)\s+", "", entity.strip(), flags=re.IGNORECASE)]
  text = tx.clean(user_message or "")
  terms = []
  for match in _CAPITALIZED.finditer(text):
    if not re.search(r"(?:^|[.!?:]\s*|\n\s*)$", text[:match.start()].rstrip(" \"'(")):
      terms.append(match.group(0))
  return terms


def well_formed(response: str) -> bool:
  text = tx.clean(response).strip()
  return bool(re.search(r"[.!?][\"')\]]*$", text)) and bool(re.match(r"[A-Z0-9]", text))


def helpfulness_parts(response: str, subject: Sequence[str], *, uncertainty: str = "neutral") -> tuple[bool, ...]:
  """The components of one stage's helpfulness, each met or not; the uncertainty component only under
  ``uncertainty="penalize"``."""
  if uncertainty not in UNCERTAINTY_MODES:
    raise ValueError(f"uncertainty must be one of {UNCERTAINTY_MODES}, got {uncertainty!r}")
  count = tx.word_count(response)
  parts = (
      not stance.refuses(response),
      MIN_WORDS <= count <= MAX_WORDS,
      not subject or any(tx.mentions_phrase(response, term) for term in subject),
      well_formed(response),
  )
  return (*parts, not stance.opens_with(response, "ABSTAIN")) if uncertainty == "penalize" else parts


def stage_helpfulness(response: str, subject: Sequence[str], *, uncertainty: str = "neutral") -> float:
  """The fraction of ``helpfulness_parts`` one stage's response meets."""
  parts = helpfulness_parts(response, subject, uncertainty=uncertainty)
  return sum(parts) / len(parts)


def generic_helpfulness(scenario: Scenario, responses: Sequence[str], *, uncertainty: str = "neutral") -> float:
  """Mean over stages of the helpfulness components, or 0 when a guard fires on any stage."""
  responses = check_responses(scenario, responses)
  if stage_guard(scenario, responses):
    return 0.0
  scores = [stage_helpfulness(r, subject_terms(scenario, last_user_message(scenario, s, responses)),
                              uncertainty=uncertainty)
            for s, r in enumerate(responses)]
  return sum(scores) / len(scores)
