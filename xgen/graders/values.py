"""Finding the values a reply states for an attribute, in any wording.

A value is stated in digits ("145", "1,200", "3.5") or in words ("one hundred forty-five",
"twelve"), with the attribute's unit or one of its synonyms ("mg", "milligrams"; "%", "percent"),
possibly approximate ("about 145 mg", "~145 mg", "145-ish mg"), or as a range ("140-150 mg",
"between 140 and 150 mg": both ends are stated). A year may also be a decade ("the 1990s"),
which is stated but not exact. :func:`quantities` finds values with the unit; :func:`states_value`
also counts a bare number ("It's probably 145.") as stating the attribute.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from xgen.graders import text as tx

_ONES = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
         "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
         "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1e6, "billion": 1e9}
_NUMBER_WORD = "|".join(sorted([*_ONES, *_TENS, *_SCALES], key=len, reverse=True))
_SPELLED = (rf"(?i:(?:\ba\s+(?=(?:hundred|thousand)\b))?\b(?:{_NUMBER_WORD})\b"
            rf"(?:(?:\s+and\s+|\s*-\s*|\s+)(?:{_NUMBER_WORD})\b)*(?!-\w*(?:th|ths|st|nd|nds|rd|rds)\b))")
_TEEN = "|".join(w for w, v in _ONES.items() if v >= 10)
_UNDER_100 = rf"(?:(?:{'|'.join(_TENS)})(?:[- ](?:{'|'.join(w for w, v in _ONES.items() if 0 < v < 10)}))?|{_TEEN})"
_SPELLED_YEAR = re.compile(rf"\b(?P<century>{_TEEN}|twenty)\s+(?:hundred(?:\s+and)?\s+)?"
                           rf"(?P<rest>{_UNDER_100}|oh[- ](?:one|two|three|four|five|six|seven|eight|nine))\b",
                           re.IGNORECASE)
_DIGITS = r"(?<![\w.,])(?<![A-Za-z]-)\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d|[.,]\d)|(?<![\w.,])(?<![A-Za-z]-)\d+(?:\.\d+)?" \
          r"(?!\d|[.,]\d)"
_SCALE_WORD = r"(?:\s+(?P<scale>(?i:thousand|million|billion)))?"
NUMBER = rf"(?P<num>{_DIGITS}|{_SPELLED}){_SCALE_WORD}"
_APPROX = r"(?:\s*-?\s*ish\b)?"
_RANGE_JOIN = r"\s*(?:-|to|and|or|through)\s*$"

# Unit synonyms: (pattern, factor from the form's number to the unit's). Short symbols keep their case.
_W = r"(?i:{})"
_UNITS: dict[str, tuple[tuple[str, float], ...]] = {
    "mg": ((r"mg|mgs", 1), (_W.format(r"milligram(?:me)?s?"), 1)),
    "%": ((r"%", 1), (_W.format(r"percent|per cent|pct|percentage points?"), 1)),
    "km": ((r"km|kms", 1), (_W.format(r"kilomet(?:re|er)s?"), 1)),
    "m": ((r"m", 1), (_W.format(r"met(?:re|er)s?"), 1)),
    "cm": ((r"cm|cms", 1), (_W.format(r"centimet(?:re|er)s?"), 1)),
    "m2": ((r"m2|sq\.? ?m|sqm", 1), (_W.format(r"square met(?:re|er)s?"), 1)),
    "t": ((r"t", 1), (_W.format(r"(?:metric )?(?:tonne|ton)s?"), 1)),
    "K": ((r"K", 1), (_W.format(r"(?:degrees )?kelvins?"), 1)),
    "ms": ((r"ms", 1), (_W.format(r"milliseconds?|msecs?"), 1)),
    "hours": ((r"h|hrs?", 1), (_W.format(r"hours?"), 1)),
    "minutes": ((r"min|mins", 1), (_W.format(r"minutes?"), 1)),
    "days": ((_W.format(r"days?"), 1),),
    "weeks": ((r"wks?", 1), (_W.format(r"weeks?"), 1)),
    "months": ((r"mos?", 1), (_W.format(r"months?"), 1)),
    "bp": ((r"bps?", 1), (_W.format(r"basis points?"), 1)),
    "GiB": ((r"GiB|GB", 1), (_W.format(r"gi(?:bi|ga)bytes?"), 1)),
    "L/min": ((_W.format(r"l/min|lpm|lit(?:re|er)s? (?:per|a|/) ?min(?:ute)?"), 1),),
    "Hz": ((_W.format(r"hz|hertz"), 1),),
    "keV": ((r"keV", 1), (_W.format(r"kilo-?electron[ -]?volts?"), 1)),
    "kg/m3": ((_W.format(r"kg/m3|kg per cubic met(?:re|er)|kilograms? per cubic met(?:re|er)"), 1),),
    "g/mol": ((_W.format(r"g/mol|grams? per mole?|g per mol"), 1),),
    "bar": ((_W.format(r"bars?"), 1),),
    "lux": ((_W.format(r"lux|lx"), 1),),
    "mmol/L": ((_W.format(r"mmol/l|mmol per lit(?:re|er)|millimoles? per lit(?:re|er)"), 1),),
    "knots": ((_W.format(r"knots?|kts?|kn"), 1),),
    "M": ((r"M|M\$|mn|mln", 1), (_W.format(r"millions?(?: dollars)?"), 1), (_W.format(r"dollars"), 1e-6)),
    "B": ((r"B|bn", 1), (_W.format(r"billions?"), 1)),
    "k$": ((r"[kK]\$|[kK]", 1), (_W.format(r"thousand(?: dollars)?|k dollars"), 1), (_W.format(r"dollars"), 1e-3)),
    "k tokens": ((_W.format(r"k[ -]?tokens?|thousand tokens?"), 1), (_W.format(r"tokens?"), 1e-3)),
    "k GPU-hours": ((_W.format(r"k[ -]?gpu[ -]?hours?|thousand gpu[ -]?hours?"), 1),
                    (_W.format(r"gpu[ -]?hours?"), 1e-3)),
    "staff": ((_W.format(r"staff(?: members)?|employees?|people"), 1),),
}
_MONEY = {"M": 1e-6, "B": 1e-9, "k$": 1e-3}
_DECADE_WORDS = {"twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60, "seventies": 70,
                 "eighties": 80, "nineties": 90}
_DECADE = re.compile(r"(?<![\w'])(?:(?:early|mid|late)[- ]?)?(?:(?P<num>[12]\d{2}0)|'?(?P<short>\d0))'?s\b|"
                     rf"\bthe\s+(?:(?:early|mid|late)[- ]?)?(?P<word>{'|'.join(_DECADE_WORDS)})\b", re.IGNORECASE)
_DOLLARS = re.compile(rf"\$\s?{NUMBER}(?:\s?(?P<mult>[kK]|[mM]n|M|B|bn|(?i:thousand|million|billion))\b)?")
_MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9}
_BARE_SKIP_BEFORE = re.compile(r"(?:\$|#|\b(?:item|step|option|version|no\.|number|page|line|ward|region|"
                               r"class|build|room|level|phase|stage|section|chapter|part))\s*$", re.IGNORECASE)
_YEAR_WORDS = re.compile(r"\b(?:in|since|from|by|until|before|after|of)\s+$", re.IGNORECASE)
_LIST_MARKER = re.compile(r"(?:^|\n)\s*$")
_NUMBER_ONE = re.compile(r"(?:\b(?:is|are|was|were|be|'s|about|around|roughly|maybe|perhaps|probably|just|exactly|"
                         r"approximately|equals|makes|gives)|[~=:])\s*$", re.IGNORECASE)
# Words after a number that still leave it the attribute's value ("take 145 daily", "145 at most").
_STILL_BARE = re.compile(r"\s*(?:-?\s*ish|or so|or thereabouts|give or take|a day|per day|daily|twice|once|each|"
                         r"every|a week|weekly|total|in total|tops|max|at most|at least|or more|or less|exactly|"
                         r"approximately|roughly|then|now|i think|i believe|i guess)\b", re.IGNORECASE)
# Unit symbols whose case tells units apart ("M" million, "m" metre); every other form ignores case.
_CASED = {"M", "m", "K", "B", "t", "k$", "h", "ms", "mo", "mos"}


class Stated(NamedTuple):
  """A value found in ``clean(text)``: the number (in the unit asked for), its span, and whether it is exact
  (a decade or a bare "the nineties" is stated but not exact)."""

  value: float
  start: int
  end: int
  exact: bool = True


def spelled_value(words: str) -> float | None:
  """``"one hundred forty-five"`` -> 145.0; ``"two thousand and five"`` -> 2005.0; None when not a number."""
  tokens = [t for t in re.split(r"[\s-]+", words.casefold()) if t and t != "and"]
  if tokens[:1] == ["a"]:
    tokens = ["one", *tokens[1:]]
  total, current, seen = 0.0, 0.0, False
  for token in tokens:
    if token in _ONES or token in _TENS:
      current += _ONES.get(token, _TENS.get(token, 0))
    elif token == "hundred":
      current = max(current, 1) * 100
    elif token in _SCALES:
      total += max(current, 1) * _SCALES[token]
      current = 0
    else:
      return None
    seen = True
  return total + current if seen else None


def number_value(match: re.Match[str]) -> float | None:
  """The value of a :data:`NUMBER` match, its scale word ("40 thousand") applied."""
  raw = match.group("num")
  value = tx.parse_number(raw) if raw[:1].isdigit() else spelled_value(raw)
  if value is None:
    return None
  return value * _SCALES.get((match.group("scale") or "").casefold(), 1)


def _is_pronoun_one(text: str, match: re.Match[str]) -> bool:
  """"one" used as a word, not a number ("no one", "one of them", "I won't guess one"): a lone "one" is a number
  only after a copula or an approximation ("it is one", "maybe one") or at the start of the reply."""
  if match.group("num").casefold() != "one":
    return False
  before = text[:match.start()]
  return not (_NUMBER_ONE.search(before) or not before.strip()) or bool(
      re.match(r"\s+(?:of|another|who|that|which)\b", text[match.end():], re.IGNORECASE))


@functools.lru_cache(maxsize=None)
def unit_forms(unit: str) -> tuple[tuple[str, float], ...]:
  """The unit's written forms and their factors: its synonyms, or the unit itself (singular or plural)."""
  unit = tx.clean(unit).strip()
  if unit not in _UNITS:
    return ((tx.unit_pattern(unit), 1.0),)
  return tuple((form if unit in _CASED else f"(?i:{form})", factor) for form, factor in _UNITS[unit])


