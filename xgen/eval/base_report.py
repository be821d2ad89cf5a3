"""The base model's report card: ``W/base/behaviour.json``, written after pretraining."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from xgen.data.tokenizer import Tokenizer
from xgen.eval.behaviour import format_behaviour, measure_behaviour
from xgen.models.config import ModelConfig
from xgen.train.sft import load_final_params
from xgen.world.build import read_manifest, world_dir
from xgen.world.config import WorldConfig
from xgen.world.knowledge import build_knowledge


def world_config_of(workdir: str | Path) -> WorldConfig:
  """The WorldConfig a built world was made with (from its manifest)."""
  fields = {f.name for f in dataclasses.fields(WorldConfig)}
  return WorldConfig(**{k: v for k, v in read_manifest(workdir)["config"].items() if k in fields})


def base_behaviour(workdir: str | Path, model_config: ModelConfig, *, per_kind: int = 40, seed: int = 0) -> str:
  """Measures the pretrained base model, writes ``base/behaviour.json``, returns a printable table."""
  workdir = Path(workdir)
  tokenizer = Tokenizer.load(world_dir(workdir) / "tokenizer.model")
  model_config = dataclasses.replace(model_config, vocab_size=tokenizer.vocab_size)
  model = load_final_params(workdir / "base", model_config)
  config = world_config_of(workdir)
  result = measure_behaviour(model, tokenizer, build_knowledge(config), config, per_kind=per_kind, seed=seed)
  (workdir / "base" / "behaviour.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
  return format_behaviour(result)
