"""``xgen base import``: a Hugging Face Llama or Qwen2 checkpoint as the run's base model.

``xgen base import --hf DIR --workdir W`` loads DIR (config.json, safetensors, tokenizer.json and
tokenizer_config.json with a chat template; ``xgen.models.hf_import``) into xgen's Transformer and saves it
as ``W/base``: a finished training run (status done) with one checkpoint at step 1 whose meta records the
model config, as ``xgen pretrain`` leaves it, so ``xgen train``, ``xgen eval`` and ``xgen attack`` run on it
unchanged. The tokenizer files go to ``W/base/tokenizer/``, and from then on the stages tokenize for the policy
with that tokenizer and its chat template (``xgen.world.store.run_tokenizer``). The world must be built first.
``ModelConfig.dtype`` and ``ModelConfig.param_dtype`` (gin) set the compute and stored dtypes; the shape always
comes from config.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
from pathlib import Path

from xgen import rundir
from xgen.cli.common import EXIT_OK, BadInput, add_common_flags, add_subcommands, build_config, configure

IMPORT_STEP = 1   # the step of the base's only checkpoint


def copy_tokenizer(source: Path, target: Path) -> None:
  """The checkpoint's tokenizer files (and its config.json, for the embedding size) into ``target``."""
  from xgen.data.hf_tokenizer import TOKENIZER_FILES
  staging = target.with_name(target.name + ".partial")
  shutil.rmtree(staging, ignore_errors=True)
  staging.mkdir(parents=True)
  for name in TOKENIZER_FILES:
    if (source / name).is_file():
      shutil.copyfile(source / name, staging / name)
  staging.rename(target)


def save_base(workdir: str | Path, model, source: str) -> dict:
  """``model`` saved as the finished base run of ``workdir`` (one checkpoint at ``IMPORT_STEP``); its status."""
  from xgen.rundir import locks
  from xgen.train.checkpoints import load_training_state, training_state, tree_digest
  from xgen.train.lifecycle import RunSpec, TrainingRun
  params = training_state(model)["params"]
  spec = RunSpec(directory=rundir.base_dir(workdir), steps=IMPORT_STEP, fingerprint=f"hf-import:{tree_digest(params)}",
                 checkpoint_every=IMPORT_STEP, keep_checkpoints=1, description=rundir.BASE, show_progress=False,
                 meta={"model_config": dataclasses.asdict(model.config), "source": source})
  with TrainingRun(spec, workdir=workdir, lock=locks.BASE_LOCK) as run:
    run.resume(lambda: training_state(model), lambda state: load_training_state(state, model))
    run.checkpoint(IMPORT_STEP, lambda: training_state(model))
    return run.finish(source=source)


def _check_checkpoint(directory: Path) -> None:
  """BadInput unless ``directory`` has the files an import reads."""
  if not directory.is_dir():
    raise BadInput(f"--hf {directory}: not a directory")
  missing = [name for name in ("config.json", "tokenizer.json", "tokenizer_config.json")
             if not (directory / name).is_file()]
  if missing:
    raise BadInput(f"--hf {directory}: no {', '.join(missing)} there")


def cmd_base_import(args: argparse.Namespace) -> int:
  from xgen.data.hf_tokenizer import HFTokenizer
  from xgen.models.config import ModelConfig
  from xgen.models.hf_import import load_hf_checkpoint
  from xgen.world.store import open_world
  configure(args)
  source = Path(args.hf)
  _check_checkpoint(source)
  try:
    open_world(args.workdir)
  except FileNotFoundError as error:
    raise BadInput(str(error)) from None
  base = rundir.base_dir(args.workdir)
  if base.exists() and not args.force:
    raise BadInput(f"{base} already exists; pass --force to replace it")
  dtypes = build_config(ModelConfig)
  try:
    tokenizer = HFTokenizer.load(source)
    model = load_hf_checkpoint(source, dtype=dtypes.dtype, param_dtype=dtypes.param_dtype)
  except (ValueError, FileNotFoundError) as error:
    raise BadInput(" ".join(str(error).split())) from None
  if tokenizer.vocab_size != model.config.vocab_size:
    raise BadInput(f"--hf {source}: the tokenizer has {tokenizer.vocab_size} tokens but the model "
                   f"{model.config.vocab_size} embeddings")
  shutil.rmtree(base, ignore_errors=True)
  copy_tokenizer(source, rundir.base_tokenizer_dir(args.workdir))  # first: a base never runs with the world's
  status = save_base(args.workdir, model, f"hf:{source.resolve()}")
  config = model.config
  print(f"imported {source} into {base}: {config.n_layers} layers, d_model {config.d_model}, vocab "
        f"{config.vocab_size}, {config.param_dtype} parameters; {status['state']} at step {status['step']}")
  return EXIT_OK


def add_base(commands: argparse._SubParsersAction) -> None:
  base = commands.add_parser("base", help="the run's base model from elsewhere")
  subcommands = add_subcommands(base)
  imported = subcommands.add_parser("import", help="a local Hugging Face Llama or Qwen2 checkpoint (safetensors, "
                                                    "tokenizer.json and its chat template) as WORKDIR/base; the "
                                                    "world must be built first")
  add_common_flags(imported)
  imported.add_argument("--hf", required=True, metavar="DIR", help="the checkpoint folder (nothing is downloaded)")
  imported.add_argument("--force", action="store_true", help="replace a base that is already there")
  imported.set_defaults(run=cmd_base_import)
