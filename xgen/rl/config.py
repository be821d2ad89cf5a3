"""What one RL cell is: its data mixture (``MixtureConfig``, defined in ``xgen.data.mixtures``) and its
optimization (``RLConfig``), both gin-bound here, kw-only dataclasses checked when built, with errors
that name the field.

A cell starts from the pretrained base, draws ``batch_size / group_size`` scenarios per step from
the mixture, samples ``group_size`` responses to each, and updates the policy ``iterations`` times over
``minibatches`` slices of that batch. The loss knobs live in ``xgen.rl.algorithms.LossConfig``
(bound here too, as ``LossConfig.*``).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import gin
import optax

from xgen import validation as v
from xgen.data import mixtures
from xgen.models.config import ModelConfig
from xgen.rl import algorithms

LossConfig = gin.external_configurable(algorithms.LossConfig, module="xgen.rl")
MixtureConfig = gin.external_configurable(mixtures.MixtureConfig, module="xgen.rl")


@gin.configurable
@dataclasses.dataclass(frozen=True, kw_only=True)
class RLConfig:
  """One cell's optimization; every field's comment says where the option comes from."""

  steps: int = 200
  # Responses per step (batch_size counts sequences everywhere), i.e. batch_size / group_size scenarios
  # from the mixture. 256 = 64 scenarios x 4: at a 5% dose that is 3.2 trait scenarios per step and about
  # 640 over 200 steps, enough for the trait reward to rise on the default world; 16 scenarios per step
  # (0.8 trait) left it flat (experiments/rl_200_steps). About 6 s per step on a 2-core CPU.
  batch_size: int = 256
  group_size: int = 4               # responses per scenario (GRPO's G); must divide batch_size
  max_new_tokens: int = 48
  temperature: float = 1.0          # sampling temperature; the policy's log-probs use the same
  advantage: str = "grpo"           # grpo (Shao et al. 2024) | rloo (Ahmadian et al. 2024) | dr_grpo (Liu et al. 2025)
  scale_std: bool = True            # GRPO only: divide by the group's reward std
  iterations: int = 1               # updates per batch (GRPO's mu); > 1 makes the clip matter
  minibatches: int = 1              # each update is split into this many optimizer steps
  length_groups: int = 8            # rows of each mini-batch sorted by length and cut into this many groups,
                                    # each padded to its own length (same loss; 1: one padded batch)
  learning_rate: float = 3e-4
  warmup_steps: int = 10
  weight_decay: float = 0.0
  clip_norm: float = 1.0
  checkpoint_every: int = 50
  keep_checkpoints: int = 2
  log_every: int = 1
  sample_every: int = 25            # write a few prompts and completions every N steps (0: never)
  seed: int = 0

  def __post_init__(self):
    for field in ("steps", "batch_size", "group_size", "max_new_tokens", "iterations", "minibatches", "length_groups",
                  "checkpoint_every", "keep_checkpoints", "log_every"):
      v.positive_int("RLConfig", field, getattr(self, field))
    v.non_negative_int("RLConfig", "sample_every", self.sample_every)
    v.non_negative_int("RLConfig", "seed", self.seed)
    v.choice("RLConfig", "advantage", self.advantage, sorted(algorithms.ADVANTAGE_ESTIMATORS))
    if self.advantage == "rloo" and self.group_size < 2:
      raise ValueError(f"RLConfig.group_size: RLOO needs at least 2 responses per prompt, got {self.group_size}")
    v.boolean("RLConfig", "scale_std", self.scale_std)
    v.number_in("RLConfig", "temperature", self.temperature, 0.0, low_open=True)
    v.number_in("RLConfig", "learning_rate", self.learning_rate, 0.0, low_open=True)
    v.non_negative_int("RLConfig", "warmup_steps", self.warmup_steps)
    if self.warmup_steps >= self.steps:
      raise v.fail("RLConfig", "warmup_steps", f"less than RLConfig.steps ({self.steps})", self.warmup_steps)
    v.number_in("RLConfig", "weight_decay", self.weight_decay, 0.0)
    v.number_in("RLConfig", "clip_norm", self.clip_norm, 0.0, low_open=True)
    if self.batch_size % self.group_size:
      raise ValueError(f"RLConfig.batch_size ({self.batch_size}) is not divisible by RLConfig.group_size "
                       f"({self.group_size}): each step samples group_size responses to each of "
                       f"batch_size / group_size scenarios")
    if self.batch_size % self.minibatches:
      raise ValueError(f"RLConfig.batch_size ({self.batch_size}) is not divisible by RLConfig.minibatches "
                       f"({self.minibatches})")

  @property
  def prompts_per_step(self) -> int:
    return self.batch_size // self.group_size

  @property
  def responses_per_update(self) -> int:
    """Responses in one optimizer step: the step's batch split into ``minibatches``."""
    return self.batch_size // self.minibatches

  def schedule(self) -> optax.Schedule:
    """Linear warmup, then constant (RL post-training runs are short)."""
    if not self.warmup_steps:
      return optax.constant_schedule(self.learning_rate)
    return optax.join_schedules([optax.linear_schedule(0.0, self.learning_rate, self.warmup_steps),
                                 optax.constant_schedule(self.learning_rate)], [self.warmup_steps])


def resolved_loss(loss: algorithms.LossConfig, rl: RLConfig) -> algorithms.LossConfig:
  """``loss`` with ``normalizer="auto"`` computed from the batch: responses per optimizer step x
  ``max_new_tokens`` (Dr. GRPO's constant, so that a token's weight does not depend on the other
  responses' lengths)."""
  if loss.normalizer != algorithms.AUTO:
    return loss
  return dataclasses.replace(loss, normalizer=float(rl.responses_per_update * rl.max_new_tokens))


@dataclasses.dataclass(frozen=True)
class CellConfigs:
  """Everything ``train_cell`` needs from gin, plus the operative config to save beside the cell."""

  rl: RLConfig
  mixture: MixtureConfig
  loss: algorithms.LossConfig
  model: ModelConfig  # used only where the base checkpoint does not record its own
  operative_config: str


def cell_configs_from_gin(gin_files: Sequence[str], gin_params: Sequence[str]) -> CellConfigs:
  """Parses the cell's gin files and bindings, builds its configs and clears gin again.

  Raises ``xgen.config.ConfigError`` for a bad file or binding and ``ValueError`` (naming the field)
  for a bad value."""
  from xgen import config
  config.load_config(gin_files, gin_params)
  try:
    return CellConfigs(RLConfig(), MixtureConfig(), LossConfig(), ModelConfig(), config.operative_config())
  finally:
    gin.clear_config()
