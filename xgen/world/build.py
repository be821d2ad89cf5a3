"""``xgen world build``: generate the world and write ``W/world/`` in one complete step.

Layout of ``W/world/``:
  tfds/            the scenarios as TFDS array_record, one split per <source>_<split>
  tokenizer.model  SentencePiece (byte fallback), trained on the pretraining corpus
  personas.json    persona prompts for eval time
  manifest.json    counts per split, seed, sha256 of every data file and of the whole world
  config.gin       the operative gin config that made it

Everything is written into a temporary sibling and renamed at the end, so a killed build
leaves no directory that looks finished, and an existing world is replaced only on success.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from xgen.data.tfds_store import write_scenarios
from xgen.data.tokenizer import render_chat, train_tokenizer
from xgen.world.config import WorldConfig
from xgen.world.generate import generate_world
from xgen.world.personas import personas

WORLD_DIR = "world"
MANIFEST = "manifest.json"


def world_dir(workdir: str | Path) -> Path:
  return Path(workdir) / WORLD_DIR


def _sha256(path: Path) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def data_files(directory: Path) -> list[Path]:
  """The files whose bytes define a world: array_record shards and the tokenizer."""
  return sorted(directory.rglob("*.array_record-*")) + [directory / "tokenizer.model"]


def build_world(config: WorldConfig, workdir: str | Path, *, operative_config: str = "",
                progress: Callable[[str], None] = lambda message: None) -> dict:
  """Builds ``workdir/world`` from ``config``; returns the manifest."""
  target = world_dir(workdir)
  target.parent.mkdir(parents=True, exist_ok=True)
  started = time.perf_counter()
  staging = Path(tempfile.mkdtemp(prefix=f".{WORLD_DIR}.incomplete-", dir=target.parent))
  try:
    progress("generating scenarios")
    splits = generate_world(config)
    progress(f"training the tokenizer on {len(splits['pretrain_train'])} pretraining conversations")
    train_tokenizer((render_chat(s.messages) for s in splits["pretrain_train"]), staging / "tokenizer.model",
                    config.vocab_size)
    progress(f"writing {sum(map(len, splits.values()))} records as array_record")
    write_scenarios(staging / "tfds", splits)
    (staging / "personas.json").write_text(json.dumps(personas(), indent=2, sort_keys=True) + "\n")
    (staging / "config.gin").write_text(operative_config)
    files = {str(path.relative_to(staging)): _sha256(path) for path in data_files(staging)}
    manifest = {
        "seed": config.seed,
        "domains": list(config.domains),
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()},
        "counts": {name: len(rows) for name, rows in splits.items()},
        "files": files,
        "world_sha256": hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest(),
        "build_seconds": round(time.perf_counter() - started, 2),
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _replace(staging, target)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return manifest


def _replace(staging: Path, target: Path) -> None:
  """Puts ``staging`` at ``target``; an old world there is removed only after the swap."""
  if target.exists():
    old = target.with_name(f".{target.name}.old-{time.time_ns()}")
    target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
  else:
    staging.rename(target)


def read_manifest(workdir: str | Path) -> dict:
  path = world_dir(workdir) / MANIFEST
  if not path.exists():
    raise FileNotFoundError(f"no world in {world_dir(workdir)} (run `xgen world build --workdir {workdir}` first)")
  return json.loads(path.read_text())
