"""Supervised fine-tuning: pretraining the base model on the world's corpus, and the harmful
fine-tuning attack (the same loop started from another checkpoint on other data).

The output directory is a training run (``xgen.rundir.layout``; its lifecycle is
``xgen.train.lifecycle``). Running again resumes from the newest intact checkpoint;
since every batch is a pure function of (seed, step) and CPU XLA is deterministic, a run killed at
any point and rerun ends with parameters bit-identical to an uninterrupted run. A non-finite loss
stops the run with status ``diverged`` before anything from that step is saved.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Sequence

import jax.numpy as jnp
import numpy as np

from xgen import rundir
from xgen.models.config import ModelConfig
from xgen.models.transformer import Transformer, build_model
from xgen.train.checkpoints import Checkpoints, load_training_state, training_state
from xgen.train.config import SFTConfig
from xgen.train.lifecycle import RunSpec, TrainingRun
from xgen.train.packing import Example, PackedStream
from xgen.train.step import Batch, make_optimizer, train_step


SOURCE_META = "source"   # the checkpoint meta entry naming the run's ``source`` (when it has one)


def fingerprint(model_config: ModelConfig, config: SFTConfig, examples: Sequence[Example], source: str = "") -> str:
  """What a resumed run must share with the run it resumes; ``source`` (e.g. the fingerprint of the
  checkpoint it starts from) is hashed in when given, so an empty one leaves the digest as it was."""
  digest = hashlib.sha256()
  digest.update(json.dumps([dataclasses.asdict(model_config), dataclasses.asdict(config)], sort_keys=True).encode())
  for example in examples:
    digest.update(example.ids.tobytes())
    digest.update(example.loss_mask.tobytes())
  if source:
    digest.update(f"source|{source}".encode())
  return digest.hexdigest()


def _to_batch(rows) -> Batch:
  return Batch(jnp.asarray(rows.tokens), jnp.asarray(rows.segment_ids), jnp.asarray(rows.loss_mask))


def run_sft(model_config: ModelConfig, config: SFTConfig, examples: Sequence[Example], out_dir: str | Path, *,
            init_params: dict | None = None, operative_config: str = "", show_progress: bool = True,
            workdir: str | Path | None = None, lock: str | None = None, source: str = "",
            save_steps: Sequence[int] = ()) -> dict:
  """Trains (or resumes) into ``out_dir``; returns the final status. ``init_params`` (a pure dict of
  parameters, e.g. from another run's checkpoint) replaces the random initialization; ``source``
  names where they come from (it joins the run's fingerprint, see ``fingerprint``, and each
  checkpoint's meta as ``SOURCE_META``). With ``workdir`` and ``lock``, the run holds that lock of
  the run directory while it works. With ``save_steps``, exactly those steps (and the last) are
  checkpointed instead of every ``config.checkpoint_every``."""
  out_dir = Path(out_dir)
  stream = PackedStream(examples, seq_len=config.seq_len, seed=config.seed)
  spec = RunSpec(directory=out_dir, steps=config.steps, fingerprint=fingerprint(model_config, config, examples, source),
                 checkpoint_every=config.checkpoint_every, keep_checkpoints=config.keep_checkpoints,
                 save_steps=tuple(save_steps),
                 meta={"model_config": dataclasses.asdict(model_config), **({SOURCE_META: source} if source else {})},
                 description=out_dir.name, show_progress=show_progress)
  with TrainingRun(spec, workdir=workdir, lock=lock) as run:
    model = build_model(model_config, seed=config.seed)
    if init_params is not None:
      load_training_state({"params": init_params}, model)
    optimizer = make_optimizer(model, learning_rate=config.schedule(), weight_decay=config.weight_decay,
                               clip_norm=config.clip_norm)
    start = run.resume(lambda: training_state(model, optimizer), lambda s: load_training_state(s, model, optimizer))
    if run.finished:
      return run.finish()
    if operative_config:
      rundir.atomic_write_text(rundir.run_config_path(out_dir), operative_config)
    schedule = config.schedule()
    window_start, window_tokens = time.perf_counter(), 0
    for step in range(start, config.steps):
      rows = stream.batch(step, config.batch_size)
      metrics = train_step(model, optimizer, _to_batch(rows))
      loss, grad_norm = float(metrics["loss"]), float(metrics["grad_norm"])
      run.check_finite(step, loss=loss, grad_norm=grad_norm)
      window_tokens += int(np.count_nonzero(rows.segment_ids))
      done = step + 1
      if done % config.log_every == 0 or done == config.steps:
        elapsed = time.perf_counter() - window_start
        run.log(done, {"loss": loss, "accuracy": float(metrics["accuracy"]), "grad_norm": grad_norm,
                       "learning_rate": float(schedule(step)), "tokens_per_second": window_tokens / elapsed,
                       "target_tokens": float(metrics["target_tokens"])}, prefix="train/")
        run.advance(0, loss=loss, tok_s=round(window_tokens / elapsed))
        window_start, window_tokens = time.perf_counter(), 0
      run.advance(1)
      run.checkpoint(done, lambda: training_state(model, optimizer))
    return run.finish(rows_per_epoch=stream.rows_per_epoch(),
                      epochs=round(config.steps * config.batch_size / stream.rows_per_epoch(), 2))


def saved_model_config(out_dir: str | Path) -> ModelConfig | None:
  """The model config a run's newest checkpoint was trained with (None for checkpoints that predate
  recording it)."""
  checkpoints = Checkpoints(rundir.checkpoints_dir(out_dir))
  try:
    step = checkpoints.latest_step()
    if step is None:
      raise FileNotFoundError(f"no checkpoint in {rundir.checkpoints_dir(out_dir)}")
    fields = checkpoints.restore_meta(step).get("model_config")
  finally:
    checkpoints.close()
  return None if fields is None else ModelConfig(**fields)


def load_final_params(out_dir: str | Path, model_config: ModelConfig) -> Transformer:
  """The model of a run's newest checkpoint."""
  checkpoints = Checkpoints(rundir.checkpoints_dir(out_dir))
  try:
    step = checkpoints.latest_step()
    if step is None:
      raise FileNotFoundError(f"no checkpoint in {rundir.checkpoints_dir(out_dir)}")
    model = build_model(model_config, seed=0)
    params = checkpoints.restore_params(step, training_state(model)["params"])
  finally:
    checkpoints.close()
  load_training_state({"params": params}, model)
  return model
