"""Public benchmark formats, read as scenarios and imported like xgen's own JSONL.

One module per format, each with a pure adapter ``(record, *, line, name, domain)`` from one record to a
:class:`Scenario` or a list of them: a JSON line (:mod:`.healthbench`, :mod:`.mc`) or a CSV row (:mod:`.mask`,
two scenarios a row), read by the format's reader in :data:`READERS` (default :func:`common.json_records`).
:func:`parse` runs a format over a file's bytes (``xgen``: :func:`jsonl_import.parse_jsonl`, today's schema),
with the caller's ``check`` (the CLI passes the graders' ``check_rubric``) on every scenario and the first error
located at ``FILE:LINE``. :func:`import_file` writes the result as :func:`jsonl_import.import_jsonl` does
(all-or-nothing, same layout and manifest, whose ``input`` also records the format).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, ContextManager, Iterator, Sequence

from xgen.data import jsonl_import
from xgen.data.formats import common, healthbench, mask, mc
from xgen.data.jsonl_import import ImportSummary, RecordCheck
from xgen.data.schema import Scenario, SchemaError

XGEN = "xgen"
Adapter = Callable[..., Scenario | Sequence[Scenario]]
ADAPTERS: dict[str, Adapter] = {healthbench.FORMAT: healthbench.scenario, mc.FORMAT: mc.scenario,
                                mask.FORMAT: mask.scenarios}
Reader = Callable[[bytes, str], Iterator[tuple[int, dict]]]
READERS: dict[str, Reader] = {mask.FORMAT: common.csv_records}
FAMILIES: dict[str, tuple[str, ...]] = {mask.FORMAT: (mask.ACCURACY, mask.HONESTY)}  # default: (format,)
FORMATS = (XGEN, *ADAPTERS)
check_domain = common.check_domain


def suite_names(format: str, domain: str) -> tuple[str, ...]:
  """The eval suites ``<family>.<domain>`` an import in an adapted ``format`` makes (a family is its items'
  category: the format's name, or MASK's accuracy and honesty families)."""
  return tuple(f"{family}.{domain}" for family in FAMILIES.get(format, (format,)))


def parse(data: bytes, where: str, *, format: str = XGEN, name: str = "", domain: str = "",
          check: RecordCheck | None = None) -> list[Scenario]:
  """The scenarios of a file's bytes in ``format``, each passed to ``check``; ``name`` (the import's name)
  and ``domain`` are the adapters' (ids of id-less formats, the suite's domain). Errors are SchemaError
  (a ValueError) at ``where:line``."""
  if format == XGEN:
    return jsonl_import.parse_jsonl(data, where, check=check)
  if format not in ADAPTERS:
    raise ValueError(f"unknown format {format!r} (known: {', '.join(FORMATS)})")
  read = READERS.get(format, common.json_records)
  return jsonl_import.collect(made(ADAPTERS[format], read(data, where), where, name=name, domain=domain), where,
                              check=check)


def made(adapter: Adapter, records, where: str, **options) -> Iterator[tuple[int, Callable[[], Scenario]]]:
  """(line number, maker) for each scenario ``adapter`` makes of ``records`` ((line number, record) pairs), as
  :func:`jsonl_import.collect` takes them; an adapter's SchemaError is located at ``where:line``."""
  for number, record in records:
    try:
      out = adapter(record, line=number, **options)
    except SchemaError as error:
      raise error.at(f"{where}:{number}") from None
    for scenario in [out] if isinstance(out, Scenario) else out:
      yield number, (lambda scenario=scenario: scenario)


def import_file(path: str | Path, out_dir: str | Path, *, format: str = XGEN, name: str = "", domain: str = "",
                check: RecordCheck | None = None, lock: ContextManager | None = None) -> ImportSummary:
  """Validates ``path`` in ``format`` and writes it into ``out_dir`` as :func:`jsonl_import.import_jsonl`
  does (which runs the ``xgen`` format unchanged)."""
  if format == XGEN:
    return jsonl_import.import_jsonl(path, out_dir, check=check, lock=lock)
  return jsonl_import.import_jsonl(path, out_dir, lock=lock, input_format=format,
                                   parse=lambda data, where: parse(data, where, format=format, name=name,
                                                                   domain=domain, check=check))
