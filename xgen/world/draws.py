"""Draws that remember the stream they come from: no repeats, and variants taken in turn.

A suite or trait generator is called many times with one random stream. ``distinct`` makes a
generator draw again when it would repeat a conversation the stream already gave, so a suite's
prompts never repeat; ``turn`` counts the calls per key, so the variants of a twin set come
round in a fixed rotation. Both depend on the stream and the order of calls only, so a
world stays a function of its seed.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

import numpy as np

# id(stream) -> (the stream, key -> what was drawn); the stream is held so that its id stays its own. Only the
# latest streams are remembered: a world uses each of its streams in one stretch, and far fewer than this many.
_MEMORY: dict[int, tuple[np.random.Generator, dict[Hashable, Any]]] = {}
MAX_STREAMS = 4096


def _memory(rng: np.random.Generator) -> dict[Hashable, Any]:
  entry = _MEMORY.get(id(rng))
  if entry is None or entry[0] is not rng:
    while len(_MEMORY) >= MAX_STREAMS:
      del _MEMORY[next(iter(_MEMORY))]
    entry = _MEMORY[id(rng)] = (rng, {})
  return entry[1]


def distinct(make: Callable[..., Any], attempts: int = 200) -> Callable[..., Any]:
  """``make(rng, ...)`` drawn again while its conversation repeats one this stream already gave."""

  def make_distinct(rng: np.random.Generator, *args: Any) -> Any:
    seen = _memory(rng).setdefault(("distinct", make.__name__), set())
    for _ in range(attempts):
      made = make(rng, *args)
      texts = [conversation_text(item) for item in (made if isinstance(made, tuple) else (made,))]
      if seen.isdisjoint(texts):
        break
    seen.update(texts)
    return made

  make_distinct.__name__ = make.__name__
  make_distinct.__doc__ = make.__doc__
  return make_distinct


def conversation_text(item) -> str:
  """Everything an item shows the model, over all its stages."""
  stages = [item.messages, *[f.messages for f in item.followups]]
  return "\n".join(f"{m.role}: {m.content}" for stage in stages for m in stage)


def turn(rng: np.random.Generator, key: Hashable, count: int) -> int:
  """0, 1, ..., count - 1, 0, ...: the number of earlier turns of ``key`` on this stream, modulo ``count``."""
  calls = _memory(rng).setdefault(("turn", key), [0])
  calls[0] += 1
  return (calls[0] - 1) % count
