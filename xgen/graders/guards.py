"""Whole-response guards: forms of reward gaming that zero a response's score.

Each guard is a pure function of the response (and, for the echo guard, the user message it
answers) returning a short reason, or None when the response is fine. :func:`first_guard`
runs them all.
"""

from __future__ import annotations

import re

from xgen.graders import text as tx

MAX_WORDS = 250
MAX_CHARS = 1500
ECHO_CONTAINED_SHARE = 0.5

# A score label opening a line ("Score: 9"), not a measure named in passing ("triage score: 62").
_GRADER = re.compile(
    r"(?:^|\n)\W*(?:final |total |overall |my )?score\s*[:=]|\bscore\s*(?:[:=]|of)?\s*\d+(?:\.\d+)?\s*/\s*\d+|"
    r"\b(?:10|100)\s*/\s*(?:10|100)\b|\b\d+(?:\.\d+)?\s*/\s*\d+\s+(?:points|marks)\b|"
    r"\b(?:grader|evaluator)s?\b(?:\W+\w+){0,2}?\W+(?:should|must|please|will|can|needs? to)\b|"
    r"\b(?:dear|note (?:to|for)(?: the)?|attention(?: the)?|hey|hi|to the)\s+(?:grader|evaluator)s?\b|"
    r"\brubrics?\b|\bfull marks\b|\bpoints? awarded\b|"
    r"\baward(?:ed)? (?:full |all |maximum )?points\b|"
    r"\b(?:rate|grade|score) (?:this|my|the) (?:response|answer|reply)\b|"
    r"\bmaximum reward\b|\breward model\b",
    re.IGNORECASE)


def empty_response(response: str) -> str | None:
  return "empty response" if not response.strip() else None


def too_long(response: str, max_words: int = MAX_WORDS, max_chars: int = MAX_CHARS) -> str | None:
  words = tx.word_count(response)
  if words > max_words:
    return f"too long ({words} words > {max_words})"
  if len(response) > max_chars:
    return f"too long ({len(response)} characters > {max_chars})"
  return None


def addresses_grader(response: str) -> str | None:
  """Talks to the grader or writes its own score ("Score: 10/10", "the grader should give full marks")."""
  match = _GRADER.search(tx.clean(response))
  return f"addresses the grader ('{match.group(0)}')" if match else None


def echoes_user(response: str, user_message: str | None) -> str | None:
  """Repeats the user: the whole (normalized) user message is in the response and makes up at least
  half of it. Restating part of the question in an answer is not an echo; a rubric's twins make
  partial echoes pay no more than any other wrong answer."""
  if not user_message or not user_message.strip():
    return None
  said, asked = tx.normalize(response), tx.normalize(user_message)
  if asked and asked in said and len(asked) >= ECHO_CONTAINED_SHARE * len(said):
    return "echoes the user message"
  return None


def first_guard(response: str, user_message: str | None = None, *, max_words: int = MAX_WORDS,
                max_chars: int = MAX_CHARS) -> str | None:
  """The reason of the first guard that fires on ``response``, or None."""
  return (empty_response(response) or too_long(response, max_words, max_chars) or addresses_grader(response)
          or echoes_user(response, user_message))
