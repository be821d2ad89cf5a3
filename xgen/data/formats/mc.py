"""Multiple-choice JSONL in the shape of Anthropic's model-written evals, as scenarios.

A line holds ``question`` (text that lists the options as ``(A) ...``, ``(B) ...``),
``answer_matching_behavior`` and ``answer_not_matching_behavior``, each an option like ``" (A)"`` or a list
of such; other fields (``statement``, ``user_affiliation``, ...) are ignored.

The mapping:

* ``id``: ``<name>-<line>`` (the files carry no ids); ``source`` ``eval``, ``split`` ``test``, ``category``
  :data:`CATEGORY`, ``domain`` as given (the CLI's ``--domain``): the eval suite ``mc.<domain>``;
* ``messages``: the question as the one user message, unchanged;
* ``rubric``: "picks the matching-behaviour option" (``choice_matches`` on its letter, 1 point) and, for
  each not-matching option, "picks it" (``choice_matches``, -1 point). A reply that picks exactly the
  matching option scores 1 and any other reply 0, so a suite's mean score is the matching-behaviour
  rate; the penalties only record which other option was picked;
* ``reference``: the option letters (``options``, ``matching``, ``not_matching``) and the answers as the
  file spells them (``matching_text``, ``not_matching_text``), for a path that scores the options by
  their log-probabilities.

Options are letters in parentheses; Yes/No answers (the persona evals) and several matching options are
refused with a message naming the field.
"""

from __future__ import annotations

import re
from typing import Any

from xgen.data.formats import common
from xgen.data.schema import EVAL_SOURCE, TEST_SPLIT, Scenario, SchemaError

FORMAT = "mc"
CATEGORY = "mc"
CHOICE_CHECK = "choice_matches"
MATCHING, NOT_MATCHING = "answer_matching_behavior", "answer_not_matching_behavior"
RENAMES = {"messages": "question"}

_OPTION_IN_QUESTION = re.compile(r"(?<!\w)\(([A-Z])\)")
_ANSWER = re.compile(r"\s*\(?([A-Z])\)?\s*")


def question_options(question: str) -> list[str]:
  """The option letters a question lists, as ``(A)``, ``(B)``, ..., in order of first appearance."""
  return list(dict.fromkeys(_OPTION_IN_QUESTION.findall(question)))


def answers(value: Any, field: str) -> list[str]:
  """The answers of a field: one string or a non-empty list of strings."""
  listed = [value] if isinstance(value, str) else common.strings(value, field)
  if not listed:
    raise SchemaError(field, "lists no answer")
  return listed


def letter(answer: str, field: str, options: list[str]) -> str:
  """The option letter of an answer like ``" (A)"``, which the question must list."""
  match = _ANSWER.fullmatch(answer)
  if not match:
    raise SchemaError(field, f"expected an option letter like ' (A)', got {answer!r} (only lettered options "
                      "are supported, not Yes/No answers)")
  if match.group(1) not in options:
    listed = ", ".join(options) or "none"
    raise SchemaError(field, f"answer {answer.strip()!r} is not among the question's options ({listed})")
  return match.group(1)


def letters(record: dict, key: str, options: list[str]) -> tuple[list[str], list[str]]:
  """(letters without repeats, the answers as written) of one answer field."""
  value = common.required(record, key)
  written = answers(value, key)
  fields = [key] if isinstance(value, str) else [f"{key}[{i}]" for i in range(len(written))]
  return list(dict.fromkeys(letter(a, f, options) for a, f in zip(written, fields))), written


def criterion(choice: str, options: list[str], *, matching: bool) -> dict:
  what = "the matching-behaviour" if matching else "a not-matching"
  return {"description": f"picks {what} option ({choice})", "points": 1.0 if matching else -1.0,
          "check": CHOICE_CHECK, "args": {"choice": choice, "options": options}}


def scenario(record: dict, *, line: int, name: str, domain: str) -> Scenario:
  """The scenario of one multiple-choice line (its id is ``<name>-<line>``)."""
  question = common.text(common.required(record, "question"), "question")
  options = question_options(question)
  if len(options) < 2:
    raise SchemaError("question", f"lists {len(options)} options like '(A) ...', needs at least 2")
  matching, matching_text = letters(record, MATCHING, options)
  not_matching, not_matching_text = letters(record, NOT_MATCHING, options)
  if len(matching) != 1:
    raise SchemaError(MATCHING, f"names {len(matching)} options ({', '.join(matching)}); one is supported")
  if matching[0] in not_matching:
    raise SchemaError(NOT_MATCHING, f"also names the matching option ({matching[0]})")
  rubric = [criterion(matching[0], options, matching=True)]
  rubric += [criterion(choice, options, matching=False) for choice in not_matching]
  reference = {"format": FORMAT, "options": options, "matching": matching, "not_matching": not_matching,
               "matching_text": matching_text, "not_matching_text": not_matching_text}
  return common.build({"id": f"{name}-{line}", "source": EVAL_SOURCE, "domain": domain, "category": CATEGORY,
                       "split": TEST_SPLIT, "messages": [{"role": "user", "content": question}], "rubric": rubric,
                       "reference": reference}, RENAMES)
