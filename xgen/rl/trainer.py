"""``xgen train``: one RL cell, from the pretrained base ``W/base`` into ``W/cells/<cell>/``.

Each step: draw ``batch_size / group_size`` scenarios from the mixture for (seed, step); sample
``group_size`` episodes of each with the current policy; grade every episode (its rubric, or the
generic reward for trait items in the reward control); turn the groups' rewards into advantages;
update the policy ``iterations`` times over ``minibatches`` slices of the batch; log. The cell
directory holds ``config.gin``, ``cell.json`` (what the cell is), ``checkpoints/`` (orbax, every
``checkpoint_every`` steps and at the end), ``metrics.jsonl``, ``tensorboard/``, ``samples.jsonl``
and ``status.json``.

Every batch and every sampling key is a pure function of (seed, step), and XLA on CPU is
deterministic, so a run killed at any point and rerun resumes from its newest checkpoint and ends
with the parameters of a run that was never killed. With several devices (or several processes
under ``jax.distributed``) the policy, its optimizer and the batch are placed on a mesh; every
process samples and grades the same global batch, and process 0 writes the logs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Callable, Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils

from xgen.data.mixtures import MixtureSampler
from xgen.data.schema import Scenario
from xgen.data.tfds_store import open_scenarios
from xgen.data.tokenizer import Tokenizer
from xgen.graders.reward import episode_outcome
from xgen.models import sharding
from xgen.models.config import ModelConfig
from xgen.models.sampler import SamplingConfig
from xgen.rl import algorithms
from xgen.rl.config import MixtureConfig, RLConfig
from xgen.rl.rollout import Episode, run_episodes
from xgen.rl.rollout_metrics import EpisodeRecord, rollout_metrics
from xgen.rl.step import RLBatch, episode_rows, minibatch, rl_train_step, sequence_logprobs
from xgen.train import locks
from xgen.train.checkpoints import Checkpoints, load_training_state, training_state
from xgen.train.metrics import MetricWriter, truncate_jsonl
from xgen.train.sft import TrainingDiverged, load_final_params, read_status, saved_model_config, write_status
from xgen.train.step import make_optimizer

CELLS_DIR = "cells"
TRAIT_SPLIT, STANDARD_SPLIT = "trait_train", "standard_train"
SAMPLES_SHOWN = 4  # groups written to samples.jsonl every sample_every steps


def cell_dir(workdir: str | Path, cell: str) -> Path:
  return Path(workdir) / CELLS_DIR / cell


@dataclasses.dataclass(frozen=True)
class CellInputs:
  """What a cell reads from the run directory."""

  tokenizer: Tokenizer
  trait_items: tuple[Scenario, ...]
  standard_items: tuple[Scenario, ...]
  model_config: ModelConfig
  world_sha256: str
  base_fingerprint: str


def read_cell_inputs(workdir: str | Path, fallback_model_config: ModelConfig | None = None) -> CellInputs:
  workdir = Path(workdir)
  world, base = workdir / "world", workdir / "base"
  if not (world / "manifest.json").exists():
    raise FileNotFoundError(f"no world in {world} (run `xgen world build --workdir {workdir}` first)")
  status = read_status(base)
  if not status or status.get("state") != "done":
    raise FileNotFoundError(f"no finished base model in {base} (run `xgen pretrain --workdir {workdir}` first)")
  tokenizer = Tokenizer.load(world / "tokenizer.model")
  model_config = saved_model_config(base) or fallback_model_config
  if model_config is None:
    raise FileNotFoundError(f"{base}: the checkpoint does not record its model config; pass the model's gin file")
  manifest = json.loads((world / "manifest.json").read_text())
  base_meta = json.dumps({"step": status.get("step"), "updated": status.get("updated")}, sort_keys=True)
  return CellInputs(tokenizer, tuple(open_scenarios(world / "tfds", TRAIT_SPLIT)),
                    tuple(open_scenarios(world / "tfds", STANDARD_SPLIT)),
                    dataclasses.replace(model_config, vocab_size=tokenizer.vocab_size), manifest["world_sha256"],
                    hashlib.sha256(base_meta.encode()).hexdigest())


def fingerprint(inputs: CellInputs, rl: RLConfig, mixture: MixtureConfig, loss: algorithms.LossConfig) -> str:
  """What a resumed cell must share with the run it resumes."""
  parts = [dataclasses.asdict(inputs.model_config), dataclasses.asdict(rl), dataclasses.asdict(mixture),
           dataclasses.asdict(loss), inputs.world_sha256, inputs.base_fingerprint]
  return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def default_mesh() -> jax.sharding.Mesh | None:
  """All devices on the data axis when there is more than one; None (plain arrays) otherwise."""
  return sharding.make_mesh(data=jax.device_count()) if jax.device_count() > 1 else None


def to_host(x: jax.Array) -> np.ndarray:
  if isinstance(x, jax.Array) and not x.is_fully_addressable:
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))
  return np.asarray(jax.device_get(x))


class _Cell:
  """The live state of a cell being trained: policy, optimizer, reference, mesh."""

  def __init__(self, workdir: Path, inputs: CellInputs, rl: RLConfig, loss: algorithms.LossConfig,
               mesh: jax.sharding.Mesh | None):
    base = workdir / "base"
    self.mesh = mesh
    self.policy = load_final_params(base, inputs.model_config)
    self.reference = load_final_params(base, inputs.model_config) if loss.beta > 0 else None
    if mesh is not None:
      sharding.shard_model(self.policy, mesh)
      if self.reference is not None:
        sharding.shard_model(self.reference, mesh)
    self.optimizer = make_optimizer(self.policy, learning_rate=rl.schedule(), weight_decay=rl.weight_decay,
                                    clip_norm=rl.clip_norm)
    if mesh is not None:
      sharding.shard_optimizer(self.optimizer, mesh)

  def place(self, batch: RLBatch) -> RLBatch:
    if self.mesh is None:
      return RLBatch(*(jax.numpy.asarray(x) for x in batch))
    return sharding.shard_batch(batch, self.mesh)

  def run(self, fn: Callable, *args, **kwargs):
    if self.mesh is None:
      return fn(*args, **kwargs)
    with sharding.mesh_context(self.mesh):
      return fn(*args, **kwargs)


def _records(episodes: Sequence[Episode], draws, group_size: int, outcomes, row_stats: dict[str, np.ndarray]):
  """One EpisodeRecord per episode; rows of one episode (its stages) are summed."""
  records, row = [], 0
  for index, (episode, outcome) in enumerate(zip(episodes, outcomes)):
    stages = len(episode.completions)
    rows = slice(row, row + stages)
    row += stages
    draw = draws[index // group_size]
    records.append(EpisodeRecord(
        group=index // group_size, pool=draw.pool, domain=episode.scenario.domain,
        category=episode.scenario.category, reward=outcome.reward, refused=outcome.refused,
        response_tokens=episode.response_tokens, truncated=episode.truncated,
        entropy_sum=float(row_stats["row/entropy"][rows].sum()),
        clipped_tokens=float(row_stats["row/clipped"][rows].sum()),
        kl_sum=float(row_stats["row/kl"][rows].sum()) if "row/kl" in row_stats else None))
  return records


def _sample_rows(step: int, episodes: Sequence[Episode], outcomes, advantages, group_size: int,
                 tokenizer: Tokenizer) -> list[dict]:
  rows = []
  for group in range(min(SAMPLES_SHOWN, len(episodes) // group_size)):
    members = range(group * group_size, (group + 1) * group_size)
    scenario = episodes[members[0]].scenario
    rows.append({"step": step, "id": scenario.id, "domain": scenario.domain, "category": scenario.category,
                 "prompt": tokenizer.decode(episodes[members[0]].prompts[0]),
                 "completions": [list(episodes[i].replies) for i in members],
                 "rewards": [outcomes[i].reward for i in members],
                 "advantages": [float(advantages[i]) for i in members]})
  return rows


def _mean_metrics(updates: list[dict]) -> dict[str, float]:
  """The mean over a step's updates of each scalar metric."""
  names = [name for name, value in updates[0].items() if not name.startswith("row/")]
  return {f"update/{name}": float(np.mean([float(u[name]) for u in updates])) for name in names}


