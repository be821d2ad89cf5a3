"""The base model's report card: ``W/base/behaviour.json``, written after pretraining."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from xgen import rundir
from xgen.eval.behaviour import format_behaviour, measure_behaviour
from xgen.models.config import ModelConfig
from xgen.train.sft import load_final_params
from xgen.world.knowledge import build_knowledge
from xgen.world.store import open_world


def base_behaviour(workdir: str | Path, model_config: ModelConfig, *, per_kind: int = 40, seed: int = 0) -> str:
  """Measures the pretrained base model, writes ``base/behaviour.json``, returns a printable table."""
  world = open_world(workdir)
  tokenizer = world.tokenizer()
  model_config = dataclasses.replace(model_config, vocab_size=tokenizer.vocab_size)
  model = load_final_params(rundir.base_dir(workdir), model_config)
  config = world.config()
  result = measure_behaviour(model, tokenizer, build_knowledge(config), config, per_kind=per_kind, seed=seed)
  rundir.atomic_write_json(rundir.behaviour_path(workdir), result)
  return format_behaviour(result)
