"""``xgen pretrain``: the base model, trained on ``W/world``'s pretraining corpus into ``W/base``
under the base's lock (two pretraining processes on one run directory never both train)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from xgen import rundir
from xgen.data.tokenizer import Tokenizer
from xgen.models.config import ModelConfig
from xgen.rundir import locks
from xgen.train.config import SFTConfig
from xgen.train.packing import to_example
from xgen.train.sft import run_sft
from xgen.world.store import open_world

CORPUS_SPLIT = "pretrain_train"


def corpus_examples(scenarios, tokenizer: Tokenizer, loss_on: str):
  return [to_example(scenario, tokenizer, loss_on) for scenario in scenarios]


def pretrain(workdir: str | Path, model_config: ModelConfig, config: SFTConfig, *, operative_config: str = "",
             show_progress: bool = True) -> dict:
  """Trains (or resumes, or finds finished) the base; raises ``rundir.locks.Busy`` if another process
  is pretraining it, ``NoWorld`` without a world and ``DamagedFile`` if the world does not verify."""
  world = open_world(workdir)
  tokenizer = world.tokenizer()
  model_config = dataclasses.replace(model_config, vocab_size=tokenizer.vocab_size)
  examples = corpus_examples(world.scenarios(CORPUS_SPLIT), tokenizer, config.loss_on)
  too_long = [len(e.ids) for e in examples if len(e.ids) > config.seq_len]
  if too_long:
    raise ValueError(f"{len(too_long)} pretraining conversations are longer than SFTConfig.seq_len "
                     f"({config.seq_len}; longest {max(too_long)} tokens)")
  return run_sft(model_config, config, examples, rundir.base_dir(workdir), operative_config=operative_config,
                 show_progress=show_progress, workdir=workdir, lock=locks.BASE_LOCK)
