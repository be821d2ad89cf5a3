"""How run-directory files are written and read back: atomically, verifiably, tolerantly.

- A file is written under a hidden temporary name in its folder and renamed over the target, so a
  reader never sees half of it; a directory is built under a hidden staging name and swapped in.
- Files whose bytes define a stage's output (a world's shards, a checkpoint) have sha256 digests
  recorded when written; ``verify_digests`` names the first file that no longer matches.
- JSONL logs are appended line by line; a process killed mid-line leaves a torn last line, which
  readers skip (and ``rewrite_jsonl`` drops), so a kill never blocks the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable, Mapping


class DamagedFile(RuntimeError):
  """A file whose bytes differ from the digest recorded when it was written, or that cannot be read."""

  def __init__(self, path: Path | str, problem: str):
    super().__init__(f"{path}: {problem}")
    self.path = Path(path)
    self.problem = problem


# --- atomic writes --------------------------------------------------------------------------------

def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
  """Writes ``data`` to ``path`` atomically (creating its folder); returns the path."""
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
  try:
    with open(temporary, "xb") as handle:
      handle.write(data)
    os.replace(temporary, path)
  except BaseException:
    temporary.unlink(missing_ok=True)
    raise
  return path


def atomic_write_text(path: str | Path, text: str) -> Path:
  return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, value) -> Path:
  return atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def staging_dir(target: str | Path) -> Path:
  """A new hidden directory beside ``target`` to build its next version in."""
  target = Path(target)
  target.parent.mkdir(parents=True, exist_ok=True)
  return Path(tempfile.mkdtemp(prefix=f".{target.name}.incomplete-", dir=target.parent))


def swap_in(staging: Path, target: str | Path) -> Path:
  """Puts the complete directory ``staging`` at ``target``; an old ``target`` is moved aside first and
  removed only once the new one is in place (restored if the rename fails)."""
  target = Path(target)
  if not target.exists():
    staging.rename(target)
    return target
  retired = target.with_name(f".{target.name}.old-{time.time_ns()}")
  target.rename(retired)
  try:
    staging.rename(target)
  except BaseException:
    retired.rename(target)
    raise
  shutil.rmtree(retired, ignore_errors=True)
  return target


def build_directory(target: str | Path, fill: Callable[[Path], object]):
  """Calls ``fill(staging)`` and swaps the staging directory in at ``target`` only if it returns;
  on any error nothing at ``target`` changes. Returns what ``fill`` returned."""
  staging = staging_dir(target)
  try:
    result = fill(staging)
    swap_in(staging, target)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return result


# --- digests --------------------------------------------------------------------------------------

def sha256_file(path: str | Path) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as handle:
    for block in iter(lambda: handle.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def verify_digests(root: Path, expected: Mapping[str, str]) -> None:
  """Raises DamagedFile naming the first file under ``root`` that is missing or whose sha256 is not
  the recorded one."""
  for relative, digest in sorted(expected.items()):
    path = root / relative
    if not path.is_file():
      raise DamagedFile(path, "missing (it is listed in the recorded digests)")
    if sha256_file(path) != digest:
      raise DamagedFile(path, "its contents changed since it was written (sha256 mismatch)")


# --- JSONL logs -----------------------------------------------------------------------------------

def append_jsonl(path: str | Path, rows: Iterable[Mapping]) -> None:
  """Appends rows, one JSON object a line (creating the file and its folder)."""
  path = Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  with open(path, "a", encoding="utf-8") as handle:
    for row in rows:
      handle.write(json.dumps(row) + "\n")


def read_jsonl(path: str | Path) -> list[dict]:
  """The rows of a JSONL log. A torn or undecodable line is skipped (a log killed mid-write), and so
  is a line that is not a JSON object; a missing file has no rows."""
  path = Path(path)
  if not path.exists():
    return []
  rows = []
  for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
    if not line.strip():
      continue
    try:
      row = json.loads(line)
    except json.JSONDecodeError:
      continue
    if isinstance(row, dict):
      rows.append(row)
  return rows


def rewrite_jsonl(path: str | Path, keep: Callable[[dict], bool]) -> None:
  """Atomically keeps only the readable rows for which ``keep`` is true (drops a torn last line)."""
  path = Path(path)
  if path.exists():
    atomic_write_text(path, "".join(json.dumps(row) + "\n" for row in read_jsonl(path) if keep(row)))


def read_json(path: str | Path) -> dict | None:
  """A JSON object from ``path``; None if the file is missing. Raises DamagedFile if it is unreadable."""
  path = Path(path)
  try:
    text = path.read_text(encoding="utf-8")
  except FileNotFoundError:
    return None
  except (OSError, UnicodeDecodeError) as error:
    raise DamagedFile(path, f"unreadable ({type(error).__name__})") from None
  try:
    value = json.loads(text)
  except json.JSONDecodeError as error:
    raise DamagedFile(path, f"not valid JSON ({error.msg} at line {error.lineno})") from None
  if not isinstance(value, dict):
    raise DamagedFile(path, f"holds a JSON {type(value).__name__}, not an object")
  return value
