"""Checkpoints of an NNX model and its optimizer with orbax: async, keep N, resume.

A checkpoint holds ``state`` (the model's parameters and the optimizer's state, as one pytree) and
``meta`` (JSON: the step, the config fingerprint and whatever the caller adds). Orbax writes each
step into a temporary directory and renames it when complete, so a process killed mid-save leaves
no checkpoint that looks finished; ``latest_step`` only ever sees complete ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp
from flax import nnx


def training_state(model: nnx.Module, optimizer: nnx.Optimizer | None = None) -> dict:
  """The pure pytree that is saved: model parameters (and optimizer state, if any)."""
  state = {"params": nnx.to_pure_dict(nnx.state(model, nnx.Param))}
  if optimizer is not None:
    state["optimizer"] = nnx.to_pure_dict(nnx.state(optimizer, nnx.optimizer.OptState))
  return state


def load_training_state(state: dict, model: nnx.Module, optimizer: nnx.Optimizer | None = None) -> None:
  """Writes a restored pytree back into the live model (and optimizer)."""
  params = nnx.state(model, nnx.Param)
  nnx.replace_by_pure_dict(params, state["params"])
  nnx.update(model, params)
  if optimizer is not None and "optimizer" in state:
    opt_state = nnx.state(optimizer, nnx.optimizer.OptState)
    nnx.replace_by_pure_dict(opt_state, state["optimizer"])
    nnx.update(optimizer, opt_state)


class Checkpoints:
  """A directory of step checkpoints."""

  def __init__(self, directory: str | Path, *, keep: int = 3, asynchronous: bool = True):
    self.directory = Path(directory).resolve()
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=asynchronous,
                                           create=True, cleanup_tmp_directories=True)
    self.manager = ocp.CheckpointManager(self.directory, options=options)

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def all_steps(self) -> list[int]:
    return sorted(self.manager.all_steps())

  def save(self, step: int, state: dict, meta: dict[str, Any], *, force: bool = False) -> None:
    self.manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                     meta=ocp.args.JsonSave({**meta, "step": step})), force=force)

  def restore(self, step: int, like: dict) -> tuple[dict, dict]:
    """(state, meta) of ``step``; ``like`` is a pytree of the same structure (its arrays give shapes,
    dtypes and shardings)."""
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    restored = self.manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract),
                                                                   meta=ocp.args.JsonRestore()))
    return restored["state"], restored["meta"]

  def restore_params(self, step: int, like_params: dict) -> dict:
    """Only the model parameters of ``step`` (the optimizer's state is left on disk)."""
    abstract = {"params": jax.tree.map(ocp.utils.to_shape_dtype_struct, like_params)}
    restored = self.manager.restore(step, args=ocp.args.Composite(state=ocp.args.PyTreeRestore(
        item=abstract, restore_args=ocp.checkpoint_utils.construct_restore_args(abstract), partial_restore=True)))
    return restored["state"]["params"]

  def restore_meta(self, step: int) -> dict:
    return self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()
