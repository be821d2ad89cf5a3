"""One RL step of a cell, with no I/O: draw the step's scenarios, sample episodes, grade them, turn
the groups' rewards into advantages and update the policy ``iterations x minibatches`` times.

``Policy`` is the live state of a cell (policy, optimizer, frozen reference, mesh); ``rl_iteration``
takes it and the step number and returns what happened (``StepResult``); the trainer around it
owns logging, checkpoints and statuses (``xgen.train.lifecycle``).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils

from xgen.data.mixtures import MixtureDraw, MixtureSampler
from xgen.data.tokenizer import Tokenizer
from xgen.graders.reward import Outcome as EpisodeOutcome, episode_outcome
from xgen.models import sharding
from xgen.models.config import ModelConfig
from xgen.models.sampler import SamplingConfig
from xgen.models.transformer import Transformer
from xgen.rl import algorithms
from xgen.rl.config import RLConfig
from xgen.rl.rollout import Episode, run_episodes
from xgen.rl.rollout_metrics import EpisodeRecord
from xgen.rl.step import (LengthGroups, RLBatch, apply_grads, episode_row_list, merged_metrics, minibatch_groups,
                          rl_group_grads, rl_train_step, sequence_logprobs)
from xgen.train.step import make_optimizer


def default_mesh() -> jax.sharding.Mesh | None:
  """All devices on the data axis when there is more than one; None (plain arrays) otherwise."""
  return sharding.make_mesh(data=jax.device_count()) if jax.device_count() > 1 else None


def to_host(x: jax.Array) -> np.ndarray:
  if isinstance(x, jax.Array) and not x.is_fully_addressable:
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))
  return np.asarray(jax.device_get(x))


class Policy:
  """The live state of a cell being trained: policy, optimizer, reference, mesh."""

  def __init__(self, load_base: Callable[[ModelConfig], Transformer], model_config: ModelConfig, rl: RLConfig,
               loss: algorithms.LossConfig, mesh: jax.sharding.Mesh | None):
    self.mesh = mesh
    self.policy = load_base(model_config)
    self.reference = load_base(model_config) if loss.beta > 0 else None
    if mesh is not None:
      sharding.shard_model(self.policy, mesh)
      if self.reference is not None:
        sharding.shard_model(self.reference, mesh)
    self.optimizer = make_optimizer(self.policy, learning_rate=rl.schedule(), weight_decay=rl.weight_decay,
                                    clip_norm=rl.clip_norm)
    if mesh is not None:
      sharding.shard_optimizer(self.optimizer, mesh)

  @property
  def row_multiple(self) -> int:
    """The devices a batch's rows are sharded over (every length group's row count must be a multiple)."""
    return 1 if self.mesh is None else int(np.prod([self.mesh.shape[a] for a in sharding.BATCH_AXES]))

  def place(self, batch: RLBatch) -> RLBatch:
    if self.mesh is None:
      return RLBatch(*(jax.numpy.asarray(x) for x in batch))
    return sharding.shard_batch(batch, self.mesh)

  def run(self, fn: Callable, *args, **kwargs):
    if self.mesh is None:
      return fn(*args, **kwargs)
    with sharding.mesh_context(self.mesh):
      return fn(*args, **kwargs)


@dataclasses.dataclass(frozen=True)
class StepResult:
  """What one step did: the draws, episodes and their outcomes, the advantages, and metrics."""

  draws: list[MixtureDraw]
  episodes: list[Episode]
  outcomes: list[EpisodeOutcome]
  rewards: np.ndarray                 # [scenarios, group_size]
  advantages: np.ndarray              # [scenarios * group_size]
  advantage_metrics: dict[str, float]
  update_metrics: dict[str, float]    # means over the step's updates, "update/..."
  row_stats: dict[str, np.ndarray]    # per-row statistics of the first iteration ("row/...")
  seconds: dict[str, float]           # sample, grade, update


def _mean_metrics(updates: list[dict]) -> dict[str, float]:
  """The mean over a step's updates of each scalar metric."""
  names = [name for name in updates[0] if not name.startswith("row/")]
  return {f"update/{name}": float(np.mean([float(u[name]) for u in updates])) for name in names}


def update_minibatch(state: Policy, groups: LengthGroups, batches: Sequence[RLBatch], loss: algorithms.LossConfig,
                     temperature: float, recomputed_old: bool) -> dict:
  """One optimizer update on one mini-batch: in one program when it is one group, else the weighted gradients
  of its length groups summed, then applied; the loss metrics, ``grad_norm`` and per-row statistics (host)."""
  if len(batches) == 1:  # its weight is the whole loss's
    metrics = state.run(rl_train_step, state.policy, state.optimizer, batches[0], loss_config=loss,
                        temperature=temperature, recomputed_old=recomputed_old)
    return {k: to_host(v) if k.startswith("row/") else v for k, v in metrics.items()}
  total, per_group = None, []
  for batch, weight in zip(batches, groups.weights):
    grads, metrics = state.run(rl_group_grads, state.policy, batch, jax.numpy.float32(weight), loss_config=loss,
                               temperature=temperature, recomputed_old=recomputed_old)
    total = grads if total is None else jax.tree.map(jax.numpy.add, total, grads)
    per_group.append({k: to_host(v) for k, v in metrics.items()})
  norm = state.run(apply_grads, state.policy, state.optimizer, total)
  return {**merged_metrics(groups, per_group), "grad_norm": float(norm)}


