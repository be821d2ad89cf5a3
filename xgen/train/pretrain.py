"""``xgen pretrain``: the base model, trained on ``W/world``'s pretraining corpus into ``W/base``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from xgen.data.tfds_store import open_scenarios
from xgen.data.tokenizer import Tokenizer
from xgen.models.config import ModelConfig
from xgen.train.packing import to_example
from xgen.train.sft import SFTConfig, run_sft

BASE_DIR = "base"
CORPUS_SPLIT = "pretrain_train"


def corpus_examples(world_dir: Path, tokenizer: Tokenizer, split: str, loss_on: str):
  return [to_example(scenario, tokenizer, loss_on) for scenario in open_scenarios(world_dir / "tfds", split)]


def pretrain(workdir: str | Path, model_config: ModelConfig, config: SFTConfig, *, operative_config: str = "",
             show_progress: bool = True) -> dict:
  world_dir = Path(workdir) / "world"
  if not (world_dir / "manifest.json").exists():
    raise FileNotFoundError(f"no world in {world_dir} (run `xgen world build --workdir {workdir}` first)")
  tokenizer = Tokenizer.load(world_dir / "tokenizer.model")
  model_config = dataclasses.replace(model_config, vocab_size=tokenizer.vocab_size)
  examples = corpus_examples(world_dir, tokenizer, CORPUS_SPLIT, config.loss_on)
  too_long = [len(e.ids) for e in examples if len(e.ids) > config.seq_len]
  if too_long:
    raise ValueError(f"{len(too_long)} pretraining conversations are longer than SFTConfig.seq_len "
                     f"({config.seq_len}; longest {max(too_long)} tokens)")
  return run_sft(model_config, config, examples, Path(workdir) / BASE_DIR, operative_config=operative_config,
                 show_progress=show_progress)
