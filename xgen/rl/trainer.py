"""``xgen train``: one RL cell, from the pretrained base ``W/base`` into ``W/cells/<cell>/``.

Each step (``xgen.rl.iteration``): draw ``batch_size / group_size`` scenarios from the mixture for
(seed, step); sample ``group_size`` episodes of each with the current policy; grade every episode
(its rubric, or the generic reward for trait items in the reward control); turn the groups' rewards
into advantages; update the policy ``iterations`` times over ``minibatches`` slices of the batch.
This module reads the cell's inputs, and runs the steps inside the training-run lifecycle
(``xgen.train.lifecycle``: lock, resume, checkpoints, statuses), writing the cell's logs.

Every batch and every sampling key is a pure function of (seed, step), and XLA on CPU is
deterministic, so a run killed at any point and rerun resumes from its newest intact checkpoint and
ends with the parameters of a run that was never killed. With several devices (or several processes
under ``jax.distributed``) the policy, its optimizer and the batch are placed on a mesh; every
process samples and grades the same global batch, and process 0 writes the logs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import jax
from jax.experimental import multihost_utils

from xgen import rundir
from xgen.data import jsonl_import, tfds_store
from xgen.data.mixtures import POOLS, SOURCE_FIELDS, WORLD, MixtureSampler
from xgen.data.schema import Scenario
from xgen.data.tokenizer import Tokenizer
from xgen.models.config import ModelConfig
from xgen.rl import algorithms
from xgen.rl.config import MixtureConfig, RLConfig, resolved_loss
from xgen.rl.iteration import Policy, default_mesh, episode_records, rl_iteration, sample_rows
from xgen.rl.rollout_metrics import rollout_metrics
from xgen.rundir import locks
from xgen.train.checkpoints import load_training_state, training_state
from xgen.train.lifecycle import RunSpec, TrainingRun
from xgen.train.sft import load_final_params, saved_model_config
from xgen.world.store import STANDARD_SPLIT, TRAIT_SPLIT, open_world, run_tokenizer

SAMPLES_SHOWN = 4  # groups written to samples.jsonl every sample_every steps
POOL_SPLITS = {"trait": TRAIT_SPLIT, "standard": STANDARD_SPLIT}  # the split each pool reads, world or import


class MissingInput(FileNotFoundError):
  """The run directory lacks what a cell starts from (the world, a finished base)."""


@dataclasses.dataclass(frozen=True)
class CellInputs:
  """What a cell reads from the run directory."""

  tokenizer: Tokenizer
  trait_items: tuple[Scenario, ...]
  standard_items: tuple[Scenario, ...]
  model_config: ModelConfig
  world_sha256: str
  base_fingerprint: str
  import_sha256: tuple[tuple[str, str], ...] = ()  # (pool, sha256 of its import's input file), imports only


def _import_pool(workdir: str | Path, mixture: MixtureConfig, pool: str) -> tuple[tuple[Scenario, ...], str]:
  """The scenarios of ``pool``'s import (its ``trait_train`` or ``standard_train`` split) and the import's
  sha256; one line naming the field, the import and the split when it is missing or holds none the
  mixture may use."""
  items, sha256 = read_import_pool(workdir, mixture.import_of(pool), pool)
  where = f"MixtureConfig.{SOURCE_FIELDS[pool]}: imports/{mixture.import_of(pool)}"
  if mixture.needs(pool) and not any(mixture.allows(pool, item) for item in items):
    raise ValueError(f"{where}: none of the {len(items)} scenarios of its {POOL_SPLITS[pool]} split is left after "
                     f"the mixture's filters (their domains: {', '.join(sorted({i.domain for i in items}))})")
  return items, sha256


def read_import_pool(workdir: str | Path, name: str, pool: str,
                     field: str = "") -> tuple[tuple[Scenario, ...], str]:
  """The scenarios of the import ``name``'s split for ``pool`` and the import's sha256; MissingInput naming
  ``field`` (default ``MixtureConfig.<pool>_source``), the import and the split when it is not there."""
  split = POOL_SPLITS[pool]
  where = f"{field or 'MixtureConfig.' + SOURCE_FIELDS[pool]}: imports/{name}"
  directory = rundir.import_dir(workdir, name)
  if not rundir.manifest_path(directory).exists():
    raise MissingInput(f"{where}: no such import in {rundir.imports_dir(workdir)} "
                       f"(add it with `xgen data import FILE --name {name} --workdir {workdir}`)")
  manifest = jsonl_import.read_manifest(directory)
  splits = manifest.get("splits") or {}
  if split not in splits:
    raise MissingInput(f"{where} has no {split} split, so no {pool} scenarios (its splits: "
                       f"{', '.join(splits) or 'none'})")
  items = tuple(tfds_store.open_scenarios(rundir.tfds_dir(directory), split))
  return items, manifest["input"]["sha256"]


def read_cell_inputs(workdir: str | Path, fallback_model_config: ModelConfig | None = None,
                     mixture: MixtureConfig | None = None) -> CellInputs:
  """The world (verified), the finished base, and the mixture's pools (the world's splits, or an import's
  where ``mixture`` names one); MissingInput when any is not there."""
  world = open_world(workdir)
  base = rundir.base_dir(workdir)
  status = rundir.read_status(base)
  if not status or status.get("state") != rundir.DONE:
    raise MissingInput(f"no finished base model in {base} (run `xgen pretrain --workdir {workdir}` first)")
  tokenizer = run_tokenizer(workdir, world)
  model_config = saved_model_config(base) or fallback_model_config
  if model_config is None:
    raise MissingInput(f"{base}: the checkpoint does not record its model config; pass the model's gin file")
  base_meta = json.dumps({"step": status.get("step"), "updated": status.get("updated")}, sort_keys=True)
  pools, imported = {}, []
  for pool in POOLS:
    if mixture is None or mixture.import_of(pool) is None:
      pools[pool] = tuple(world.scenarios(POOL_SPLITS[pool]))
    else:
      pools[pool], sha256 = _import_pool(workdir, mixture, pool)
      imported.append((pool, sha256))
  return CellInputs(tokenizer, pools["trait"], pools["standard"],
                    dataclasses.replace(model_config, vocab_size=tokenizer.vocab_size), world.sha256,
                    hashlib.sha256(base_meta.encode()).hexdigest(), tuple(imported))


def _mixture_part(mixture: MixtureConfig) -> dict:
  """The mixture as the fingerprint sees it: a source left at the world is left out, so cells trained before
  the sources existed keep their fingerprints."""
  record = dataclasses.asdict(mixture)
  return {key: value for key, value in record.items() if key not in SOURCE_FIELDS.values() or value != WORLD}


def fingerprint(inputs: CellInputs, rl: RLConfig, mixture: MixtureConfig, loss: algorithms.LossConfig) -> str:
  """What a resumed cell must share with the run it resumes (an imported pool's input file among it)."""
  parts = [dataclasses.asdict(inputs.model_config), dataclasses.asdict(rl), _mixture_part(mixture),
           dataclasses.asdict(loss), inputs.world_sha256, inputs.base_fingerprint]
  if inputs.import_sha256:
    parts.append([list(pair) for pair in inputs.import_sha256])
  return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _cell_record(cell: str, labels: dict | None, rl: RLConfig, mixture: MixtureConfig, loss: algorithms.LossConfig,
                 model_config: ModelConfig, run_fingerprint: str) -> dict:
  return {"cell": cell, **(labels or {}), "rl": dataclasses.asdict(rl), "mixture": dataclasses.asdict(mixture),
          "loss": dataclasses.asdict(loss), "model": dataclasses.asdict(model_config), "fingerprint": run_fingerprint}


def train_cell(workdir: str | Path, cell: str, rl: RLConfig, mixture: MixtureConfig, loss: algorithms.LossConfig,
               *, labels: dict | None = None, operative_config: str = "", model_config: ModelConfig | None = None,
               mesh: jax.sharding.Mesh | None | str = "auto", show_progress: bool = True) -> dict:
  """Trains (or resumes, or finds finished) the cell; returns its final status.

  Holds the cell's lock meanwhile: raises ``xgen.rundir.locks.Busy`` at once if another process is
  training it. Inputs that are missing or do not fit (``MissingInput``, ``RunMismatch``) are raised
  before training starts and leave the cell's state as it was."""
  out_dir = rundir.cell_dir(workdir, cell)
  lead = jax.process_index() == 0
  loss = resolved_loss(loss, rl)
  inputs = read_cell_inputs(workdir, model_config, mixture)
  sampler = MixtureSampler(mixture, inputs.trait_items, inputs.standard_items, seed=rl.seed)
  run_fingerprint = fingerprint(inputs, rl, mixture, loss)
  spec = RunSpec(directory=out_dir, steps=rl.steps, fingerprint=run_fingerprint,
                 checkpoint_every=rl.checkpoint_every, keep_checkpoints=rl.keep_checkpoints,
                 meta={"model_config": dataclasses.asdict(inputs.model_config)}, description=cell,
                 show_progress=show_progress)
  with TrainingRun(spec, workdir=workdir, lock=locks.cell_lock(cell), lead=lead) as run:
    state = Policy(lambda config: load_final_params(rundir.base_dir(workdir), config), inputs.model_config, rl,
                   loss, default_mesh() if mesh == "auto" else mesh)
    start = run.resume(lambda: training_state(state.policy, state.optimizer),
                       lambda restored: load_training_state(restored, state.policy, state.optimizer))
    if run.finished:
      return run.finish()
    if lead:
      if operative_config:
        rundir.atomic_write_text(rundir.run_config_path(out_dir), operative_config)
      rundir.atomic_write_json(rundir.cell_record_path(out_dir), _cell_record(
          cell, labels, rl, mixture, loss, inputs.model_config, run_fingerprint))
    key, schedule = jax.random.PRNGKey(rl.seed), rl.schedule()
    for step in range(start, rl.steps):
      result = rl_iteration(state, sampler, inputs.tokenizer, step, rl=rl, loss=loss,
                            reward_mode=mixture.reward_mode, key=key)
      run.check_finite(step, **result.update_metrics)
      done = step + 1
      if lead:
        seconds = {f"time/{name}_seconds": value for name, value in result.seconds.items()}
        if done % rl.log_every == 0 or done == rl.steps:
          run.log(done, {**rollout_metrics(episode_records(result, rl.group_size)), **result.update_metrics,
                         **result.advantage_metrics, "learning_rate": float(schedule(step)),
                         "time/step_seconds": sum(result.seconds.values()), **seconds})
        if rl.sample_every and done % rl.sample_every == 0:
          run.append_samples(sample_rows(done, result, rl.group_size, inputs.tokenizer, SAMPLES_SHOWN))
        run.advance(1, reward=float(result.rewards.mean()), s_per_step=round(sum(result.seconds.values()), 2))
      run.checkpoint(done, lambda: training_state(state.policy, state.optimizer))
    status = run.finish()
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(f"xgen cell {cell} done")
  return status
