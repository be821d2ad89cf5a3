"""Pure text helpers the rubric checks are built from.

Everything here is a function of strings: the one Unicode normalization every check reads text
through (:func:`clean`), word tokens, numbers stated with a unit, negation around a value, and
the negation test the checks share. Stances (uncertainty, refusal, retraction, capitulation, affirmation,
welfare, referral to an expert) are :mod:`xgen.graders.stance`'s, which reads text through this module.

Numbers are written like ``40``, ``1,200``, ``3.5`` or ``-2``. A number *with a unit* is
one followed by an optional space (or hyphen) and the unit, the unit ending on a word
boundary: ``values_with_unit("take 40 mg, not 140 mg or 40 mcg", "mg") == (40.0, 140.0)``.
The unit ``"year"`` means a bare calendar year (1000-2999); a unit of ``None`` or ``""``
means every number in the text that is not part of a word.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

# ---------------------------------------------------------------------------------------------
# Normalization and tokens.

_CHAR_MAP = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "\u02bc": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2212": "-", "\u2013": "-", "\u2010": "-", "\u2011": "-",
    "\u2014": " - ",
    "\u00a0": " ", "\u202f": " ", "\u2009": " ",
})
# Cyrillic and Greek letters that look like Latin letters (or digits), folded to the Latin letter.
_CONFUSABLES = str.maketrans(dict(zip(
    "\u0430\u0432\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455"
    "\u0501\u051b\u051d\u04bb\u04cf\u043a\u043c\u043d\u0442"
    "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u0423\u0406\u0408\u0405\u0417\u04c0"
    "\u03b1\u03bf\u03bd\u03c1\u03b9\u03ba\u03c5\u03c7\u03c4"
    "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7",
    "aBeopcyxijsdqwhlkMHT"
    "ABEKMHOPCTXYIJS3I"
    "aovpikuxt"
    "ABEZHIKMNOPTYX")))
# A letter O (or l) that stands for a digit inside a number ("4O mg", "1l5").
_DIGIT_O = re.compile(r"(?<![^\W\d_])\d[\d,.]*[Oo][\dOo,.]*(?<![.,])(?![^\W\d_])")
_DIGIT_L = re.compile(r"(?<=\d)[lI](?=\d)")
_WORD = re.compile(r"[^\W_]+(?:['.,][^\W_]+)*")


def _visible(ch: str) -> bool:
  """Whether ``ch`` is kept: format characters (zero-width, bidi controls) and variation selectors are not."""
  category = unicodedata.category(ch)
  return category != "Cf" and not (category == "Mn" and ("\ufe00" <= ch <= "\ufe0f" or ch == "\u034f"))


def _digit_lookalikes(text: str) -> str:
  text = _DIGIT_O.sub(lambda m: m.group(0).replace("O", "0").replace("o", "0"), text)
  return _DIGIT_L.sub("1", text)


def clean(text: str) -> str:
  """The one normalization every check reads text through: Unicode NFKC, format characters removed, Cyrillic
  and Greek look-alikes folded to Latin letters (and a letter O inside a number to 0), straight quotes, ASCII
  hyphens and plain spaces. Case is kept (units such as "M" and "m" differ); matching ignores it elsewhere."""
  text = unicodedata.normalize("NFKC", text)
  if not text.isascii():
    text = "".join(ch for ch in text if _visible(ch)).translate(_CONFUSABLES)
  return _digit_lookalikes(text.translate(_CHAR_MAP))


def words(text: str) -> list[str]:
  """Case-folded word tokens; ``1,200``, ``3.5`` and ``don't`` are one token each."""
  return _WORD.findall(clean(text).casefold())


def normalize(text: str) -> str:
  """Lower-case words joined by single spaces: punctuation and spacing differences vanish."""
  return " ".join(words(text))


def word_count(text: str) -> int:
  return len(words(text))


def phrase_pattern(phrase: str, *, plural: bool = False) -> re.Pattern[str]:
  """A case-insensitive pattern for ``phrase`` on word boundaries (where its ends are word characters);
  with ``plural``, also its forms ending in "s", "es" or "'s"."""
  phrase = clean(phrase).strip()
  body = r"\s+".join(re.escape(part) for part in phrase.split())
  head = r"(?<!\w)" if re.match(r"\w", phrase[:1]) else ""
  tail = r"(?!\w)" if re.match(r"\w", phrase[-1:]) else ""
  if plural:
    body += r"(?:s|es|'s)?"
  return re.compile(head + body + tail, re.IGNORECASE)


def find_phrase(text: str, phrase: str) -> list[tuple[int, int]]:
  """Spans of ``phrase`` in ``clean(text)`` (case-insensitive, word-bounded)."""
  if not phrase.strip():
    return []
  return [m.span() for m in phrase_pattern(phrase).finditer(clean(text))]


def mentions_phrase(text: str, phrase: str) -> bool:
  return bool(find_phrase(text, phrase))


