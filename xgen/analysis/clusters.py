"""Item clusters: eval items that share a fact or scenario, resampled and sign-flipped together.

A cluster mapping is ``{item_id: cluster_id}``. Items absent from it are clusters of their own.
``twin_clusters`` builds it from scenarios: an item's twins are listed in its reference as "twins"
(a list of ids) or "twin" (one id); twins of twins join the same cluster (connected components), and
a cluster's id is its smallest member id, so the mapping does not depend on the scenarios' order.
``cluster_labels`` turns a mapping into the per-column integer labels that ``bootstrap`` and
``permutation`` take.
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable, Mapping, Sequence

import numpy as np


def twin_clusters(scenarios: Iterable[Any]) -> dict[str, str]:
  """{item_id: cluster id} joining each scenario with its twins; scenarios are objects with ``id`` and
  ``reference`` attributes (``data.schema.Scenario``) or mappings with those keys."""
  parent: dict[str, str] = {}

  def root(item: str) -> str:
    parent.setdefault(item, item)
    while parent[item] != item:
      parent[item] = parent[parent[item]]
      item = parent[item]
    return item

  for scenario in scenarios:
    item_id, reference = _id_and_reference(scenario)
    root(item_id)
    for twin in twins_of(reference, item_id):
      a, b = root(item_id), root(twin)
      if a != b:
        parent[max(a, b)] = min(a, b)
  return {item: root(item) for item in sorted(parent)}


def twins_of(reference: Mapping[str, Any] | None, item_id: str = "?") -> list[str]:
  """The twin ids a scenario's reference lists under "twins" (ids) and "twin" (one id)."""
  if not reference:
    return []
  twins = reference.get("twins") or []
  if isinstance(twins, (str, int)) or not isinstance(twins, Sequence):
    raise ValueError(f"scenario {item_id}: reference 'twins' must be a list of ids, got {twins!r}")
  single = reference.get("twin")
  if single is not None and not isinstance(single, (str, int)):
    raise ValueError(f"scenario {item_id}: reference 'twin' must be one id, got {single!r}")
  return [str(t) for t in [*twins, *([single] if single is not None else [])]]


def cluster_labels(item_ids: Sequence[str], clusters: Mapping[str, Hashable] | None) -> np.ndarray | None:
  """Integer labels 0..C-1 for ``item_ids`` (order of first appearance); None without a mapping. An id
  missing from ``clusters`` forms a cluster of its own."""
  if clusters is None:
    return None
  codes: dict[tuple, int] = {}
  out = np.empty(len(item_ids), dtype=np.int64)
  for index, item in enumerate(item_ids):
    key = ("cluster", clusters[item]) if item in clusters else ("item", item)
    out[index] = codes.setdefault(key, len(codes))
  return out


def _id_and_reference(scenario: Any) -> tuple[str, Mapping[str, Any] | None]:
  if isinstance(scenario, Mapping):
    if "id" not in scenario:
      raise ValueError(f"scenario mapping has no 'id': keys {sorted(scenario)}")
    return str(scenario["id"]), scenario.get("reference")
  if not hasattr(scenario, "id"):
    raise ValueError(f"scenarios must have an 'id', got {type(scenario).__name__}")
  return str(scenario.id), getattr(scenario, "reference", None)
