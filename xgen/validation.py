"""The rules every config's ``__post_init__`` checks its fields with, and how a broken rule is said.

Each check takes the owner (``"WorldConfig"``), the field and the value, returns the value unchanged
(a list of names comes back as a tuple) and otherwise raises ``ValueError`` with one line
``Owner.field: must be <rule>, got <value>``; the value is quoted with ``excerpt``, so a huge value
never becomes a huge message. One treatment of types throughout: ``True`` and ``False`` are not
numbers, strings are not numbers, and NaN and infinities are not numbers in a range.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Collection, Mapping

from xgen.rundir.layout import excerpt

__all__ = ["boolean", "choice", "excerpt", "fail", "integer", "is_int", "is_number", "mapping", "names_tuple",
           "non_negative_int", "number_in", "positive_int", "sequence", "string", "strings_tuple"]


def fail(owner: str, field: str, rule: str, value: Any) -> ValueError:
  """The error for ``value`` breaking ``rule`` (``"an integer >= 0"``); raise it."""
  return ValueError(f"{owner}.{field}: must be {rule}, got {excerpt(value)}")


def is_int(value: Any) -> bool:
  """An integer that is not a bool (numpy integers count)."""
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
  """A real number that is not a bool and not NaN (infinities count here; ranges exclude them)."""
  return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)


def integer(owner: str, field: str, value: Any, *, low: int | None = None, high: int | None = None) -> Any:
  """An integer in ``[low, high]`` (either end may be open-ended: None)."""
  if not is_int(value) or (low is not None and value < low) or (high is not None and value > high):
    if low is not None and high is not None:
      rule = f"an integer in [{low}, {high}]"
    elif low is not None:
      rule = "a positive integer" if low == 1 else f"an integer >= {low}"
    else:
      rule = "an integer" if high is None else f"an integer <= {high}"
    raise fail(owner, field, rule, value)
  return value


def positive_int(owner: str, field: str, value: Any) -> Any:
  return integer(owner, field, value, low=1)


def non_negative_int(owner: str, field: str, value: Any) -> Any:
  return integer(owner, field, value, low=0)


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
  if low is not None and high is not None:
    return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
  if low is not None:
    return f"a finite number {'>' if low_open else '>='} {low:g}"
  if high is not None:
    return f"a finite number {'<' if high_open else '<='} {high:g}"
  return "a finite number"


def number_in(owner: str, field: str, value: Any, low: float | None = None, high: float | None = None, *,
              low_open: bool = False, high_open: bool = False) -> Any:
  """A finite real number (not a bool, not a string) in the interval from ``low`` to ``high``, each end
  closed unless ``low_open`` / ``high_open``; None leaves that end unbounded (but finite)."""
  ok = is_number(value) and math.isfinite(value)
  if ok and low is not None:
    ok = value > low if low_open else value >= low
  if ok and high is not None:
    ok = value < high if high_open else value <= high
  if not ok:
    raise fail(owner, field, _interval(low, high, low_open, high_open), value)
  return value


def boolean(owner: str, field: str, value: Any) -> bool:
  """True or False (not 0 or 1, not "yes")."""
  if not isinstance(value, bool):
    raise fail(owner, field, "True or False", value)
  return value


def string(owner: str, field: str, value: Any, *, non_empty: bool = True) -> str:
  if not isinstance(value, str) or (non_empty and not value.strip()):
    raise fail(owner, field, "a non-empty string" if non_empty else "a string", value)
  return value


def choice(owner: str, field: str, value: Any, options: Collection[str]) -> str:
  """One of ``options`` (listed in the message)."""
  if not isinstance(value, str) or value not in options:
    raise fail(owner, field, f"one of {', '.join(options)}", value)
  return value


def sequence(owner: str, field: str, value: Any, what: str) -> tuple:
  """A tuple or list as a tuple; a bare string is a mistake, not a sequence of letters."""
  if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
    raise ValueError(f"{owner}.{field}: give a tuple of {what}, got {excerpt(value)}")
  return tuple(value)


def strings_tuple(owner: str, field: str, value: Any, *, what: str = "strings") -> tuple[str, ...]:
  """A tuple (or list) of non-empty strings, returned as a tuple; repeats allowed."""
  items = sequence(owner, field, value, what)
  for item in items:
    if not isinstance(item, str) or not item.strip():
      raise ValueError(f"{owner}.{field}: {what} must be non-empty strings, got {excerpt(item)}")
  return items


def names_tuple(owner: str, field: str, value: Any, *, allowed: Collection[str] | None = None, noun: str = "name",
                non_empty: bool = False) -> tuple[str, ...]:
  """A tuple (or list) of distinct non-empty names, returned as a tuple; with ``allowed``, each must be
  one of them; with ``non_empty``, at least one."""
  names = strings_tuple(owner, field, value, what=f"{noun}s")
  if non_empty and not names:
    raise ValueError(f"{owner}.{field}: name at least one {noun}")
  for name in names:
    if allowed is not None and name not in allowed:
      raise ValueError(f"{owner}.{field}: unknown {noun} {excerpt(name)} (known: {', '.join(allowed)})")
  repeated = sorted({name for name in names if names.count(name) > 1})
  if repeated:
    raise ValueError(f"{owner}.{field}: repeated {noun}s {excerpt(tuple(repeated))} in {excerpt(names)}")
  return names


def mapping(owner: str, field: str, value: Any, *, what: str = "a mapping") -> Mapping:
  if not isinstance(value, Mapping):
    raise fail(owner, field, what, value)
  return value
