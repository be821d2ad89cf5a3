"""Checkpoints of an NNX model and its optimizer with orbax: async, keep N, verified on restore.

A checkpoint holds ``state`` (the model's parameters and the optimizer's state, as one pytree) and
``meta`` (JSON: the step, the run's config fingerprint, whatever the caller adds, and the sha256 of
the parameters and of the optimizer state as they were saved). Orbax writes each step into a
temporary directory and renames it when complete, so a killed save leaves no checkpoint that looks
finished. Because the digests travel inside the checkpoint, they are committed by the same rename.

Every restore recomputes the digests of what it read and raises ``DamagedFile`` (naming the step's
directory and the first array that differs) on a mismatch, and on any file orbax cannot read: a
flipped bit or a truncated file is never trained on or evaluated. The parameters' digest is also
the checkpoint's *fingerprint*: eval files record it, so they are redone when a cell is retrained.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from flax import nnx
from jax.experimental import multihost_utils

from xgen import rundir
from xgen.rundir import DamagedFile

PARAMS_DIGEST, OPTIMIZER_DIGEST = "params_sha256", "optimizer_sha256"


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


def _host(x) -> np.ndarray:
  if isinstance(x, jax.Array) and not x.is_fully_addressable:
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))
  return np.asarray(jax.device_get(x))


def tree_digest(tree) -> str:
  """sha256 over every leaf's path, dtype, shape and bytes, in path order: equal iff the values are."""
  digest = hashlib.sha256()
  leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
  for path, leaf in sorted(leaves, key=lambda item: jax.tree_util.keystr(item[0])):
    array = np.ascontiguousarray(_host(leaf))
    digest.update(f"{jax.tree_util.keystr(path)}|{array.dtype}|{array.shape}|".encode())
    digest.update(array.tobytes())
  return digest.hexdigest()


