"""Export scenarios as JSONL in exactly the schema :mod:`xgen.data.jsonl_import` reads.

One scenario per line, as its canonical JSON (``Scenario.to_json``: sorted keys, no whitespace),
so that the import's parse of an exported line gives back an equal scenario: every stage's
messages, the rubric, the reference (ideal replies, twin ids, ...) and the tags. Lines are in id
order, which keeps a twin pair (``...00007a``, ``...00007b``) on neighbouring lines for reading.

Each file is written atomically (under a hidden temporary name, then renamed), so a killed export
leaves either the complete file or none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from xgen import rundir
from xgen.data.schema import Scenario

SUFFIX = ".jsonl"


def scenario_line(scenario: Scenario) -> str:
  """The JSONL line of one scenario (no newline); ``Scenario.from_json`` of it equals ``scenario``."""
  return scenario.to_json()


def jsonl_text(scenarios: Iterable[Scenario]) -> str:
  """The JSONL text of ``scenarios`` in id order, one line each, every line ending in a newline."""
  return "".join(scenario_line(s) + "\n" for s in sorted(scenarios, key=lambda s: s.id))


def split_file(out_dir: str | Path, split: str) -> Path:
  """Where the split named ``split`` (e.g. ``trait_train``) is exported: ``out_dir/<split>.jsonl``."""
  return Path(out_dir) / f"{split}{SUFFIX}"


def write_splits(out_dir: str | Path, splits: Mapping[str, Iterable[Scenario]]) -> dict[str, int]:
  """Writes each split (name -> scenarios) to ``split_file(out_dir, name)``, atomically one file at a
  time, creating ``out_dir`` if needed; returns the number of lines written per split."""
  counts = {}
  for split, scenarios in splits.items():
    scenarios = list(scenarios)
    rundir.atomic_write_text(split_file(out_dir, split), jsonl_text(scenarios))
    counts[split] = len(scenarios)
  return counts
