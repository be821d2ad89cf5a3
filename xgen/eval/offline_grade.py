"""Grading given replies against the rubrics of stored scenarios, with no model involved.

The input is JSONL: each non-blank line is an object ``{"id": ..., "responses": [one reply per stage]}``
naming a scenario of the world (or of an imported dataset). Each output row is that object with
three fields added (replacing any of the same name): ``score`` (in [0, 1]), ``criteria`` (per
criterion of the rubric, in order: ``text``, its description; ``points``; ``met``, whether it earned
them) and ``guard`` (the reason a guard zeroed the score, or None). Other fields of the input line
are kept as they are.

The whole file is checked before any line is graded; the first bad line raises
:class:`ResponsesError` located at ``path:line`` (1-based). Only the public ``grade`` of
:mod:`xgen.graders.rubric` is used, and of its result only ``score``, ``criteria`` and ``guard``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from xgen import rundir
from xgen.data.schema import Scenario
from xgen.data.tfds_store import list_splits, open_scenarios
from xgen.graders.rubric import grade

ADDED_FIELDS = ("score", "criteria", "guard")


class ResponsesError(ValueError):
  """A line of a responses file that cannot be graded; the message starts with ``path:line``."""


@dataclasses.dataclass(frozen=True)
class Request:
  """One line of a responses file: the scenario to grade against, the replies, the line as read and where
  it was read (``path:line``, empty if unknown)."""

  scenario: Scenario
  responses: tuple[str, ...]
  row: Mapping[str, Any]
  where: str = ""


def index_scenarios(scenarios: Iterable[Scenario]) -> dict[str, Scenario]:
  """Scenarios by id; an id seen twice raises ValueError (ids are unique within a world or a dataset)."""
  index: dict[str, Scenario] = {}
  for scenario in scenarios:
    if scenario.id in index:
      raise ValueError(f"scenario id '{scenario.id}' is stored twice")
    index[scenario.id] = scenario
  return index


def stored_scenarios(data_dir: str | Path) -> dict[str, Scenario]:
  """Every scenario of every split of the TFDS dataset under ``data_dir`` (a world's or an import's), by id."""
  return index_scenarios(s for split in list_splits(data_dir) for s in open_scenarios(data_dir, split))


def parse_request(line: str, scenarios: Mapping[str, Scenario]) -> Request:
  """One input line checked against ``scenarios``; raises ValueError saying what is wrong (without location)."""
  try:
    row = json.loads(line)
  except json.JSONDecodeError as error:
    raise ValueError(f"not valid JSON ({error.msg} at column {error.colno})") from None
  except RecursionError:
    raise ValueError("not valid JSON (nested too deeply)") from None
  if not isinstance(row, dict):
    raise ValueError(f"expected a JSON object with 'id' and 'responses', got {type(row).__name__}")
  for key in ("id", "responses"):
    if key not in row:
      raise ValueError(f"field '{key}' is missing")
  identifier, responses = row["id"], row["responses"]
  if not isinstance(identifier, str):
    raise ValueError(f"field 'id': expected a string, got {type(identifier).__name__}")
  scenario = scenarios.get(identifier)
  if scenario is None:
    raise ValueError(f"unknown scenario id {rundir.excerpt(identifier)}")
  if not scenario.rubric:
    raise ValueError(f"scenario {rundir.excerpt(identifier)} is a {scenario.source} record with no rubric to grade by")
  if not isinstance(responses, list):
    raise ValueError(f"field 'responses': expected a list of strings (one per stage), got {type(responses).__name__}")
  if len(responses) != scenario.num_stages:
    raise ValueError(f"field 'responses': scenario {rundir.excerpt(identifier)} has {scenario.num_stages} "
                     f"stage{'s' if scenario.num_stages != 1 else ''}, so it needs {scenario.num_stages} "
                     f"response{'s' if scenario.num_stages != 1 else ''}, got {len(responses)}")
  for stage, response in enumerate(responses):
    if not isinstance(response, str):
      raise ValueError(f"field 'responses[{stage}]': expected a string, got {type(response).__name__}")
  return Request(scenario=scenario, responses=tuple(responses), row=row)


def parse_requests(data: bytes, where: str, scenarios: Mapping[str, Scenario]) -> list[Request]:
  """Every non-blank line of JSONL ``data``; the first bad line raises ResponsesError at ``where:line``."""
  requests = []
  for line_number, raw in enumerate(data.split(b"\n"), start=1):
    try:
      line = raw.decode("utf-8-sig" if line_number == 1 else "utf-8")  # a leading BOM is tolerated
      if line.strip():
        requests.append(dataclasses.replace(parse_request(line, scenarios), where=f"{where}:{line_number}"))
    except UnicodeDecodeError as error:
      raise ResponsesError(f"{where}:{line_number}: not valid UTF-8 (byte {error.start})") from None
    except ValueError as error:
      raise ResponsesError(f"{where}:{line_number}: {error}") from None
  if not requests:
    raise ResponsesError(f"{where}: holds no responses (one JSON object a line: {{\"id\": ..., \"responses\": [...]}})")
  return requests


def graded_row(request: Request) -> dict[str, Any]:
  """The input row with ``score``, ``criteria`` and ``guard`` added; a reply the grader refuses raises
  ResponsesError located at the request's line."""
  try:
    result = grade(request.scenario, request.responses)
  except (ValueError, TypeError) as error:
    raise ResponsesError(f"{request.where or request.scenario.id}: {error}") from None
  criteria = [{"text": criterion.description, "points": criterion.points, "met": bool(met)}
              for criterion, met in zip(request.scenario.rubric, result.criteria)]
  return {**request.row, "score": float(result.score), "criteria": criteria, "guard": result.guard}


def grade_file(path: str | Path, scenarios: Mapping[str, Scenario]) -> list[dict[str, Any]]:
  """The graded rows of a responses file, in file order (every line is checked before any is graded)."""
  path = Path(path)
  return [graded_row(request) for request in parse_requests(path.read_bytes(), str(path), scenarios)]


def mean_score(rows: Sequence[Mapping[str, Any]]) -> float:
  """The mean ``score`` of graded rows (0.0 for none)."""
  return sum(row["score"] for row in rows) / len(rows) if rows else 0.0


def write_rows(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> Path:
  """Writes ``rows`` as JSONL to ``path`` atomically (the whole file or nothing)."""
  text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
  return rundir.atomic_write_text(path, text)
