"""Seconds per RL update with the rows padded as one batch against cut into length groups, side by side.

The rows are what an RL step of the reference study updates on: ``--rows`` prompts drawn from the default
world's RL pools at the study's dose (the world is built into a temporary directory; nothing is downloaded),
each with a completion of a length drawn from the completion lengths ``--completion`` describes (uniform
between 1 and ``max_new_tokens`` by default, or a fixed length), random ids. The policy is
``gin/models/small.gin``. For each ``--groups`` value the update of ``xgen.rl.iteration.update_minibatch`` runs
``--warmup`` times (compilation) and is timed over ``--steps`` further updates on fresh rows; the padded tokens
per update are counted. The last line is machine-readable:

  bench_rl_update: rows=64 g1_s=... g4_s=... speedup_g4=... padded_g1=... padded_g4=...

  python benchmarks/bench_rl_update.py [--rows 64] [--groups 1 2 4 8] [--steps 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import types

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402


def world_prompts(workdir: str, dose: float, seed: int) -> tuple[list[tuple[int, ...]], int]:
  """The token ids of prompts drawn from the default world's RL pools at ``dose``, and the vocabulary size."""
  from xgen.data.mixtures import MixtureConfig, MixtureSampler
  from xgen.world.build import build_world
  from xgen.world.config import WorldConfig
  from xgen.world.store import TRAIT_SPLIT, STANDARD_SPLIT, open_world, run_tokenizer
  build_world(WorldConfig(), workdir, progress=lambda _: None)
  world = open_world(workdir)
  tokenizer = run_tokenizer(workdir, world)
  sampler = MixtureSampler(MixtureConfig(dose=dose), tuple(world.scenarios(TRAIT_SPLIT)),
                           tuple(world.scenarios(STANDARD_SPLIT)), seed=seed)
  draws = [d for step in range(40) for d in sampler.batch(step, 64)]
  prompts = [tuple(tokenizer.encode_chat(d.item.stage_messages(0, []), add_generation_prompt=True).ids) for d in draws]
  return prompts, tokenizer.vocab_size


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rows", type=int, default=64)
  parser.add_argument("--groups", type=int, nargs="+", default=[1, 2, 4, 8])
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--dose", type=float, default=0.25)
  parser.add_argument("--max_new_tokens", type=int, default=48)
  parser.add_argument("--completion", type=int, default=0, help="a fixed completion length (0: uniform 1..max)")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()

  from xgen.models.config import model_config_from_gin
  from xgen.models.transformer import build_model
  from xgen.rl import algorithms
  from xgen.rl.iteration import update_minibatch
  from xgen.rl.rollout import Episode
  from xgen.rl.step import episode_row_list, minibatch_groups
  from xgen.train.step import make_optimizer

  with tempfile.TemporaryDirectory() as workdir:
    prompts, vocab_size = world_prompts(workdir, args.dose, args.seed)
  config = model_config_from_gin("models/small.gin", vocab_size=vocab_size)
  loss = algorithms.LossConfig()
  rng = np.random.default_rng(args.seed)
  updates = args.warmup + args.steps
  batches = []
  for index in range(updates):
    episodes = []
    for prompt in prompts[index * args.rows:(index + 1) * args.rows]:
      length = args.completion or int(rng.integers(1, args.max_new_tokens + 1))
      completion = tuple(int(t) for t in rng.integers(4, vocab_size, size=length))
      episodes.append(Episode(None, (prompt,), (completion,), ((),), ("",), False))
    batches.append((episodes, rng.normal(size=len(episodes)).astype(np.float32)))
  print(f"{args.rows} rows per update; prompt tokens {min(map(len, prompts))}-{max(map(len, prompts))} "
        f"(median {statistics.median(map(len, prompts)):.0f}); {jax.device_count()} {jax.devices()[0].platform} device")

  seconds, padded = {}, {}
  for count in args.groups:
    model = build_model(config, args.seed)
    optimizer = make_optimizer(model, learning_rate=1e-4, weight_decay=0.0)
    state = types.SimpleNamespace(policy=model, optimizer=optimizer, run=lambda fn, *a, **k: fn(*a, **k))
    times, tokens = [], []
    for index, (episodes, advantages) in enumerate(batches):
      (groups,) = minibatch_groups(episode_row_list(episodes, advantages), 1, count, loss.aggregation)
      device = [jax.tree.map(jax.numpy.asarray, b) for b in groups.batches]
      started = time.perf_counter()
      metrics = update_minibatch(state, groups, device, loss, 1.0, False)
      jax.block_until_ready(metrics)
      jax.block_until_ready(jax.tree.leaves(jax.tree.map(lambda v: v, model)))
      if index >= args.warmup:
        times.append(time.perf_counter() - started)
        tokens.append(sum(b.tokens.size for b in groups.batches))
    seconds[count], padded[count] = statistics.median(times), statistics.mean(tokens)
    print(f"groups {count}: {seconds[count]:.3f} s per update (median of {len(times)}), "
          f"{padded[count]:.0f} padded tokens")
  first = args.groups[0]
  parts = [f"rows={args.rows}"] + [f"g{c}_s={seconds[c]:.3f}" for c in args.groups]
  parts += [f"speedup_g{c}={seconds[first] / seconds[c]:.2f}" for c in args.groups[1:]]
  parts += [f"padded_g{c}={padded[c]:.0f}" for c in args.groups]
  print("bench_rl_update: " + " ".join(parts))


if __name__ == "__main__":
  main()
