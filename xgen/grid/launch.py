"""``xgen grid launch``: a whole study in one run directory, resumably.

1. the world (``W/world``) and the base (``W/base``), built once and reused when present;
2. every cell of the study not yet done (failed ones only with ``retry_failed``), on the chosen
   executor; an interrupted cell resumes from its newest checkpoint;
3. every final checkpoint (and the base, as ``pre-rl``) on every eval suite, skipping the
   (checkpoint, suite) pairs already written;
4. the analysis: ``W/analysis/matrix.*``, heatmaps and ``report.html``.

Launching again after a kill, or while another launcher works on the same directory, redoes
nothing that is finished: each stage's outputs appear only when complete, and the cell, base and
evaluation locks (``xgen.train.locks``) keep two launchers off the same work.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from xgen.eval.crosseval import EvalConfig, checkpoints_to_evaluate, cross_evaluate, eval_suites, pending_suites
from xgen.grid.executors import Outcome, run_cells
from xgen.grid.study import StudyConfig, study_cells, study_conditions
from xgen.models.config import ModelConfig
from xgen.report.study import analyse, write_analysis, write_study_report
from xgen.train import locks
from xgen.train.pretrain import pretrain
from xgen.train.sft import SFTConfig, read_status, saved_model_config
from xgen.world.build import build_world, read_manifest
from xgen.world.config import WorldConfig


@dataclasses.dataclass(frozen=True)
class StudyConfigs:
  """Everything a launch needs, built from the study's gin files up front (gin is global state, and
  the in-process executor re-binds it for each cell)."""

  study: StudyConfig
  world: WorldConfig
  model: ModelConfig
  pretrain: SFTConfig
  eval: EvalConfig
  operative_config: str


@dataclasses.dataclass(frozen=True)
class LaunchResult:
  outcomes: dict[str, str]       # cell -> state after this launch
  analysis_paths: list[Path]
  report: Path | None


def ensure_world(workdir: Path, config: WorldConfig, say: Callable[[str], None]) -> dict:
  if (workdir / "world" / "manifest.json").exists():
    return read_manifest(workdir)
  with locks.held(workdir, "world"):
    if not (workdir / "world" / "manifest.json").exists():
      say("building the world")
      build_world(config, workdir, progress=say)
  return read_manifest(workdir)


def ensure_base(workdir: Path, model: ModelConfig, config: SFTConfig, operative_config: str,
                say: Callable[[str], None]) -> None:
  if (read_status(workdir / "base") or {}).get("state") == "done":
    return
  try:
    with locks.held(workdir, "base"):
      say(f"pretraining the base model ({config.steps} steps)")
      status = pretrain(workdir, model, config, operative_config=operative_config)
  except locks.Busy:
    say("another launcher is pretraining the base; waiting for it")
    locks.wait_for(workdir, "base")
    status = read_status(workdir / "base") or {}
  if status.get("state") != "done":
    raise RuntimeError(f"the base model did not finish: {status} (see {workdir / 'base' / 'status.json'})")


def cell_states(workdir: Path, names: list[str]) -> dict[str, str]:
  return {name: (read_status(workdir / "cells" / name) or {}).get("state", "pending") for name in names}


def launch(workdir: str | Path, configs: StudyConfigs, *, executor: str = "inprocess", parallel: int = 1,
           retry_failed: bool = False, ray_address: str | None = None,
           say: Callable[[str], None] = print) -> LaunchResult:
  workdir = Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  (workdir / "study.gin").write_text(configs.operative_config)
  study = configs.study
  manifest = ensure_world(workdir, configs.world, say)
  ensure_base(workdir, configs.model, configs.pretrain, configs.operative_config, say)

  cells = study_cells(study, manifest["domains"])
  states = cell_states(workdir, [c.name for c in cells])
  retry = ("failed", "diverged") if retry_failed else ()
  todo = [c for c in cells if states[c.name] not in ("done", "failed", "diverged") or states[c.name] in retry]
  skipped = [c.name for c in cells if states[c.name] in ("failed", "diverged") and c not in todo]
  say(f"study '{study.name}': {len(cells)} cells; {sum(s == 'done' for s in states.values())} done, "
      f"{len(todo)} to train" + (f", {len(skipped)} failed earlier (use --retry_failed)" if skipped else ""))
  finished = [0]

  def on_outcome(outcome: Outcome) -> None:
    finished[0] += 1
    say(f"[{finished[0]}/{len(todo)}] {outcome.cell}: {outcome.state}"
        + (f" ({outcome.message})" if outcome.message else ""))

  run_cells(executor, workdir, todo, on_outcome, parallel=parallel, ray_address=ray_address)
  for cell in todo:  # cells another launcher was training: wait until it lets go of them
    locks.wait_for(workdir, f"cell-{cell.name}")
  states = cell_states(workdir, [c.name for c in cells])

  model_config = saved_model_config(workdir / "base") or configs.model
  done_cells = [name for name, state in states.items() if state == "done"]
  conditions = study_conditions(study, manifest["domains"])
  include_base = any(not c.trained for c in conditions)
  say(f"evaluating {len(done_cells)} cells" + (" and the base" if include_base else "") + " on every eval suite")
  suites = list(eval_suites(workdir))
  refs = [r for r in checkpoints_to_evaluate(workdir, every_step=configs.eval.every_step, cells=done_cells)
          if include_base or r.cell != "base"]
  with tqdm(total=sum(len(pending_suites(workdir, r, suites)) for r in refs), desc="eval", unit="suite",
            dynamic_ncols=True) as bar:
    cross_evaluate(workdir, model_config, configs.eval, cells=done_cells, include_base=include_base,
                   progress=bar.update)

  try:
    analysis = analyse(workdir, baseline=study.baseline, alpha=study.alpha, n_resamples=study.bootstrap_resamples,
                       seed=study.analysis_seed, condition_order=[c.name for c in conditions])
  except FileNotFoundError as error:
    say(f"no analysis: {error}")
    return LaunchResult(states, [], None)
  paths = write_analysis(workdir, analysis)
  report = write_study_report(workdir, analysis, title=f"xgen study '{study.name}'")
  (workdir / "analysis" / "launch.json").write_text(json.dumps({"cells": states}, indent=2, sort_keys=True) + "\n")
  return LaunchResult(states, paths, report)