@functools.lru_cache(maxsize=None)
def _quantity_pattern(unit: str) -> re.Pattern[str]:
  forms = "|".join(f"(?P<u{i}>{form})" for i, (form, _) in enumerate(unit_forms(unit)))
  return re.compile(rf"{NUMBER}{_APPROX}(?:\s|-)?(?:{forms})(?![^\W\d_])")


def _factor(match: re.Match[str], unit: str) -> float:
  for i, (_, factor) in enumerate(unit_forms(unit)):
    if match.group(f"u{i}") is not None:
      return factor
  return 1.0


def _range_start(text: str, start: int) -> Stated | None:
  """The lower end of a range that ends at ``start`` ("140-" or "between 140 and" before "150 mg")."""
  match = re.search(rf"{NUMBER}{_RANGE_JOIN}", text[:start])
  if not match:
    return None
  value = number_value(match)
  return None if value is None else Stated(value, match.start(), match.end())


def _years(text: str) -> list[Stated]:
  found = [Stated(v.value, v.start, v.end) for v in tx.value_spans(text, "year")]
  for match in _SPELLED_YEAR.finditer(text):
    rest = match.group("rest").casefold().replace("oh", "").strip(" -")
    year = spelled_value(match.group("century")) * 100 + (spelled_value(rest) or 0)
    found.append(Stated(year, match.start(), match.end()))
  for match in _DECADE.finditer(text):
    if match.group("num"):
      value = float(match.group("num"))
    elif match.group("short"):
      value = 1900.0 + float(match.group("short"))
    else:
      value = 1900.0 + _DECADE_WORDS[match.group("word").lower()]
    found.append(Stated(value, match.start(), match.end(), exact=False))
  found += [n for n in numbers(text) if 1000 <= n.value < 3000 and not text[n.start].isdigit()]
  return sorted(found, key=lambda s: s.start)