def sentences(text: str) -> list[str]:
  """Sentences split after ``.``, ``!`` or ``?`` followed by space or the end (``3.5`` stays whole)."""
  parts = re.split(r"(?<=[.!?])[\"')\]]*\s+", clean(text).strip())
  return [p for p in parts if p.strip()]


# ---------------------------------------------------------------------------------------------
# Numbers.

_NUMBER = (r"(?:(?<![\w.,])-)?(?<![\w.])(?<!\d,)(?<![A-Za-z]-)"
           r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?!\d|[.,]\d)")
_NUMBER_RE = re.compile(r"(?P<all>" + _NUMBER + r")")
_BARE_RE = re.compile(r"(?P<all>" + _NUMBER + r")(?![^\W\d_])")
_YEAR_RE = re.compile(r"(?<![\w.,\-])(?P<all>(?P<num>[12]\d{3}))(?!\w|[.,]\d)")
_UNIT_ALIASES = {"%": ("%", "percent", "per cent")}


class Value(NamedTuple):
  """A number found in a text, with the span of the number and its unit in ``clean(text)``."""

  value: float
  start: int
  end: int


def parse_number(text: str) -> float | None:
  """``"1,200"`` -> 1200.0; ``None`` when ``text`` is not one number."""
  match = re.fullmatch(r"\s*(-?)(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*", clean(text))
  if not match:
    return None
  return float(match.group(1) + match.group(2).replace(",", ""))


def _unit_alternative(unit: str) -> str:
  """Short units ("M", "K", "mg", "k$") match exactly; longer ones ignore case ("mmol/l"), and
  word units match singular and plural ("hours" also matches "hour")."""
  if len(unit) < 3:
    return re.escape(unit)
  if unit.isalpha():
    stem = unit[:-1] if unit.endswith("s") else unit
    return r"(?i:" + re.escape(stem) + r"s?)"
  return r"(?i:" + re.escape(unit) + r")"


def unit_pattern(unit: str) -> str:
  """The regex for ``unit`` (with its aliases and singular/plural), ending on a word boundary."""
  unit = clean(unit).strip()
  forms = _UNIT_ALIASES.get(unit, (unit,))
  body = "|".join(_unit_alternative(form) for form in forms)
  tail = r"(?!\w)" if any(re.match(r"\w", form[-1]) for form in forms) else ""
  return r"(?:" + body + r")" + tail


def _is_year(unit: str | None) -> bool:
  return bool(unit) and unit.strip().lower() == "year"


def value_spans(text: str, unit: str | None = None) -> list[Value]:
  """Every number stated with ``unit`` in ``text``, with its span in ``clean(text)``."""
  text = clean(text)
  if _is_year(unit):
    return [Value(float(m.group("num")), m.start(), m.end()) for m in _YEAR_RE.finditer(text)]
  if not unit or not unit.strip():
    pattern = _BARE_RE
  else:
    pattern = re.compile(r"(?P<all>" + _NUMBER + r")(?:\s|-)?" + unit_pattern(unit))
  found = []
  for m in pattern.finditer(text):
    number = m.group("all")
    found.append(Value(float(number.replace(",", "")), m.start(), m.end()))
  return found


def values_with_unit(text: str, unit: str | None = None) -> tuple[float, ...]:
  """The numbers stated with ``unit`` in ``text``, in order (see the module docstring)."""
  return tuple(v.value for v in value_spans(text, unit))


def same_number(a: float, b: float) -> bool:
  return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


_NEGATION_BEFORE = re.compile(
    r"\b(?:not|never|isn't|wasn't|aren't|weren't|rather than|instead of|\w+n't)\b|\bno,", re.IGNORECASE)
_NEGATION_AFTER = re.compile(
    r"^\W*(?:is|was|are|were)?\s*(?:wrong|incorrect|not (?:right|correct)|mistaken|a mistake|an error)\b",
    re.IGNORECASE)


def _sentence_prefix(text: str, start: int) -> str:
  """The part of ``text`` before ``start`` that is in the same sentence."""
  prefix = text[:start]
  cut = max((m.end() for m in re.finditer(r"[.!?;](?=\s|$)|\n", prefix)), default=0)
  return prefix[cut:]


def _sentence_suffix(text: str, end: int) -> str:
  suffix = text[end:]
  match = re.search(r"[.!?;](?=\s|$)|\n", suffix)
  return suffix[:match.start()] if match else suffix


def negated(text: str, start: int, end: int | None = None, window: int = 4) -> bool:
  """Whether the span at ``start`` in ``clean(text)`` is denied: a negation within ``window`` words before it
  (not, isn't, wasn't, never, no, rather than, instead of) or "is wrong/incorrect" right after it."""
  text = clean(text)
  before = " ".join(_sentence_prefix(text, start).split()[-window:])
  if _NEGATION_BEFORE.search(before):
    return True
  return end is not None and bool(_NEGATION_AFTER.search(_sentence_suffix(text, end)))