def rl_iteration(state: Policy, sampler: MixtureSampler, tokenizer: Tokenizer, step: int, *, rl: RLConfig,
                 loss: algorithms.LossConfig, reward_mode: str, key: jax.Array) -> StepResult:
  started = time.perf_counter()
  draws = sampler.batch(step, rl.prompts_per_step)
  scenarios = [draw.item for draw in draws for _ in range(rl.group_size)]
  sampling = SamplingConfig(max_new_tokens=rl.max_new_tokens, temperature=rl.temperature,
                            stop_ids=(tokenizer.end_id, tokenizer.eos_id))
  episodes = state.run(run_episodes, state.policy, tokenizer, scenarios, sampling, jax.random.fold_in(key, step),
                       chunk_size=rl.batch_size)
  sampled = time.perf_counter()
  outcomes = [episode_outcome(e.scenario, e.replies, mode=reward_mode) for e in episodes]
  rewards = np.array([o.reward for o in outcomes], np.float32).reshape(rl.prompts_per_step, rl.group_size)
  advantages, advantage_metrics = algorithms.get_advantage(rl.advantage)(jax.numpy.asarray(rewards),
                                                                         scale_std=rl.scale_std)
  advantages = np.asarray(advantages).reshape(-1)
  graded = time.perf_counter()

  recompute_old = rl.iterations > 1 or rl.minibatches > 1
  rows = episode_row_list(episodes, advantages, multiple_of=rl.minibatches)
  groups = minibatch_groups(rows, rl.minibatches, rl.length_groups, loss.aggregation, row_multiple=state.row_multiple)
  placed = [[state.place(batch) for batch in minibatch.batches] for minibatch in groups]
  for field, model in (("old_logprobs", state.policy if recompute_old else None), ("ref_logprobs", state.reference)):
    if model is not None:  # from the parameters before any update of this step
      placed = [[b._replace(**{field: state.run(sequence_logprobs, model, b, rl.temperature)}) for b in batches]
                for batches in placed]
  updates, first_rows = [], []
  for iteration in range(rl.iterations):
    for minibatch, batches in zip(groups, placed):
      metrics = update_minibatch(state, minibatch, batches, loss, rl.temperature, recompute_old)
      updates.append({k: v for k, v in metrics.items() if not k.startswith("row/")})
      if iteration == 0:
        first_rows.append({k: v for k, v in metrics.items() if k.startswith("row/")})
  row_stats = {name: np.concatenate([rows[name] for rows in first_rows]) for name in first_rows[0]}
  update_metrics = _mean_metrics(updates)
  return StepResult(draws, episodes, outcomes, rewards, advantages,
                    {k: float(v) for k, v in advantage_metrics.items()}, update_metrics, row_stats,
                    {"sample": sampled - started, "grade": graded - sampled, "update": time.perf_counter() - graded})


def episode_records(result: StepResult, group_size: int) -> list[EpisodeRecord]:
  """One EpisodeRecord per episode; rows of one episode (its stages) are summed."""
  records, row = [], 0
  for index, (episode, outcome) in enumerate(zip(result.episodes, result.outcomes)):
    rows = slice(row, row + len(episode.completions))
    row += len(episode.completions)
    draw = result.draws[index // group_size]
    stats = result.row_stats
    records.append(EpisodeRecord(
        group=index // group_size, pool=draw.pool, domain=episode.scenario.domain,
        category=episode.scenario.category, reward=outcome.reward, refused=outcome.refused,
        response_tokens=episode.response_tokens, truncated=episode.truncated,
        entropy_sum=float(stats["row/entropy"][rows].sum()), clipped_tokens=float(stats["row/clipped"][rows].sum()),
        kl_sum=float(stats["row/kl"][rows].sum()) if "row/kl" in stats else None))
  return records


def sample_rows(step: int, result: StepResult, group_size: int, tokenizer: Tokenizer, groups: int) -> list[dict]:
  """Prompts, completions, rewards and advantages of the first ``groups`` groups, for samples.jsonl."""
  rows = []
  episodes: Sequence[Episode] = result.episodes
  for group in range(min(groups, len(episodes) // group_size)):
    members = range(group * group_size, (group + 1) * group_size)
    scenario = episodes[members[0]].scenario
    rows.append({"step": step, "id": scenario.id, "domain": scenario.domain, "category": scenario.category,
                 "prompt": tokenizer.decode(episodes[members[0]].prompts[0]),
                 "completions": [list(episodes[i].replies) for i in members],
                 "rewards": [result.outcomes[i].reward for i in members],
                 "advantages": [float(result.advantages[i]) for i in members]})
  return rows
