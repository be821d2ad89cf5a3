"""What the format adapters share: a JSONL file's objects or a CSV file's rows with their line numbers, field
readers that name the source format's field, and the step that turns an adapter's record into a validated
:class:`Scenario`.

Errors are :class:`SchemaError` naming the field as the source file spells it (``rubrics[3].points``); the
caller locates them at ``FILE:LINE``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any, Iterator, Mapping

from xgen.data.schema import MAX_DEPTH, Scenario, SchemaError
from xgen.data.jsonl_import import text_lines


def json_records(data: bytes, where: str) -> Iterator[tuple[int, dict]]:
  """(line number, object) for each non-blank line of JSONL bytes (1-based; a leading BOM and CRLF are
  tolerated); a line that is not UTF-8, not JSON or not an object raises SchemaError at ``where:line``."""
  for number, line in text_lines(data, where):
    yield number, _json_object(line, f"{where}:{number}")


def csv_records(data: bytes, where: str) -> Iterator[tuple[int, dict]]:
  """(line number, row) for each row of CSV bytes with a header row, read by :class:`csv.DictReader` (a row
  is ``{column: text}``; a column the row lacks is None). The number is the line after the previous row's end
  (1-based): the row's first line, unless blank lines precede it; a quoted field may span lines. Bytes that
  are not UTF-8, a file without a header, a row with more fields than the header and malformed CSV raise
  SchemaError at ``where:line``."""
  try:
    text = data.decode("utf-8-sig")
  except UnicodeDecodeError as error:
    line = data[:error.start].count(b"\n") + 1
    raise SchemaError("<record>", f"not valid UTF-8 (byte {error.start})").at(f"{where}:{line}") from None
  reader = csv.DictReader(io.StringIO(text, newline=""), restkey=_EXTRA)
  try:
    if not reader.fieldnames:
      raise SchemaError("<header>", "no header row (a CSV file's first line names its columns)").at(f"{where}:1")
    previous_end = reader.line_num
    for row in reader:
      start, previous_end = previous_end + 1, reader.line_num
      if _EXTRA in row:
        raise SchemaError("<record>", f"{len(row[_EXTRA])} more fields than the header's "
                          f"{len(reader.fieldnames)} columns").at(f"{where}:{start}")
      yield start, row
  except csv.Error as error:
    raise SchemaError("<record>", f"not valid CSV ({error})").at(f"{where}:{reader.line_num}") from None


_EXTRA = "\0extra"  # DictReader's key for a row's fields past the header (no column can be named so)


def _json_object(line: str, where: str) -> dict:
  try:
    record = json.loads(line)
  except json.JSONDecodeError as error:
    raise SchemaError("<record>", f"not valid JSON ({error.msg} at column {error.colno})").at(where) from None
  except RecursionError:
    raise SchemaError("<record>", f"nested more than {MAX_DEPTH} levels deep").at(where) from None
  if not isinstance(record, dict):
    raise SchemaError("<record>", f"expected a JSON object, got {type(record).__name__}").at(where)
  return record


def required(record: Mapping[str, Any], key: str, field: str | None = None) -> Any:
  """``record[key]``; SchemaError naming ``field`` (default ``key``) when it is missing."""
  if key not in record:
    raise SchemaError(field or key, "missing")
  return record[key]


def text(value: Any, field: str, *, empty: bool = False) -> str:
  """``value`` if it is a string (non-blank unless ``empty``)."""
  if not isinstance(value, str):
    raise SchemaError(field, f"expected a string, got {type(value).__name__}")
  if not empty and not value.strip():
    raise SchemaError(field, "is empty")
  return value


def items(value: Any, field: str, what: str) -> list:
  """``value`` if it is a list."""
  if not isinstance(value, list):
    raise SchemaError(field, f"expected a list of {what}, got {type(value).__name__}")
  return value


def strings(value: Any, field: str) -> list[str]:
  """``value`` if it is a list of strings."""
  return [text(item, f"{field}[{i}]", empty=True) for i, item in enumerate(items(value, field, "strings"))]


def obj(value: Any, field: str, keys: tuple[str, ...]) -> dict:
  """``value`` if it is an object whose keys are all among ``keys``."""
  if not isinstance(value, dict):
    raise SchemaError(field, f"expected an object with {', '.join(repr(k) for k in keys)}, "
                      f"got {type(value).__name__}")
  unknown = sorted(set(value) - set(keys))
  if unknown:
    raise SchemaError(f"{field}.{unknown[0]}", f"unknown field (allowed: {', '.join(keys)})")
  return value


def number(value: Any, field: str) -> float:
  """``value`` if it is a JSON number (not a boolean), as a float."""
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    raise SchemaError(field, f"expected a number, got {type(value).__name__}")
  return float(value)


_DOMAIN = re.compile(r"[A-Za-z0-9_-]+")


def check_domain(domain: str, what: str = "--domain") -> str:
  """``domain`` if it can be the domain half of a suite name ``<family>.<domain>`` (letters, digits, _ and -)."""
  if not isinstance(domain, str) or not _DOMAIN.fullmatch(domain):
    raise ValueError(f"{what}: {domain!r} cannot name a suite's domain (use letters, digits, '_' and '-'; "
                     "no '.', which separates the family from the domain in a suite's name)")
  return domain


def build(record: dict, renames: Mapping[str, str]) -> Scenario:
  """The scenario of a record in the xgen schema, validated as an xgen JSONL line is (lone surrogates and
  nesting too); a schema error names the source format's field: its first part renamed by ``renames``
  (``rubric[3].points`` -> ``rubrics[3].points``)."""
  try:
    return Scenario.from_json(json.dumps(record))
  except SchemaError as error:
    raise SchemaError(source_field(error.field, renames), error.message) from None


def source_field(field: str, renames: Mapping[str, str]) -> str:
  """``field`` with its leading name replaced by ``renames`` (unchanged when it has no entry)."""
  head = re.match(r"[^.\[]*", field).group(0)
  return renames.get(head, head) + field[len(head):]