class Checkpoints:
  """A directory of step checkpoints."""

  def __init__(self, directory: str | Path, *, keep: int = 3, asynchronous: bool = True):
    self.directory = Path(directory).resolve()
    self.keep = keep
    self.asynchronous = asynchronous
    self.manager = self._open()

  def _open(self) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=self.keep, enable_async_checkpointing=self.asynchronous,
                                           create=True, cleanup_tmp_directories=True)
    return ocp.CheckpointManager(self.directory, options=options)

  def step_dir(self, step: int) -> Path:
    return self.directory / str(step)

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def all_steps(self) -> list[int]:
    return sorted(self.manager.all_steps())

  def save(self, step: int, state: dict, meta: dict[str, Any], *, force: bool = False) -> None:
    """Starts saving ``step`` (the previous save is finished first). A write that fails, now or in the
    background, raises OSError with the file system's error (read-only, disk full)."""
    digests = {PARAMS_DIGEST: tree_digest(state["params"])}
    if "optimizer" in state:
      digests[OPTIMIZER_DIGEST] = tree_digest(state["optimizer"])
    with _writes(self.directory):
      self.manager.save(step, args=ocp.args.Composite(
          state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave({**meta, **digests, "step": step})),
          force=force)

  def restore(self, step: int, like: dict) -> tuple[dict, dict]:
    """(state, meta) of ``step``, verified; ``like`` is a pytree of the same structure (its arrays give
    shapes, dtypes and shardings)."""
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    restored = self._read(step, lambda: self.manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore())))
    state, meta = restored["state"], restored["meta"]
    self._verify(step, state["params"], meta, PARAMS_DIGEST)
    if "optimizer" in state:
      self._verify(step, state["optimizer"], meta, OPTIMIZER_DIGEST)
    return state, meta

  def restore_params(self, step: int, like_params: dict) -> dict:
    """Only the model parameters of ``step``, verified (the optimizer's state is left on disk)."""
    abstract = {"params": jax.tree.map(ocp.utils.to_shape_dtype_struct, like_params)}
    restored = self._read(step, lambda: self.manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.PyTreeRestore(item=abstract, restore_args=ocp.checkpoint_utils.construct_restore_args(
            abstract), partial_restore=True), meta=ocp.args.JsonRestore())))
    params = restored["state"]["params"]
    self._verify(step, params, restored["meta"], PARAMS_DIGEST)
    return params

  def restore_meta(self, step: int) -> dict:
    meta = self._read(step, lambda: self.manager.restore(step, args=ocp.args.Composite(
        meta=ocp.args.JsonRestore()))["meta"])
    if not isinstance(meta, dict):
      raise DamagedFile(self.step_dir(step), "its meta item is not a JSON object")
    return meta

  def fingerprint(self, step: int) -> str:
    """The content digest of ``step``'s parameters (recorded at save time)."""
    meta = self.restore_meta(step)
    if isinstance(meta.get(PARAMS_DIGEST), str):
      return meta[PARAMS_DIGEST]
    return "meta-" + hashlib.sha256(repr(sorted(meta.items())).encode()).hexdigest()  # saved before digests

  def _read(self, step: int, restore):
    if not self.step_dir(step).is_dir():
      raise DamagedFile(self.step_dir(step), "no such checkpoint")
    try:
      return restore()
    except DamagedFile:
      raise
    except Exception as error:  # noqa: BLE001  (orbax and tensorstore raise many kinds on damaged files)
      problem = " ".join(str(error).split())[:200] or type(error).__name__
      raise DamagedFile(self.step_dir(step), f"cannot be restored ({type(error).__name__}: {problem})") from None

  def _verify(self, step: int, tree, meta: dict, key: str) -> None:
    expected = meta.get(key)
    if expected is None:  # written before digests were recorded: nothing to check against
      return
    if tree_digest(tree) != expected:
      raise DamagedFile(self.step_dir(step), f"its {key.split('_')[0]} differ from the sha256 recorded when it "
                                             f"was saved ({expected[:12]}...)")

  def set_aside(self, step: int) -> Path:
    """Moves a damaged step out of ``checkpoints/`` into the run's ``damaged/`` folder; returns where."""
    self.manager.wait_until_finished()
    target = rundir.damaged_dir(self.directory.parent) / f"{step}-{time.time_ns()}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(self.step_dir(step)), str(target))
    self.manager.close()
    self.manager = self._open()
    return target

  def wait(self) -> None:
    with _writes(self.directory):
      self.manager.wait_until_finished()

  def close(self) -> None:
    try:
      self.wait()
    finally:
      self.manager.close()


_OS_ERROR_CODE = re.compile(r"os_error_code='?(\d+)")


@contextlib.contextmanager
def _writes(directory: Path):
  """Orbax reports a failed write as the storage layer's error (a ValueError naming an os_error_code);
  turn it into the OSError it is, so the run stops with the file system's own words."""
  try:
    yield
  except OSError:
    raise
  except Exception as error:  # noqa: BLE001  (only storage errors are translated; the rest re-raised as is)
    match = _OS_ERROR_CODE.search(str(error))
    if match is None:
      raise
    code = int(match.group(1))
    raise OSError(code, os.strerror(code), str(directory)) from error


def newest_intact(checkpoints: Checkpoints, like: dict, *, say=print) -> tuple[int, dict | None]:
  """Restores the newest checkpoint that verifies, setting damaged ones aside (and saying so);
  (0, None) when none is left."""
  for step in reversed(checkpoints.all_steps()):
    try:
      state, _ = checkpoints.restore(step, like)
      return step, state
    except DamagedFile as error:
      where = checkpoints.set_aside(step)
      say(f"checkpoint step {step} is damaged ({error.problem}); moved to {where}; "
          "falling back to the previous checkpoint")
  return 0, None


def checkpoint_fingerprint(run: str | Path, step: int) -> str:
  """The fingerprint of a run's checkpoint at ``step`` (see ``Checkpoints.fingerprint``)."""
  checkpoints = Checkpoints(rundir.checkpoints_dir(run))
  try:
    return checkpoints.fingerprint(step)
  finally:
    checkpoints.close()
