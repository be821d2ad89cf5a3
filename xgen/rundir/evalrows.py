"""The eval row: what ``xgen eval`` writes for each (checkpoint, item, response) and analysis reads.

A file ``eval/<checkpoint>/<suite>.jsonl.gz`` holds the rows of one checkpoint on one suite, gzip
JSONL with sorted keys (``layout.variant_eval_file``: the same under a persona, whose rows name it in
``persona``, or after an attack budget, whose rows give it in ``attack_lr`` and ``attack_steps``). Each row records the ``fingerprint`` (content digest) of the checkpoint it
was made from, so a file made from other parameters (a retrained cell) is recognised and redone.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import zlib
from pathlib import Path

from xgen.rundir.files import DamagedFile, atomic_write_bytes

MODES = ("greedy", "sampled")


@dataclasses.dataclass(frozen=True, kw_only=True)
class EvalRow:
  checkpoint: str           # "base", "<cell>" or "<cell>@<step>"
  cell: str                 # "base" for the pre-RL model
  condition: str
  seed: int
  step: int
  suite: str                # "<family>.<domain>"
  family: str
  domain: str
  item_id: str | int
  mode: str                 # "greedy" or "sampled"
  sample: int
  persona: str | None
  responses: tuple[str, ...]
  score: float              # in [0, 1]
  refused: bool
  criteria: tuple[bool, ...] = ()
  guard: str | None = None
  truncated: bool = False
  fingerprint: str | None = None   # content digest of the checkpoint's parameters
  attack_lr: float | None = None   # after harmful fine-tuning: its learning rate and steps (else None)
  attack_steps: int | None = None

  def to_json(self) -> str:
    fields = dataclasses.asdict(self)
    fields["responses"], fields["criteria"] = list(self.responses), list(self.criteria)
    return json.dumps(fields, sort_keys=True)

  @classmethod
  def from_dict(cls, row, where: str) -> "EvalRow":
    """A validated row; ValueError prefixed with ``where`` (file:line) otherwise."""
    validate_row(row, where)
    known = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in row.items() if k in known}
    values["responses"] = tuple(row["responses"])
    values["criteria"] = tuple(bool(c) for c in row.get("criteria") or ())
    return cls(**values)


REQUIRED = ("checkpoint", "cell", "condition", "seed", "step", "suite", "family", "domain", "item_id", "mode",
            "sample", "persona", "responses", "score", "refused")


def validate_row(row, where: str) -> None:
  """Raises ValueError (prefixed with ``where``) unless ``row`` is a well-formed eval row."""
  if not isinstance(row, dict):
    raise ValueError(f"{where}: row must be a JSON object, got {type(row).__name__}")
  missing = [k for k in REQUIRED if k not in row]
  if missing:
    raise ValueError(f"{where}: missing key(s) {missing}")
  problems = []
  for key in ("checkpoint", "cell", "condition", "suite", "family", "domain"):
    if not isinstance(row[key], str) or not row[key]:
      problems.append(f"{key} must be a non-empty string")
  for key in ("seed", "step", "sample"):
    if not _is_int(row[key]):
      problems.append(f"{key} must be an integer")
  if not isinstance(row["item_id"], (str, int)) or isinstance(row["item_id"], bool):
    problems.append("item_id must be a string or integer")
  if row["mode"] not in MODES:
    problems.append(f"mode must be one of {MODES}")
  if row["persona"] is not None and not isinstance(row["persona"], str):
    problems.append("persona must be null or a string")
  if not isinstance(row["responses"], list) or not all(isinstance(r, str) for r in row["responses"]):
    problems.append("responses must be a list of strings")
  if not _is_number(row["score"]) or not 0.0 <= row["score"] <= 1.0:
    problems.append("score must be a number in [0, 1]")
  if not isinstance(row["refused"], bool):
    problems.append("refused must be a boolean")
  if row.get("fingerprint") is not None and not isinstance(row["fingerprint"], str):
    problems.append("fingerprint must be null or a string")
  attack = (row.get("attack_lr"), row.get("attack_steps"))
  if attack != (None, None) and not (_is_number(attack[0]) and attack[0] > 0 and _is_int(attack[1]) and attack[1] >= 0):
    problems.append("attack_lr and attack_steps must both be null, or a positive number and a non-negative integer")
  if not problems and row["suite"] != f"{row['family']}.{row['domain']}":
    problems.append(f"suite {row['suite']!r} is not '<family>.<domain>' = '{row['family']}.{row['domain']}'")
  if problems:
    raise ValueError(f"{where}: " + "; ".join(problems))


def write_eval_file(path: Path, rows: list[EvalRow]) -> Path:
  """All rows of one (checkpoint, suite), written atomically (``mtime=0`` keeps the bytes reproducible)."""
  text = "".join(row.to_json() + "\n" for row in rows)
  return atomic_write_bytes(path, gzip.compress(text.encode("utf-8"), mtime=0))


def read_eval_file(path: Path) -> list[EvalRow]:
  """Every row of an eval file. DamagedFile if the file cannot be decompressed or decoded; ValueError
  naming ``file:line`` for a malformed row."""
  try:
    text = gzip.decompress(Path(path).read_bytes()).decode("utf-8")
  except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
    raise DamagedFile(path, f"unreadable eval file ({type(error).__name__}: {error})") from None
  rows = []
  for lineno, line in enumerate(text.splitlines(), start=1):
    if not line.strip():
      continue
    where = f"{path}:{lineno}"
    try:
      value = json.loads(line)
    except json.JSONDecodeError as error:
      raise ValueError(f"{where}: not valid JSON ({error.msg})") from None
    rows.append(EvalRow.from_dict(value, where))
  return rows


def eval_file_fingerprint(path: Path) -> str | None:
  """The checkpoint fingerprint an eval file was made from; None when the file is missing, empty,
  unreadable, malformed or mixes fingerprints (so it is redone)."""
  if not Path(path).exists():
    return None
  try:
    rows = read_eval_file(path)
  except (DamagedFile, ValueError):
    return None
  fingerprints = {row.fingerprint for row in rows}
  if not rows or len(fingerprints) != 1:
    return None
  return fingerprints.pop()


def _is_int(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