def _history(out_dir: Path, event: str, **fields) -> None:
  """``history.jsonl``: one line per start and end of training, so a study can show that no step
  of a cell was trained twice."""
  out_dir.mkdir(parents=True, exist_ok=True)
  with open(out_dir / "history.jsonl", "a") as handle:
    handle.write(json.dumps({"event": event, "time": time.time(), "pid": os.getpid(), **fields}) + "\n")


def train_cell(workdir: str | Path, cell: str, rl: RLConfig, mixture: MixtureConfig, loss: algorithms.LossConfig,
               *, labels: dict | None = None, operative_config: str = "", model_config: ModelConfig | None = None,
               mesh: jax.sharding.Mesh | None | str = "auto", show_progress: bool = True) -> dict:
  """Trains (or resumes, or finds finished) the cell; returns its final status.

  Holds the cell's lock meanwhile: raises ``xgen.train.locks.Busy`` at once if another process is
  training it."""
  if jax.process_index() != 0:
    return _train_cell(workdir, cell, rl, mixture, loss, labels, operative_config, model_config, mesh, show_progress)
  with locks.held(workdir, f"cell-{cell}"):
    try:
      return _train_cell(workdir, cell, rl, mixture, loss, labels, operative_config, model_config, mesh,
                         show_progress)
    except Exception as error:
      out_dir = cell_dir(workdir, cell)
      if (read_status(out_dir) or {}).get("state") not in ("failed", "diverged", "done"):  # failed before training
        write_status(out_dir, "failed", step=0, steps=rl.steps, reason=f"{type(error).__name__}: {error}")
      raise


