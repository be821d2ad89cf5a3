"""The harmful fine-tuning attack of the persistence protocol: a finished checkpoint (the pre-RL base
or an RL cell) fine-tuned on the world's ``attack_train`` split (confident wrong advice) over a grid
of learning rates x step budgets, identically for every arm.

One supervised run per learning rate (``rundir.attack_run_dir``), at a constant rate: its checkpoint
at step s *is* an s-step attack, so one run of ``max(steps)`` steps saves every budget point of its
rate, and only those. The run's fingerprint includes the fingerprint of the checkpoint it starts
from, so the attack of a cell retrained since is refused (``RunMismatch``) instead of resumed, and
its budget points are listed with that problem. The data order is seeded by ``AttackConfig.seed``,
never by the cell's seed. ``run_attack`` holds the attack's lock; killed at any point and run again,
it finds the finished rates done (their fingerprint checked) and resumes the unfinished one from its
newest intact checkpoint, ending bit-identical to an uninterrupted attack.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import gin
import jax
import jax.numpy as jnp

from xgen import rundir
from xgen import validation as v
from xgen.data.tokenizer import Tokenizer
from xgen.models.config import ModelConfig
from xgen.models.transformer import build_model
from xgen.rundir import locks
from xgen.train.checkpoints import Checkpoints, checkpoint_fingerprint, training_state
from xgen.train.config import SFTConfig
from xgen.train.packing import LOSS_ON, Example, to_example
from xgen.train.sft import SOURCE_META, run_sft, saved_model_config
from xgen.world.store import World, open_world, run_tokenizer

ATTACK_SPLIT = "attack_train"
OWNER = "AttackConfig"


def _increasing_steps(value) -> tuple[int, ...]:
  steps = v.sequence(OWNER, "steps", value, "step budgets")
  for step in steps:
    v.positive_int(OWNER, "steps", step)
  if not steps or any(later <= earlier for earlier, later in zip(steps, steps[1:])):
    raise v.fail(OWNER, "steps", "strictly increasing positive integers (at least one)", steps)
  return tuple(int(step) for step in steps)


def _learning_rates(value) -> tuple[float, ...]:
  rates = v.sequence(OWNER, "learning_rates", value, "learning rates")
  for rate in rates:
    v.number_in(OWNER, "learning_rates", rate, 0.0, low_open=True)
  if not rates or len(set(rates)) != len(rates):
    raise v.fail(OWNER, "learning_rates", "distinct positive numbers (at least one)", rates)
  return tuple(float(rate) for rate in rates)


@gin.configurable
@dataclasses.dataclass(frozen=True, kw_only=True)
class AttackConfig:
  learning_rates: tuple[float, ...] = (1e-4, 3e-4, 1e-3)   # one run each, at a constant rate
  steps: tuple[int, ...] = (8, 16, 32, 64)                 # budget points: each is a checkpoint of every run
  batch_size: int = 16
  seq_len: int = 256
  weight_decay: float = 0.0
  clip_norm: float = 1.0
  loss_on: str = "final_reply"
  seed: int = 0                                            # the data order: the same for every arm
  families: tuple[str, ...] = ()                           # eval families of each budget point (empty: all)

  def __post_init__(self):
    object.__setattr__(self, "learning_rates", _learning_rates(self.learning_rates))
    object.__setattr__(self, "steps", _increasing_steps(self.steps))
    for field in ("batch_size", "seq_len"):
      v.positive_int(OWNER, field, getattr(self, field))
    v.number_in(OWNER, "weight_decay", self.weight_decay, 0.0)
    v.number_in(OWNER, "clip_norm", self.clip_norm, 0.0, low_open=True)
    v.choice(OWNER, "loss_on", self.loss_on, LOSS_ON)
    v.non_negative_int(OWNER, "seed", self.seed)
    object.__setattr__(self, "families", v.names_tuple(OWNER, "families", self.families, noun="family name"))

  def sft_config(self, learning_rate: float) -> SFTConfig:
    """The supervised run of one learning rate: a constant rate (no warmup, no decay) for
    ``max(steps)`` steps, a checkpoint every gcd of the budgets, all of them kept (``run_attack``
    narrows the saving to the budget points themselves)."""
    every = math.gcd(*self.steps)
    return SFTConfig(steps=self.steps[-1], batch_size=self.batch_size, seq_len=self.seq_len,
                     learning_rate=learning_rate, warmup_steps=0, final_learning_rate_fraction=1.0,
                     weight_decay=self.weight_decay, clip_norm=self.clip_norm, loss_on=self.loss_on,
                     checkpoint_every=every, keep_checkpoints=self.steps[-1] // every, log_every=every, seed=self.seed)


@dataclasses.dataclass(frozen=True)
class AttackPoint:
  """One budget point: ``cell`` attacked at ``learning_rate`` for ``steps`` steps, the checkpoint of
  the run in ``directory`` at that step, with its fingerprint or the problem that keeps it from use."""

  cell: str
  learning_rate: float
  steps: int
  directory: Path
  fingerprint: str | None = None
  problem: str | None = None


# --- the attacked checkpoint ---------------------------------------------------------------------------


def source_dir(workdir: str | Path, cell: str) -> Path:
  """The training run of ``cell`` (or of the base, ``rundir.BASE``)."""
  return rundir.base_dir(workdir) if cell == rundir.BASE else rundir.cell_dir(workdir, cell)


def finished_source(workdir: str | Path, cell: str) -> tuple[Path, int]:
  """(directory, final step) of the run to attack; ValueError unless it is done with a final step."""
  directory = source_dir(workdir, cell)
  status = rundir.read_status(directory) or {"state": rundir.PENDING}
  if status["state"] != rundir.DONE:
    raise ValueError(f"cannot attack {cell}: its training run ({directory}) is {status['state']}, not {rundir.DONE}")
  step = status.get("step")
  if not v.is_int(step) or step < 1:
    raise ValueError(f"cannot attack {cell}: {rundir.status_path(directory)} records no final step")
  return directory, int(step)


def source_params(directory: Path, step: int, model_config: ModelConfig) -> dict:
  """The parameters of a run's checkpoint at ``step``, verified (a pure dict)."""
  like = training_state(build_model(model_config, seed=0))["params"]
  checkpoints = Checkpoints(rundir.checkpoints_dir(directory))
  try:
    return checkpoints.restore_params(step, like)
  finally:
    checkpoints.close()


