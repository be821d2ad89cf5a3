"""Named random streams: each part of the world draws from its own stream of the world seed,
so adding or resizing one part never changes what another part generates."""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, *names: str | int) -> np.random.Generator:
  """A generator determined by the seed and the names only (stable across processes and runs)."""
  keys = [int(seed)] + [zlib.crc32(str(name).encode("utf-8")) for name in names]
  return np.random.default_rng(keys)


def pick(rng: np.random.Generator, items):
  """One element of a non-empty sequence."""
  return items[int(rng.integers(len(items)))]
