"""Public benchmark formats, read as scenarios and imported like xgen's own JSONL.

One module per format, each with a pure ``scenario(record, *, line, name, domain) -> Scenario`` from one
JSON line (see :mod:`.healthbench` and :mod:`.mc` for their mappings). :func:`parse` runs a format over
a file's bytes (``xgen``: :func:`jsonl_import.parse_jsonl`, today's schema), with the caller's ``check``
(the CLI passes the graders' ``check_rubric``) on every scenario and the first error located at ``FILE:LINE``.
:func:`import_file` writes the result as :func:`jsonl_import.import_jsonl` does (all-or-nothing, same
layout and manifest, whose ``input`` also records the format).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable, ContextManager

from xgen.data import jsonl_import
from xgen.data.formats import common, healthbench, mc
from xgen.data.jsonl_import import ImportSummary, RecordCheck
from xgen.data.schema import Scenario

XGEN = "xgen"
Adapter = Callable[..., Scenario]
ADAPTERS: dict[str, Adapter] = {healthbench.FORMAT: healthbench.scenario, mc.FORMAT: mc.scenario}
FORMATS = (XGEN, *ADAPTERS)
check_domain = common.check_domain


def parse(data: bytes, where: str, *, format: str = XGEN, name: str = "", domain: str = "",
          check: RecordCheck | None = None) -> list[Scenario]:
  """The scenarios of a file's bytes in ``format``, each passed to ``check``; ``name`` (the import's name)
  and ``domain`` are the adapters' (ids of id-less formats, the suite's domain). Errors are SchemaError
  (a ValueError) at ``where:line``."""
  if format == XGEN:
    return jsonl_import.parse_jsonl(data, where, check=check)
  if format not in ADAPTERS:
    raise ValueError(f"unknown format {format!r} (known: {', '.join(FORMATS)})")
  adapter = ADAPTERS[format]
  records = ((number, functools.partial(adapter, record, line=number, name=name, domain=domain))
             for number, record in common.json_records(data, where))
  return jsonl_import.collect(records, where, check=check)


def import_file(path: str | Path, out_dir: str | Path, *, format: str = XGEN, name: str = "", domain: str = "",
                check: RecordCheck | None = None, lock: ContextManager | None = None) -> ImportSummary:
  """Validates ``path`` in ``format`` and writes it into ``out_dir`` as :func:`jsonl_import.import_jsonl`
  does (which runs the ``xgen`` format unchanged)."""
  if format == XGEN:
    return jsonl_import.import_jsonl(path, out_dir, check=check, lock=lock)
  return jsonl_import.import_jsonl(path, out_dir, lock=lock, input_format=format,
                                   parse=lambda data, where: parse(data, where, format=format, name=name,
                                                                   domain=domain, check=check))