def attack_examples(world: World, tokenizer: Tokenizer, config: AttackConfig) -> list[Example]:
  """The world's attack conversations as training examples; ValueError if there are none or one does
  not fit in ``seq_len``."""
  examples = [to_example(scenario, tokenizer, config.loss_on) for scenario in world.scenarios(ATTACK_SPLIT)]
  if not examples:
    raise ValueError(f"the world in {world.directory} has no {ATTACK_SPLIT} conversations to attack with")
  too_long = [len(e.ids) for e in examples if len(e.ids) > config.seq_len]
  if too_long:
    raise ValueError(f"{len(too_long)} attack conversations are longer than {OWNER}.seq_len "
                     f"({config.seq_len}; longest {max(too_long)} tokens)")
  return examples


# --- the attack --------------------------------------------------------------------------------------


def run_attack(workdir: str | Path, cell: str, model_config: ModelConfig, config: AttackConfig, *,
               show_progress: bool = True, operative_config: str = "") -> dict[float, dict]:
  """Attacks ``cell`` (or ``rundir.BASE``) at every learning rate, in order (or resumes, or finds it
  done); returns learning rate -> the run's final status. ``model_config`` is used only when the
  source's checkpoint does not record its own. Raises ValueError if the source is not done,
  ``rundir.locks.Busy`` if another process is attacking it and ``RunMismatch`` if an attack run
  there started from other parameters (a cell retrained since) or another config."""
  directory, step = finished_source(workdir, cell)
  with locks.held(workdir, locks.attack_lock(cell)):
    source = checkpoint_fingerprint(directory, step)
    world = open_world(workdir)
    tokenizer = run_tokenizer(workdir, world)
    model_config = dataclasses.replace(saved_model_config(directory) or model_config,
                                       vocab_size=tokenizer.vocab_size)
    examples = attack_examples(world, tokenizer, config)
    params = source_params(directory, step, model_config)
    statuses = {}
    for rate in config.learning_rates:
      statuses[rate] = run_sft(model_config, config.sft_config(rate), examples,
                               rundir.attack_run_dir(workdir, cell, rate), init_params=_copy(params),
                               operative_config=operative_config, show_progress=show_progress, source=source,
                               save_steps=config.steps)
    return statuses


def _copy(params: dict) -> dict:
  """Fresh buffers: a training step donates the model's, and every rate starts from the same ones."""
  return jax.tree.map(jnp.array, params)


# --- the budget points -------------------------------------------------------------------------------


def attack_points(workdir: str | Path, cell: str, config: AttackConfig) -> list[AttackPoint]:
  """Every (learning rate, budget step) of ``config`` whose checkpoint exists in a finished attack
  run of ``cell``, in order, with its fingerprint; a checkpoint that cannot be read, or that attacked
  another checkpoint than the source's current one (retrained since), comes with its ``problem``."""
  current, why = _current_source(workdir, cell)
  points = []
  for rate in config.learning_rates:
    directory = rundir.attack_run_dir(workdir, cell, rate)
    if rundir.state_of(directory) == rundir.DONE:
      points += _run_points(cell, rate, directory, config.steps, current, why)
  return points


def _current_source(workdir: str | Path, cell: str) -> tuple[str | None, str | None]:
  """(fingerprint of the source's final checkpoint, None), or (None, why it has none)."""
  try:
    return checkpoint_fingerprint(*finished_source(workdir, cell)), None
  except (ValueError, rundir.DamagedFile) as error:
    return None, str(error)


def _run_points(cell: str, rate: float, directory: Path, budgets: tuple[int, ...], current: str | None,
                why: str | None) -> list[AttackPoint]:
  checkpoints = Checkpoints(rundir.checkpoints_dir(directory))
  try:
    return [_point(checkpoints, AttackPoint(cell, rate, step, directory), current, why)
            for step in budgets if checkpoints.step_dir(step).is_dir()]
  finally:
    checkpoints.close()


def _point(checkpoints: Checkpoints, point: AttackPoint, current: str | None, why: str | None) -> AttackPoint:
  try:
    fingerprint = checkpoints.fingerprint(point.steps)
    attacked = checkpoints.restore_meta(point.steps).get(SOURCE_META)
  except rundir.DamagedFile as error:
    return dataclasses.replace(point, problem=str(error))
  if why is not None:
    return dataclasses.replace(point, fingerprint=fingerprint, problem=why)
  if attacked is not None and attacked != current:
    return dataclasses.replace(point, fingerprint=fingerprint, problem=(
        f"{checkpoints.step_dir(point.steps)}: attacked another checkpoint of {point.cell} than its current one "
        "(retrained since); run the attack again"))
  return dataclasses.replace(point, fingerprint=fingerprint)