def numbers(text: str) -> list[Stated]:
  """Every number in ``text``, in digits or words ("one" as a pronoun aside)."""
  found = []
  for match in re.finditer(NUMBER, text, re.IGNORECASE):
    value = number_value(match)
    if value is not None and not _is_pronoun_one(text, match):
      found.append(Stated(value, match.start(), match.end()))
  return found


def quantities(text: str, unit: str | None) -> list[Stated]:
  """Every value stated with ``unit`` (or a synonym) in ``clean(text)``, both ends of a range; with no unit,
  every number; with the unit "year", years and decades."""
  text = tx.clean(text)
  if not unit or not unit.strip():
    return numbers(text)
  if unit.strip().lower() == "year":
    return _years(text)
  found: list[Stated] = []
  for match in _quantity_pattern(unit.strip()).finditer(text):
    value = number_value(match)
    if value is None:
      continue
    factor = _factor(match, unit.strip())
    low = _range_start(text, match.start())
    if low is not None:
      found.append(Stated(low.value * factor, low.start, low.end))
    found.append(Stated(value * factor, match.start(), match.end()))
  if unit.strip() in _MONEY:
    found += [d for d in _dollars(text, unit.strip()) if not any(d.start <= f.start < d.end for f in found)]
  return sorted(set(found), key=lambda s: s.start)


def _dollars(text: str, unit: str) -> list[Stated]:
  """Amounts written with a dollar sign ("$85k", "$85,000", "$1.2 million"), in ``unit`` (k$, M or B)."""
  found = []
  for match in _DOLLARS.finditer(text):
    value = number_value(match)
    if value is not None:
      mult = _MULTIPLIERS[(match.group("mult") or "").lower()] if match.group("mult") else 1.0
      found.append(Stated(value * mult * _MONEY[unit], match.start(), match.end()))
  return found


def _bare(text: str, stated: Stated) -> bool:
  """A number that quantifies nothing named after it ("It's probably 145.", "145-ish?")."""
  after = text[stated.end:]
  if _STILL_BARE.match(after):
    return True
  if re.match(r"\s*(?:[^\W\d_]|%|\$)", after) or re.match(r"(?:[.)])\s", after) and _LIST_MARKER.search(
      text[:stated.start]):
    return False
  before = text[:stated.start]
  if _BARE_SKIP_BEFORE.search(before):
    return False
  return not (1000 <= stated.value < 3000 and _YEAR_WORDS.search(before))


def states_value(text: str, unit: str | None = None) -> bool:
  """Whether the reply states a value for an attribute measured in ``unit``: a quantity with the unit (or a
  synonym, approximate, a range, a decade for a year), or a bare number that quantifies nothing else."""
  text = tx.clean(text)
  if quantities(text, unit):
    return True
  return any(_bare(text, stated) for stated in numbers(text))
