"""Placing the model, its optimizer and batches on a mesh of devices.

The mesh has three axes: ``data`` (batch rows, parameters replicated), ``fsdp`` (batch rows, and
parameters split along ``embed``) and ``tensor`` (parameters split along heads, MLP width and
vocabulary). Parameters name their dimensions logically (``xgen.models.transformer``);
``LOGICAL_RULES`` maps those names onto mesh axes. A dimension that its mesh axes do not divide
evenly is replicated instead, so odd shapes (e.g. ``n_kv_heads * head_dim`` on a large ``tensor``
axis) never fail, they just shard less.

Typical use, one process or many::

  mesh = make_mesh(data=2, fsdp=4)
  model = shard_model(build_model(config, seed), mesh)
  optimizer = shard_optimizer(make_optimizer(model, ...), mesh)
  with mesh_context(mesh):
    metrics = train_step(model, optimizer, shard_batch(batch, mesh))

With several processes (``jax.distributed.initialize``), every process builds the same model from
the same seed and calls the same functions; ``shard_batch`` takes each process's own rows (see its
docstring). Everything here works unchanged on a single device with a 1x1x1 mesh.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import jax
import numpy as np
from flax import nnx
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

MESH_AXES = ("data", "fsdp", "tensor")
BATCH_AXES = ("data", "fsdp")

# Logical axis name -> mesh axis (a name, a tuple of names, or None for replicated).
LOGICAL_RULES: tuple[tuple[str, str | tuple[str, ...] | None], ...] = (
    ("batch", BATCH_AXES),
    ("length", None),
    ("embed", "fsdp"),
    ("heads", "tensor"),
    ("kv_heads", "tensor"),
    ("mlp", "tensor"),
    ("vocab", "tensor"),
)

Node = TypeVar("Node")


def make_mesh(data: int = 1, fsdp: int = 1, tensor: int = 1, devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A ("data", "fsdp", "tensor") mesh over ``devices`` (default: all devices of all processes).

  Every axis is ``AxisType.Auto``: the compiler propagates shardings from the placed inputs (NNX's
  embedding lookup does not work under explicit axes)."""
  devices = list(jax.devices() if devices is None else devices)
  shape = (data, fsdp, tensor)
  if any(not isinstance(size, int) or size < 1 for size in shape):
    raise ValueError(f"make_mesh: axis sizes must be positive integers, got data={data}, fsdp={fsdp}, "
                     f"tensor={tensor}")
  if math.prod(shape) != len(devices):
    raise ValueError(f"make_mesh: data*fsdp*tensor = {data}*{fsdp}*{tensor} = {math.prod(shape)}, "
                     f"but there are {len(devices)} devices")
  return jax.make_mesh(shape, MESH_AXES, axis_types=(AxisType.Auto,) * len(MESH_AXES), devices=devices)


def _mesh_axes_of(name: Any, rules: dict) -> tuple[str, ...]:
  if name is None:
    return ()
  if name not in rules:
    raise ValueError(f"logical axis {name!r} has no sharding rule; known: {sorted(map(str, rules))}")
  target = rules[name]
  if target is None:
    return ()
  return (target,) if isinstance(target, str) else tuple(target)


def logical_to_partition_spec(logical_spec: Sequence[Any] | None, mesh: Mesh,
                              rules: Sequence[tuple[str, Any]] = LOGICAL_RULES,
                              shape: Sequence[int] | None = None) -> PartitionSpec:
  """Map logical dimension names to a PartitionSpec on ``mesh``.

  Mesh axes of size 1 are left out (they shard nothing). When ``shape`` is given, a dimension keeps
  the longest prefix of its mesh axes whose sizes divide it (("data", "fsdp") may fall back to
  ("data",)); with none, it is replicated. A mesh axis already used by an earlier dimension is not
  reused."""
  if not logical_spec:
    return PartitionSpec()
  rule_map = dict(rules)
  used: set[str] = set()
  entries: list[str | tuple[str, ...] | None] = []
  for index, name in enumerate(logical_spec):
    axes = [axis for axis in _mesh_axes_of(name, rule_map) if mesh.shape[axis] > 1 and axis not in used]
    if shape is not None:
      while axes and shape[index] % math.prod(mesh.shape[axis] for axis in axes):
        axes.pop()
    used.update(axes)
    entries.append(None if not axes else axes[0] if len(axes) == 1 else tuple(axes))
  while entries and entries[-1] is None:
    entries.pop()
  return PartitionSpec(*entries)


def logical_to_mesh_sharding(logical_spec: Sequence[Any] | None, mesh: Mesh,
                             rules: Sequence[tuple[str, Any]] = LOGICAL_RULES,
                             shape: Sequence[int] | None = None) -> NamedSharding:
  """``logical_to_partition_spec`` as a NamedSharding on ``mesh``."""
  return NamedSharding(mesh, logical_to_partition_spec(logical_spec, mesh, rules, shape))


