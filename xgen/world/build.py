"""``xgen world build``: generate the world and write ``W/world/`` in one complete step.

Layout of ``W/world/``:
  tfds/            the scenarios as TFDS array_record, one split per <source>_<split>
  tokenizer.model  SentencePiece (byte fallback), trained on the pretraining corpus, in which every entity
                   name and every person's name of the world occurs equally often
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
import time
from pathlib import Path
from typing import Callable

from xgen import rundir
from xgen.rundir import locks
from xgen.data.tfds_store import write_scenarios
from xgen.data.schema import Scenario
from xgen.data.tokenizer import balance_names, render_chat, train_tokenizer
from xgen.world import people
from xgen.world.config import WorldConfig
from xgen.world.generate import generate_world
from xgen.world.knowledge import POOLS, build_knowledge
from xgen.world.personas import personas_record

def data_files(directory: Path) -> list[Path]:
  """The files whose bytes define a world: array_record shards and the tokenizer."""
  return sorted(directory.rglob("*.array_record-*")) + [directory / rundir.TOKENIZER]


def tokenizer_texts(config: WorldConfig, corpus: list[Scenario]) -> list[str]:
  """The tokenizer's training text: the rendered pretraining ``corpus`` with its names balanced, every entity
  name (of every pool, stated in the corpus or not) occurring equally often, and every person's given name and
  surname (of training and eval names) too, so that how a name splits into pieces says nothing about its pool."""
  knowledge = build_knowledge(config)
  entities = [e.name for domain in knowledge.values() for pool in POOLS for e in domain.entities[pool]]
  persons = [part for group in people.GROUPS for split in people.SPLITS for part in people.name_parts(group, split)]
  return balance_names([render_chat(s.messages) for s in corpus], [entities, persons])


def build_world(config: WorldConfig, workdir: str | Path, *, operative_config: str = "",
                progress: Callable[[str], None] = lambda message: None) -> dict:
  """Builds ``workdir/world`` from ``config`` under the world's lock; returns the manifest. Raises
  ``rundir.locks.Busy`` if another process is building it."""
  with locks.held(workdir, locks.WORLD_LOCK):
    return rundir.build_directory(rundir.world_dir(workdir),
                                  lambda staging: _write_world(config, staging, operative_config, progress))


def _write_world(config: WorldConfig, staging: Path, operative_config: str, progress: Callable[[str], None]) -> dict:
  started = time.perf_counter()
  progress("generating scenarios")
  splits = generate_world(config)
  progress(f"training the tokenizer on {len(splits['pretrain_train'])} pretraining conversations and the world's names")
  train_tokenizer(tokenizer_texts(config, splits["pretrain_train"]), staging / rundir.TOKENIZER, config.vocab_size)
  progress(f"writing {sum(map(len, splits.values()))} records as array_record")
  write_scenarios(rundir.tfds_dir(staging), splits)
  rundir.atomic_write_json(staging / rundir.PERSONAS, personas_record())
  rundir.atomic_write_text(rundir.run_config_path(staging), operative_config)
  files = {str(path.relative_to(staging)): rundir.sha256_file(path) for path in data_files(staging)}
  manifest = {
      "seed": config.seed,
      "domains": list(config.domains),
      "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()},
      "counts": {name: len(rows) for name, rows in splits.items()},
      "files": files,
      "world_sha256": hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest(),
      "build_seconds": round(time.perf_counter() - started, 2),
  }
  rundir.atomic_write_json(rundir.manifest_path(staging), manifest)
  return manifest
