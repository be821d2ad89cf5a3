"""The supervised loop's settings (pretraining and, from another start, the harmful fine-tuning
attack): a gin-bound, kw-only dataclass checked when built."""

from __future__ import annotations

import dataclasses

import gin
import optax

from xgen import validation as v
from xgen.train.packing import LOSS_ON


@gin.configurable
@dataclasses.dataclass(frozen=True, kw_only=True)
class SFTConfig:
  steps: int = 300
  batch_size: int = 16                        # rows (sequences of seq_len tokens) per step
  seq_len: int = 256
  learning_rate: float = 3e-3
  warmup_steps: int = 30
  final_learning_rate_fraction: float = 0.1   # cosine decay to this fraction of the peak
  weight_decay: float = 0.1
  clip_norm: float = 1.0
  loss_on: str = "final_reply"
  checkpoint_every: int = 100
  keep_checkpoints: int = 2
  log_every: int = 10
  seed: int = 0

  def __post_init__(self):
    for field in ("steps", "batch_size", "seq_len", "checkpoint_every", "keep_checkpoints", "log_every"):
      v.positive_int("SFTConfig", field, getattr(self, field))
    v.non_negative_int("SFTConfig", "warmup_steps", self.warmup_steps)
    if self.warmup_steps >= self.steps:
      raise v.fail("SFTConfig", "warmup_steps", f"less than SFTConfig.steps ({self.steps})", self.warmup_steps)
    v.number_in("SFTConfig", "learning_rate", self.learning_rate, 0.0, low_open=True)
    v.number_in("SFTConfig", "final_learning_rate_fraction", self.final_learning_rate_fraction, 0.0, 1.0)
    v.number_in("SFTConfig", "weight_decay", self.weight_decay, 0.0)
    v.number_in("SFTConfig", "clip_norm", self.clip_norm, 0.0, low_open=True)
    v.choice("SFTConfig", "loss_on", self.loss_on, LOSS_ON)
    v.non_negative_int("SFTConfig", "seed", self.seed)

  def schedule(self) -> optax.Schedule:
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=self.learning_rate, warmup_steps=self.warmup_steps, decay_steps=self.steps,
        end_value=self.learning_rate * self.final_learning_rate_fraction)