def variable_sharding(variable: nnx.Variable, mesh: Mesh,
                      rules: Sequence[tuple[str, Any]] = LOGICAL_RULES) -> NamedSharding:
  """Where a parameter (or optimizer moment, which inherits the names) goes: from its
  ``out_sharding`` metadata, set by ``nnx.with_partitioning``; replicated without one."""
  names = variable.get_metadata().get("out_sharding")
  return logical_to_mesh_sharding(names, mesh, rules, np.shape(variable.get_value()))


def _place(value: Any, sharding: NamedSharding) -> jax.Array:
  if isinstance(value, jax.Array) and not value.is_fully_addressable:
    return jax.device_put(value, sharding)  # already global: a reshard
  if sharding.is_fully_addressable:
    return jax.device_put(value, sharding)
  # A process-local value (the same in every process) onto a mesh that spans processes.
  host = np.asarray(value)
  return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def state_shardings(node: Any, mesh: Mesh, rules: Sequence[tuple[str, Any]] = LOGICAL_RULES) -> nnx.State:
  """The NamedSharding of every array in ``nnx.state(node)`` (a State of shardings)."""
  return jax.tree.map(lambda v: variable_sharding(v, mesh, rules), nnx.state(node),
                      is_leaf=lambda x: isinstance(x, nnx.Variable))


def shard_module(node: Node, mesh: Mesh, rules: Sequence[tuple[str, Any]] = LOGICAL_RULES) -> Node:
  """Place every array of an NNX object by its logical names, in place; returns ``node``."""
  state = nnx.state(node)
  shardings = state_shardings(node, mesh, rules)
  placed = jax.tree.map(lambda value, sharding: _place(value, sharding), nnx.to_pure_dict(state),
                        nnx.to_pure_dict(shardings))
  nnx.replace_by_pure_dict(state, placed)
  nnx.update(node, state)
  return node


def shard_model(model: Node, mesh: Mesh, rules: Sequence[tuple[str, Any]] = LOGICAL_RULES) -> Node:
  """Place the model's parameters on ``mesh`` by their logical names (in place; returns the model)."""
  return shard_module(model, mesh, rules)


def shard_optimizer(optimizer: Node, mesh: Mesh, rules: Sequence[tuple[str, Any]] = LOGICAL_RULES) -> Node:
  """Place an ``nnx.Optimizer``'s state like the parameters it tracks (in place; returns it).

  ``nnx.Optimizer`` copies each parameter's metadata, logical names included, onto its moments, so
  they follow the same rules; the step count and other scalars are replicated. Creating the
  optimizer from an already sharded model gives mostly the same placement (``zeros_like`` keeps a
  sharding), but not for the scalars; calling this makes it explicit and complete."""
  return shard_module(optimizer, mesh, rules)


def batch_sharding(mesh: Mesh, ndim: int = 2) -> NamedSharding:
  """Rows over ("data", "fsdp"), every other dimension replicated."""
  return NamedSharding(mesh, PartitionSpec(BATCH_AXES, *([None] * (ndim - 1))))


def shard_batch(batch: Node, mesh: Mesh, *, process_local: bool = False) -> Node:
  """Put every [B, ...] array of ``batch`` (any pytree, e.g. ``Batch``) on the mesh, rows over
  ("data", "fsdp").

  With ``process_local=False`` (default) every process passes the whole global batch (identical
  everywhere, as when each process draws it from the same seed) and keeps the rows its devices hold.
  With ``process_local=True`` each process passes only its own rows, ``B / jax.process_count()`` of
  them, and the global batch is their concatenation in process order (for meshes whose devices are
  grouped by process, as ``make_mesh`` lays them out); this is
  ``jax.make_array_from_process_local_data``. With one process both are the same."""
  def put(x):
    x = np.asarray(x)
    sharding = batch_sharding(mesh, x.ndim)
    if process_local:
      return jax.make_array_from_process_local_data(sharding, x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])
  return jax.tree.map(put, batch)


def process_rows(num_rows: int) -> slice:
  """The rows of a global batch of ``num_rows`` that this process feeds with ``process_local=True``."""
  count, index = jax.process_count(), jax.process_index()
  if num_rows % count:
    raise ValueError(f"process_rows: {num_rows} rows do not split over {count} processes")
  per = num_rows // count
  return slice(index * per, (index + 1) * per)


@contextlib.contextmanager
def mesh_context(mesh: Mesh) -> Iterator[Mesh]:
  """The context a jitted step runs in: ``jax.set_mesh(mesh)``, so bare PartitionSpecs and
  sharding constraints inside it resolve against ``mesh``."""
  with jax.set_mesh(mesh):
    yield mesh
