"""A built world on disk, opened for reading and verified against its manifest.

``open_world`` checks the sha256 of every data file the manifest lists (the array_record shards and
the tokenizer) before anything reads them, so a shard or tokenizer copied from another world, or a
file damaged on disk, stops the stage with one line naming the file instead of training on it.
Verification is done once per process for unchanged files.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from xgen import rundir
from xgen.data.tfds_store import ScenarioSource, open_scenarios
from xgen.data.tokenizer import Tokenizer
from xgen.world.config import WorldConfig

# The splits the stages read: RL cells draw from the first two, cross-evaluation and the analysis the third.
TRAIT_SPLIT, STANDARD_SPLIT, EVAL_SPLIT = "trait_train", "standard_train", "eval_test"

_verified: set[tuple] = set()


class NoWorld(FileNotFoundError):
  """The run directory has no built world."""


def read_manifest(workdir: str | Path) -> dict:
  path = rundir.manifest_path(rundir.world_dir(workdir))
  manifest = rundir.read_json(path)
  if manifest is None:
    raise NoWorld(f"no world in {rundir.world_dir(workdir)} (run `xgen world build --workdir {workdir}` first)")
  for key in ("files", "world_sha256", "domains", "config"):
    if key not in manifest:
      raise rundir.DamagedFile(path, f"has no '{key}' entry")
  return manifest


@dataclasses.dataclass(frozen=True)
class World:
  directory: Path
  manifest: dict

  @property
  def sha256(self) -> str:
    return self.manifest["world_sha256"]

  @property
  def domains(self) -> list[str]:
    return list(self.manifest["domains"])

  def tokenizer(self) -> Tokenizer:
    return Tokenizer.load(rundir.tokenizer_path(self.directory.parent))

  def scenarios(self, split: str) -> ScenarioSource:
    return open_scenarios(rundir.tfds_dir(self.directory), split)

  def config(self) -> WorldConfig:
    """The WorldConfig the world was made with."""
    fields = {f.name for f in dataclasses.fields(WorldConfig)}
    return WorldConfig(**{k: v for k, v in self.manifest["config"].items() if k in fields})


def _stamp(directory: Path, files: dict) -> tuple:
  stamps = []
  for relative in sorted(files):
    try:
      info = os.stat(directory / relative)
    except FileNotFoundError:
      return ()
    stamps.append((relative, info.st_size, info.st_mtime_ns, info.st_ino))
  return (str(directory.resolve()), tuple(sorted(files.items())), tuple(stamps))


def verify_world(workdir: str | Path, manifest: dict) -> None:
  """Raises DamagedFile naming the first data file whose bytes are not the ones the manifest lists."""
  directory = rundir.world_dir(workdir)
  key = _stamp(directory, manifest["files"])
  if key and key in _verified:
    return
  rundir.verify_digests(directory, manifest["files"])
  _verified.add(key or _stamp(directory, manifest["files"]))


def open_world(workdir: str | Path, *, verify: bool = True) -> World:
  """The world of a run directory (NoWorld if there is none; DamagedFile if it does not verify)."""
  manifest = read_manifest(workdir)
  if verify:
    verify_world(workdir, manifest)
  return World(rundir.world_dir(workdir), manifest)


def run_tokenizer(workdir: str | Path, world: World | None = None):
  """The tokenizer the policy of ``workdir`` reads and writes with: the imported base's
  (``xgen.data.hf_tokenizer.HFTokenizer`` from ``W/base/tokenizer/``, made by ``xgen base import``) when there is
  one, else the world's (``world``, or the world of ``workdir`` opened here)."""
  directory = rundir.base_tokenizer_dir(workdir)
  if directory.is_dir():
    from xgen.data.hf_tokenizer import HFTokenizer
    return HFTokenizer.load(directory)
  return (world or open_world(workdir)).tokenizer()
