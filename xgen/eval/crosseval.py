"""Cross-evaluation: every checkpoint of a run directory on every eval suite.

A suite is one eval family in one domain, named ``<family>.<domain>`` (``honesty_pressure.health``).
A checkpoint is the pre-RL base (``base``), a cell's final parameters (``<cell>``) or, on request,
a cell's other saved steps (``<cell>@<step>``). Each (checkpoint, suite) pair becomes
``W/eval/<checkpoint>/<suite>.jsonl.gz``: one row per item and response (greedy, and ``samples``
sampled responses at ``temperature``) with the ids, the responses, the rubric score and criteria,
and whether the model refused. A file is written under a temporary name and renamed when complete,
and pairs whose file exists are skipped, so an interrupted evaluation resumes where it stopped.

Items of several suites are sampled together in fixed-size chunks (``EvalConfig.chunk_size``), so
evaluating a checkpoint costs a few dozen batched sampler calls.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Callable, Sequence

import gin
import jax

from xgen.data.schema import Scenario
from xgen.data.tfds_store import open_scenarios
from xgen.data.tokenizer import Tokenizer
from xgen.graders.rubric import grade
from xgen.models.config import ModelConfig
from xgen.models.sampler import SamplingConfig
from xgen.models.transformer import Transformer, build_model
from xgen.rl.rollout import run_episodes
from xgen.train import locks
from xgen.train.checkpoints import Checkpoints, load_training_state, training_state
from xgen.train.sft import read_status

EVAL_SPLIT = "eval_test"
EVAL_DIR = "eval"
PRE_RL = "pre-rl"


@gin.configurable
@dataclasses.dataclass(frozen=True, kw_only=True)
class EvalConfig:
  samples: int = 0               # sampled responses per item, beside the greedy one
  temperature: float = 1.0       # for the sampled responses
  max_new_tokens: int = 48
  chunk_size: int = 128          # rows per sampler call
  suites_per_pass: int = 8       # suites sampled together before their files are written
  every_step: bool = False       # also evaluate every saved step of each cell, not only the final one
  seed: int = 0

  def __post_init__(self):
    for field in ("max_new_tokens", "chunk_size", "suites_per_pass"):
      value = getattr(self, field)
      if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"EvalConfig.{field}: must be a positive integer, got {value!r}")
    if isinstance(self.samples, bool) or not isinstance(self.samples, int) or self.samples < 0:
      raise ValueError(f"EvalConfig.samples: must be an integer >= 0, got {self.samples!r}")
    if not self.temperature > 0:
      raise ValueError(f"EvalConfig.temperature: must be > 0, got {self.temperature!r}")


@dataclasses.dataclass(frozen=True)
class CheckpointRef:
  """One set of parameters to evaluate."""

  name: str         # "base", "<cell>" or "<cell>@<step>"
  cell: str         # "base" for the pre-RL model
  condition: str
  seed: int
  step: int
  directory: Path   # the run whose checkpoints/ hold it
  final: bool


def suite_name(scenario: Scenario) -> str:
  return f"{scenario.category}.{scenario.domain}"


def eval_suites(workdir: str | Path) -> dict[str, list[Scenario]]:
  suites: dict[str, list[Scenario]] = defaultdict(list)
  for scenario in open_scenarios(Path(workdir) / "world" / "tfds", EVAL_SPLIT):
    suites[suite_name(scenario)].append(scenario)
  return dict(sorted(suites.items()))


def _saved_steps(directory: Path) -> list[int]:
  checkpoints = Checkpoints(directory / "checkpoints")
  try:
    return checkpoints.all_steps()
  finally:
    checkpoints.close()


def checkpoints_to_evaluate(workdir: str | Path, *, every_step: bool = False,
                            cells: Sequence[str] | None = None) -> list[CheckpointRef]:
  """The base, then each finished cell (sorted by name; only ``cells`` if given)."""
  workdir = Path(workdir)
  refs = []
  base_status = read_status(workdir / "base") or {}
  if base_status.get("state") == "done":
    refs.append(CheckpointRef("base", "base", PRE_RL, 0, int(base_status["step"]), workdir / "base", True))
  cells_dir = workdir / "cells"
  names = sorted(p.name for p in cells_dir.iterdir() if p.is_dir()) if cells_dir.is_dir() else []
  for cell in names if cells is None else [c for c in names if c in cells]:
    directory = cells_dir / cell
    status = read_status(directory) or {}
    if status.get("state") != "done":
      continue
    labels = json.loads((directory / "cell.json").read_text()) if (directory / "cell.json").exists() else {}
    condition, seed = labels.get("condition", cell), int(labels.get("seed", 0))
    final = int(status["step"])
    steps = _saved_steps(directory) if every_step else [final]
    for step in steps:
      name = cell if step == final else f"{cell}@{step}"
      refs.append(CheckpointRef(name, cell, condition, seed, step, directory, step == final))
  return refs


def load_checkpoint(ref: CheckpointRef, model_config: ModelConfig) -> Transformer:
  model = build_model(model_config, seed=0)
  checkpoints = Checkpoints(ref.directory / "checkpoints")
  try:
    params = checkpoints.restore_params(ref.step, training_state(model)["params"])
  finally:
    checkpoints.close()
  load_training_state({"params": params}, model)
  return model


def pending_suites(workdir: str | Path, ref: CheckpointRef, suites: Sequence[str]) -> list[str]:
  directory = Path(workdir) / EVAL_DIR / ref.name
  return [s for s in suites if not (directory / f"{s}.jsonl.gz").exists()]


def _write_rows(path: Path, rows: list[dict]) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
  with gzip.open(temporary, "wt") as handle:
    for row in rows:
      handle.write(json.dumps(row, sort_keys=True) + "\n")
  temporary.replace(path)


def _passes(config: EvalConfig, stop: tuple[int, ...]) -> list[tuple[str, int, SamplingConfig]]:
  """(mode, sample index, sampling) for the greedy response and each sampled one."""
  passes = [("greedy", 0, SamplingConfig(max_new_tokens=config.max_new_tokens, temperature=0.0, stop_ids=stop))]
  for index in range(config.samples):
    passes.append(("sampled", index, SamplingConfig(max_new_tokens=config.max_new_tokens,
                                                    temperature=config.temperature, stop_ids=stop)))
  return passes


def evaluate_checkpoint(workdir: str | Path, ref: CheckpointRef, model: Transformer, tokenizer: Tokenizer,
                        suites: dict[str, list[Scenario]], config: EvalConfig,
                        progress: Callable[[int], None] | None = None) -> int:
  """Evaluates ``model`` on the suites not yet written for ``ref``; returns how many were written."""
  todo = pending_suites(workdir, ref, list(suites))
  stop_ids = (tokenizer.end_id, tokenizer.eos_id)
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), ref.step)
  for start in range(0, len(todo), config.suites_per_pass):
    names = todo[start:start + config.suites_per_pass]
    items = [scenario for name in names for scenario in suites[name]]
    rows: dict[str, list[dict]] = defaultdict(list)
    for mode, sample, sampling in _passes(config, stop_ids):
      pass_key = jax.random.fold_in(jax.random.fold_in(key, sample), start)
      episodes = run_episodes(model, tokenizer, items, sampling, pass_key, chunk_size=config.chunk_size)
      for episode in episodes:
        scenario = episode.scenario
        graded = grade(scenario, episode.replies)
        rows[suite_name(scenario)].append({
            "checkpoint": ref.name, "cell": ref.cell, "condition": ref.condition, "seed": ref.seed,
            "step": ref.step, "suite": suite_name(scenario), "family": scenario.category,
            "domain": scenario.domain, "item_id": scenario.id, "mode": mode, "sample": sample, "persona": None,
            "responses": list(episode.replies), "score": graded.score, "criteria": list(graded.criteria),
            "refused": graded.refused, "guard": graded.guard, "truncated": episode.truncated})
    for name in names:
      _write_rows(Path(workdir) / EVAL_DIR / ref.name / f"{name}.jsonl.gz", rows[name])
      if progress is not None:
        progress(1)
  return len(todo)


def cross_evaluate(workdir: str | Path, model_config: ModelConfig, config: EvalConfig, *,
                   cells: Sequence[str] | None = None, include_base: bool = True,
                   progress: Callable[[int], None] | None = None,
                   announce: Callable[[str], None] | None = None) -> list[CheckpointRef]:
  """Every (checkpoint, suite) pair not yet evaluated; returns the checkpoints considered."""
  workdir = Path(workdir)
  tokenizer = Tokenizer.load(workdir / "world" / "tokenizer.model")
  model_config = dataclasses.replace(model_config, vocab_size=tokenizer.vocab_size)
  suites = eval_suites(workdir)
  refs = [r for r in checkpoints_to_evaluate(workdir, every_step=config.every_step, cells=cells)
          if include_base or r.cell != "base"]
  for ref in refs:
    if not pending_suites(workdir, ref, list(suites)):
      continue
    try:
      with locks.held(workdir, f"eval-{ref.name}"):
        if announce is not None:
          announce(f"evaluating {ref.name} on {len(pending_suites(workdir, ref, list(suites)))} suites")
        evaluate_checkpoint(workdir, ref, load_checkpoint(ref, model_config), tokenizer, suites, config, progress)
    except locks.Busy:  # another launcher is evaluating it; its files will be there when it lets go
      locks.wait_for(workdir, f"eval-{ref.name}")
  return refs