def _train_cell(workdir, cell, rl, mixture, loss, labels, operative_config, model_config, mesh,
                show_progress) -> dict:
  workdir = Path(workdir)
  out_dir = cell_dir(workdir, cell)
  lead = jax.process_index() == 0
  inputs = read_cell_inputs(workdir, model_config)
  sampler = MixtureSampler(mixture.spec(), inputs.trait_items, inputs.standard_items, seed=rl.seed)
  run_fingerprint = fingerprint(inputs, rl, mixture, loss)
  if lead:
    out_dir.mkdir(parents=True, exist_ok=True)
    if operative_config:
      (out_dir / "config.gin").write_text(operative_config)
    description = {"cell": cell, **(labels or {}), "rl": dataclasses.asdict(rl),
                   "mixture": dataclasses.asdict(mixture), "loss": dataclasses.asdict(loss),
                   "model": dataclasses.asdict(inputs.model_config), "fingerprint": run_fingerprint}
    (out_dir / "cell.json").write_text(json.dumps(description, indent=2, sort_keys=True) + "\n")

  checkpoints = Checkpoints(out_dir / "checkpoints", keep=rl.keep_checkpoints)
  start = checkpoints.latest_step() or 0
  if start and checkpoints.restore_meta(start).get("fingerprint") != run_fingerprint:
    checkpoints.close()
    raise ValueError(f"{out_dir}: the checkpoints there come from another config, world or base; "
                     f"use another cell name or delete {checkpoints.directory}")
  if start >= rl.steps:
    checkpoints.close()
    if lead and (read_status(out_dir) or {}).get("state") != "done":
      write_status(out_dir, "done", step=start, steps=rl.steps)
    return read_status(out_dir) or {"state": "done", "step": start}

  state = _Cell(workdir, inputs, rl, loss, default_mesh() if mesh == "auto" else mesh)
  if start:
    restored, _ = checkpoints.restore(start, training_state(state.policy, state.optimizer))
    load_training_state(restored, state.policy, state.optimizer)
  tokenizer = inputs.tokenizer
  sampling = SamplingConfig(max_new_tokens=rl.max_new_tokens, temperature=rl.temperature,
                            stop_ids=(tokenizer.end_id, tokenizer.eos_id))
  estimator = algorithms.get_advantage(rl.advantage)
  recompute_old = rl.iterations > 1 or rl.minibatches > 1
  key = jax.random.PRNGKey(rl.seed)
  schedule = rl.schedule()
  writer = None
  if lead:
    write_status(out_dir, "running", step=start, steps=rl.steps)
    writer = MetricWriter(out_dir, start_step=start, total_steps=rl.steps, description=cell,
                          show_progress=show_progress)
    truncate_jsonl(out_dir / "samples.jsonl", start)
  if lead:
    _history(out_dir, "start", step=start)
  step = start
  try:
    for step in range(start, rl.steps):
      started = time.perf_counter()
      draws = sampler.batch(step, rl.prompts_per_step)
      scenarios = [draw.item for draw in draws for _ in range(rl.group_size)]
      episodes = state.run(run_episodes, state.policy, tokenizer, scenarios, sampling, jax.random.fold_in(key, step),
                           chunk_size=rl.batch_size)
      sampled = time.perf_counter()
      outcomes = [episode_outcome(e.scenario, e.replies, mode=mixture.reward_mode) for e in episodes]
      rewards = np.array([o.reward for o in outcomes], np.float32).reshape(rl.prompts_per_step, rl.group_size)
      advantages, advantage_metrics = estimator(jax.numpy.asarray(rewards), scale_std=rl.scale_std)
      advantages = np.asarray(advantages).reshape(-1)
      graded = time.perf_counter()

      batch = state.place(episode_rows(episodes, advantages, multiple_of=rl.minibatches))
      if recompute_old:
        batch = batch._replace(old_logprobs=state.run(sequence_logprobs, state.policy, batch, rl.temperature))
      if state.reference is not None:
        batch = batch._replace(ref_logprobs=state.run(sequence_logprobs, state.reference, batch, rl.temperature))
      updates, first_rows = [], []
      for iteration in range(rl.iterations):
        for index in range(rl.minibatches):
          metrics = state.run(rl_train_step, state.policy, state.optimizer, minibatch(batch, index, rl.minibatches),
                              loss_config=loss, temperature=rl.temperature, recomputed_old=recompute_old)
          updates.append(metrics)
          if iteration == 0:
            first_rows.append({k: to_host(v) for k, v in metrics.items() if k.startswith("row/")})
      update_metrics = _mean_metrics([{k: v for k, v in u.items() if not k.startswith("row/")} for u in updates])
      if not all(math.isfinite(v) for v in update_metrics.values()):
        raise TrainingDiverged(f"non-finite loss or gradient at step {step + 1}: "
                               f"loss {update_metrics['update/loss']}, grad norm {update_metrics['update/grad_norm']}")
      done = step + 1
      if lead:
        row_stats = {name: np.concatenate([rows[name] for rows in first_rows]) for name in first_rows[0]}
        records = _records(episodes, draws, rl.group_size, outcomes, row_stats)
        finished = time.perf_counter()
        if done % rl.log_every == 0 or done == rl.steps:
          writer.write(done, {**rollout_metrics(records), **update_metrics,
                              **{k: float(v) for k, v in advantage_metrics.items()},
                              "learning_rate": float(schedule(step)), "time/step_seconds": finished - started,
                              "time/sample_seconds": sampled - started, "time/grade_seconds": graded - sampled,
                              "time/update_seconds": finished - graded})
        if rl.sample_every and done % rl.sample_every == 0:
          with open(out_dir / "samples.jsonl", "a") as handle:
            for row in _sample_rows(done, episodes, outcomes, advantages, rl.group_size, tokenizer):
              handle.write(json.dumps(row) + "\n")
        writer.advance(1, reward=float(rewards.mean()), s_per_step=round(finished - started, 2))
      if done % rl.checkpoint_every == 0 or done == rl.steps:
        checkpoints.save(done, training_state(state.policy, state.optimizer),
                         {"fingerprint": run_fingerprint, "model_config": dataclasses.asdict(inputs.model_config)},
                         force=done == rl.steps)
    checkpoints.wait()
  except TrainingDiverged as error:
    checkpoints.close()
    if lead:
      writer.close()
      write_status(out_dir, "diverged", step=step, steps=rl.steps, reason=str(error))
    raise
  except BaseException as error:
    checkpoints.close()
    if lead:
      writer.close()
      write_status(out_dir, "failed", step=checkpoints.latest_step() or 0, steps=rl.steps,
                   reason=f"{type(error).__name__}: {error}")
    raise
  checkpoints.close()
  if lead:
    writer.close()
    _history(out_dir, "done", step=rl.steps)
    write_status(out_dir, "done", step=rl.steps, steps=rl.steps)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(f"xgen cell {cell} done")
  return read_status(out_dir) or {"state": "done", "step": rl.steps}
