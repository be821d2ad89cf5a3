"""Supervised fine-tuning: pretraining the base model on the world's corpus, and the harmful
fine-tuning attack (the same loop started from another checkpoint on other data).

The output directory holds ``checkpoints/`` (orbax), ``metrics.jsonl``, ``tensorboard/``,
``status.json`` and ``config.gin``. Running again resumes from the newest complete checkpoint;
since every batch is a pure function of (seed, step) and CPU XLA is deterministic, a run killed at
any point and rerun ends with parameters bit-identical to an uninterrupted run. A non-finite loss
stops the run with status ``diverged`` before anything from that step is saved.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Sequence

import gin
import jax.numpy as jnp
import numpy as np
import optax

from xgen.models.config import ModelConfig
from xgen.models.transformer import Transformer, build_model
from xgen.train.checkpoints import Checkpoints, load_training_state, training_state
from xgen.train.metrics import MetricWriter
from xgen.train.packing import LOSS_ON, Example, PackedStream
from xgen.train.step import Batch, make_optimizer, train_step

STATES = ("pending", "running", "done", "failed", "diverged")


class TrainingDiverged(RuntimeError):
  """The loss (or gradient norm) stopped being finite."""


@gin.configurable
@dataclasses.dataclass(frozen=True, kw_only=True)
class SFTConfig:
  steps: int = 1500
  batch_size: int = 16
  seq_len: int = 256
  learning_rate: float = 3e-3
  warmup_steps: int = 100
  final_learning_rate_fraction: float = 0.1   # cosine decay to this fraction of the peak
  weight_decay: float = 0.1
  clip_norm: float = 1.0
  loss_on: str = "final_reply"
  checkpoint_every: int = 250
  keep_checkpoints: int = 2
  log_every: int = 10
  seed: int = 0

  def __post_init__(self):
    for field in ("steps", "batch_size", "seq_len", "checkpoint_every", "keep_checkpoints", "log_every"):
      value = getattr(self, field)
      if not isinstance(value, int) or value < 1:
        raise ValueError(f"SFTConfig.{field}: must be a positive integer, got {value!r}")
    if not 0 <= self.warmup_steps < self.steps:
      raise ValueError(f"SFTConfig.warmup_steps: must be in [0, steps={self.steps}), got {self.warmup_steps}")
    if not self.learning_rate > 0:
      raise ValueError(f"SFTConfig.learning_rate: must be positive, got {self.learning_rate}")
    if self.loss_on not in LOSS_ON:
      raise ValueError(f"SFTConfig.loss_on: one of {', '.join(LOSS_ON)}, got {self.loss_on!r}")

  def schedule(self) -> optax.Schedule:
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=self.learning_rate, warmup_steps=self.warmup_steps, decay_steps=self.steps,
        end_value=self.learning_rate * self.final_learning_rate_fraction)


def write_status(directory: Path, state: str, **fields) -> None:
  """status.json, written atomically: the only source of truth for a run's state."""
  assert state in STATES, state
  directory.mkdir(parents=True, exist_ok=True)
  temporary = directory / f".status.{os.getpid()}.tmp"
  temporary.write_text(json.dumps({"state": state, "updated": time.time(), **fields}, indent=2, sort_keys=True) + "\n")
  temporary.replace(directory / "status.json")


def read_status(directory: Path) -> dict | None:
  path = Path(directory) / "status.json"
  return json.loads(path.read_text()) if path.exists() else None


def fingerprint(model_config: ModelConfig, config: SFTConfig, examples: Sequence[Example]) -> str:
  """What a resumed run must share with the run it resumes."""
  digest = hashlib.sha256()
  digest.update(json.dumps([dataclasses.asdict(model_config), dataclasses.asdict(config)], sort_keys=True).encode())
  for example in examples:
    digest.update(example.ids.tobytes())
    digest.update(example.loss_mask.tobytes())
  return digest.hexdigest()


def _to_batch(rows) -> Batch:
  return Batch(jnp.asarray(rows.tokens), jnp.asarray(rows.segment_ids), jnp.asarray(rows.loss_mask))


