"""Import user scenarios from JSONL into a TFDS dataset, all-or-nothing.

Each non-blank line of the input is one scenario (see :mod:`xgen.data.schema`). The whole
file is validated before anything is written, by the schema and by an optional ``check`` that
the caller passes in (the CLI passes the graders' ``check_rubric``; this layer does not know the
graders); the first bad line raises a :class:`SchemaError` located at ``path:line``.

The imported dataset has one TFDS split per (source, split) pair, named
``f"{source}_{split}"`` (e.g. ``trait_train``), under ``out_dir/tfds/``, next to
``out_dir/manifest.json`` (record counts per split, sha256 of the input). It is built in a
temporary sibling directory and moved into place at the end, so a failed import leaves no
``out_dir`` behind, and an earlier complete import is replaced only once the new one is done.
The caller may pass a ``lock`` (the CLI passes the dataset name's run-directory lock) that is held
from the check of ``out_dir`` to the end of the write, so two imports never write one ``out_dir``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Callable, ContextManager, Iterable, Iterator, Mapping

from xgen import rundir
from xgen.data import tfds_store
from xgen.data.schema import Scenario, SchemaError

MANIFEST_NAME = rundir.MANIFEST
MANIFEST_FORMAT = "xgen-scenario-import"
MANIFEST_VERSION = 1
TFDS_SUBDIR = rundir.tfds_dir("").name


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImportSummary:
  out_dir: Path
  data_dir: Path  # ``out_dir / "tfds"``: pass it to ``tfds_store.open_scenarios``.
  splits: Mapping[str, int]  # TFDS split name -> number of records
  sha256: str  # of the input file's bytes
  num_records: int


RecordCheck = Callable[[Scenario], None]  # raises SchemaError for a record that must not be imported


def text_lines(data: bytes, where: str) -> Iterator[tuple[int, str]]:
  """(1-based line number, text) of every non-blank line of UTF-8 bytes (a leading BOM tolerated);
  SchemaError at ``where:line`` for bytes that are not UTF-8."""
  for line_number, raw in enumerate(data.split(b"\n"), start=1):
    try:
      line = raw.decode("utf-8-sig" if line_number == 1 else "utf-8")
    except UnicodeDecodeError as error:
      raise SchemaError("<record>", f"not valid UTF-8 (byte {error.start})").at(f"{where}:{line_number}") from None
    if line.strip():
      yield line_number, line


def collect(records: Iterable[tuple[int, Callable[[], Scenario]]], where: str, *,
            check: RecordCheck | None = None) -> list[Scenario]:
  """The scenarios ``records`` make ((line number, maker) pairs), each passed to ``check`` if given; a
  SchemaError from either, or a repeated id, is located at ``where:line``."""
  scenarios: list[Scenario] = []
  first_line: dict[str, int] = {}
  for line_number, make in records:
    try:
      scenario = make()
      if check is not None:
        check(scenario)
    except SchemaError as error:
      raise error.at(f"{where}:{line_number}") from None
    if scenario.id in first_line:
      raise SchemaError("id", f"duplicate id '{scenario.id}' (first used on line {first_line[scenario.id]}, "
                        f"again on line {line_number})").at(f"{where}:{line_number}")
    first_line[scenario.id] = line_number
    scenarios.append(scenario)
  return scenarios


def parse_jsonl(data: bytes, where: str, *, check: RecordCheck | None = None) -> list[Scenario]:
  """Scenarios from JSONL bytes (xgen's schema), each passed to ``check`` if given; errors are located at
  ``where:line`` (1-based)."""
  return collect(((number, functools.partial(Scenario.from_json, line)) for number, line in text_lines(data, where)),
                 where, check=check)


def read_jsonl(path: str | Path, *, check: RecordCheck | None = None) -> list[Scenario]:
  """Every scenario in a JSONL file, in file order; the first bad line raises SchemaError."""
  return parse_jsonl(Path(path).read_bytes(), str(path), check=check)


def split_name(scenario: Scenario) -> str:
  """The TFDS split a scenario is imported into."""
  return f"{scenario.source}_{scenario.split}"


def group_by_split(scenarios: list[Scenario]) -> dict[str, list[Scenario]]:
  """Scenarios per TFDS split name, keeping file order; splits sorted by name."""
  groups: dict[str, list[Scenario]] = {}
  for scenario in scenarios:
    groups.setdefault(split_name(scenario), []).append(scenario)
  return dict(sorted(groups.items()))


def build_manifest(scenarios: list[Scenario], *, input_name: str, sha256: str) -> dict:
  counts = Counter(split_name(s) for s in scenarios)
  return {
      "format": MANIFEST_FORMAT,
      "version": MANIFEST_VERSION,
      "input": {"name": input_name, "sha256": sha256},
      "num_records": len(scenarios),
      "splits": dict(sorted(counts.items())),
      "tfds": {"name": tfds_store.DATASET_NAME, "version": tfds_store.DATASET_VERSION,
               "file_format": tfds_store.FILE_FORMAT, "data_dir": TFDS_SUBDIR},
  }


def read_manifest(out_dir: str | Path) -> dict:
  return json.loads((Path(out_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))


def _is_replaceable(out_dir: Path) -> bool:
  """Only an empty directory or an earlier import may be replaced (never someone's folder)."""
  if not out_dir.is_dir():
    return False
  if not any(out_dir.iterdir()):
    return True
  try:
    return read_manifest(out_dir).get("format") == MANIFEST_FORMAT
  except (OSError, ValueError, AttributeError):
    return False


Parser = Callable[[bytes, str], list[Scenario]]  # (a file's bytes, its name for messages) -> scenarios


def import_jsonl(path: str | Path, out_dir: str | Path, *, check: RecordCheck | None = None,
                 lock: ContextManager | None = None, parse: Parser | None = None,
                 input_format: str | None = None) -> ImportSummary:
  """Validates ``path`` (with ``check`` too, if given) and writes it as a TFDS dataset plus manifest into
  ``out_dir``, holding ``lock`` (if given) once the input has validated, while ``out_dir`` is checked
  and written; whatever entering ``lock`` raises (e.g. ``rundir.locks.Busy``) propagates. ``parse``
  reads another format than xgen's JSONL (``xgen.data.formats``; then it runs ``check`` itself), which
  the manifest records as ``input.format``."""
  path, out_dir = Path(path), Path(out_dir)
  data = path.read_bytes()
  sha256 = hashlib.sha256(data).hexdigest()
  scenarios = parse(data, str(path)) if parse is not None else parse_jsonl(data, str(path), check=check)
  if not scenarios:
    raise ValueError(f"{path}: holds no records")
  manifest = build_manifest(scenarios, input_name=path.name, sha256=sha256)
  if input_format is not None:
    manifest["input"]["format"] = input_format

  def fill(staged: Path) -> None:
    tfds_store.write_scenarios(staged / TFDS_SUBDIR, group_by_split(scenarios))
    rundir.atomic_write_json(staged / MANIFEST_NAME, manifest)

  with lock if lock is not None else contextlib.nullcontext():
    if out_dir.exists() and not _is_replaceable(out_dir):
      raise FileExistsError(f"{out_dir} exists and is not an earlier import (no {MANIFEST_NAME}); "
                            "refusing to replace it")
    rundir.build_directory(out_dir, fill)  # an earlier import is replaced only once the new one is complete
  return ImportSummary(out_dir=out_dir, data_dir=out_dir / TFDS_SUBDIR, splits=manifest["splits"],
                       sha256=sha256, num_records=len(scenarios))