def run_sft(model_config: ModelConfig, config: SFTConfig, examples: Sequence[Example], out_dir: str | Path, *,
            init_params: dict | None = None, operative_config: str = "", show_progress: bool = True) -> dict:
  """Trains (or resumes) into ``out_dir``; returns the final status. ``init_params`` (a pure dict of
  parameters, e.g. from another run's checkpoint) replaces the random initialization."""
  out_dir = Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  if operative_config:
    (out_dir / "config.gin").write_text(operative_config)
  stream = PackedStream(examples, seq_len=config.seq_len, seed=config.seed)
  model = build_model(model_config, seed=config.seed)
  if init_params is not None:
    load_training_state({"params": init_params}, model)
  optimizer = make_optimizer(model, learning_rate=config.schedule(), weight_decay=config.weight_decay,
                             clip_norm=config.clip_norm)
  run_fingerprint = fingerprint(model_config, config, examples)
  checkpoints = Checkpoints(out_dir / "checkpoints", keep=config.keep_checkpoints)
  start = checkpoints.latest_step() or 0
  if start:
    meta = checkpoints.restore_meta(start)
    if meta.get("fingerprint") != run_fingerprint:
      raise ValueError(f"{out_dir}: the checkpoints there come from another config or data; "
                       f"use a new directory or delete {checkpoints.directory}")
    state, _ = checkpoints.restore(start, training_state(model, optimizer))
    load_training_state(state, model, optimizer)
  if start >= config.steps:
    checkpoints.close()
    status = read_status(out_dir) or {}
    if status.get("state") != "done":
      write_status(out_dir, "done", step=start, steps=config.steps)
    return read_status(out_dir)

  write_status(out_dir, "running", step=start, steps=config.steps)
  writer = MetricWriter(out_dir, start_step=start, total_steps=config.steps, description=out_dir.name,
                        show_progress=show_progress)
  schedule = config.schedule()
  tokens_seen, window_start, window_tokens = 0, time.perf_counter(), 0
  try:
    for step in range(start, config.steps):
      rows = stream.batch(step, config.batch_size)
      metrics = train_step(model, optimizer, _to_batch(rows))
      loss, grad_norm = float(metrics["loss"]), float(metrics["grad_norm"])
      if not (math.isfinite(loss) and math.isfinite(grad_norm)):
        raise TrainingDiverged(f"non-finite loss {loss} / gradient norm {grad_norm} at step {step + 1}")
      tokens = int(np.count_nonzero(rows.segment_ids))
      tokens_seen += tokens
      window_tokens += tokens
      done = step + 1
      if done % config.log_every == 0 or done == config.steps:
        elapsed = time.perf_counter() - window_start
        writer.write(done, {"loss": loss, "accuracy": float(metrics["accuracy"]), "grad_norm": grad_norm,
                            "learning_rate": float(schedule(step)), "tokens_per_second": window_tokens / elapsed,
                            "target_tokens": float(metrics["target_tokens"])}, prefix="train/")
        writer.advance(0, loss=loss, tok_s=round(window_tokens / elapsed))
        window_start, window_tokens = time.perf_counter(), 0
      writer.advance(1)
      if done % config.checkpoint_every == 0 or done == config.steps:
        checkpoints.save(done, training_state(model, optimizer),
                         {"fingerprint": run_fingerprint, "model_config": dataclasses.asdict(model_config)},
                         force=done == config.steps)
    checkpoints.wait()
  except TrainingDiverged as error:
    checkpoints.close()
    writer.close()
    write_status(out_dir, "diverged", step=step, steps=config.steps, reason=str(error))
    raise
  except BaseException as error:
    checkpoints.close()
    writer.close()
    write_status(out_dir, "failed", step=checkpoints.latest_step() or 0, steps=config.steps,
                 reason=f"{type(error).__name__}: {error}")
    raise
  checkpoints.close()
  writer.close()
  write_status(out_dir, "done", step=config.steps, steps=config.steps, rows_per_epoch=stream.rows_per_epoch(),
               epochs=round(config.steps * config.batch_size / stream.rows_per_epoch(), 2))
  return read_status(out_dir)


def saved_model_config(out_dir: str | Path) -> ModelConfig | None:
  """The model config a run's newest checkpoint was trained with (None for checkpoints that predate
  recording it)."""
  checkpoints = Checkpoints(Path(out_dir) / "checkpoints")
  try:
    step = checkpoints.latest_step()
    if step is None:
      raise FileNotFoundError(f"no checkpoint in {Path(out_dir) / 'checkpoints'}")
    fields = checkpoints.restore_meta(step).get("model_config")
  finally:
    checkpoints.close()
  return None if fields is None else ModelConfig(**fields)


def load_final_params(out_dir: str | Path, model_config: ModelConfig) -> Transformer:
  """The model of a run's newest checkpoint."""
  checkpoints = Checkpoints(Path(out_dir) / "checkpoints")
  step = checkpoints.latest_step()
  if step is None:
    checkpoints.close()
    raise FileNotFoundError(f"no checkpoint in {Path(out_dir) / 'checkpoints'}")
  model = build_model(model_config, seed=0)
  params = checkpoints.restore_params(step, training_state(model)["params"])
  load_training_state({"params": params}, model)
  checkpoints.close()
  return model
