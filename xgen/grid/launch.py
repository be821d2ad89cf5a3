"""``xgen grid launch``: a whole study in one run directory, resumably.

1. the world (``W/world``) and the base (``W/base``), built once and reused when present;
2. every cell of the study not yet done (failed ones only with ``retry_failed``), on the chosen
   executor; an interrupted cell resumes from its newest checkpoint;
3. every final checkpoint (and the base, as ``pre-rl``) on every eval suite (the world's, and those of
   the imports ``StudyConfig.extra_suites`` names, checked before any training), skipping the
   (checkpoint, suite) pairs already written from the same parameters; a damaged checkpoint is
   reported and skipped (``LaunchResult.damaged``); with ``parallel`` > 1 on a subprocess or Ray executor,
   spread over that many worker processes (``xgen.grid.eval_pool``);
4. the persistence protocols the study asks for (``xgen.grid.persistence``): the attack of each arm,
   then the arms under each persona and at each attack budget point, resumed like the rest;
5. the analysis: the whole of ``W/analysis/`` (matrices, heatmaps, ``report.html``, ``launch.json``),
   swapped in at once.

Launching again after a kill, or while another launcher works on the same directory, redoes
nothing that is finished: each stage's outputs appear only when complete, and the cell, base and
evaluation locks (``xgen.train.locks``) keep two launchers off the same work.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Callable, Iterator

from tqdm import tqdm

from xgen import rundir
from xgen.eval.crosseval import (CheckpointRef, EvalConfig, EvalSummary, checkpoints_to_evaluate, cross_evaluate,
                                  describe, eval_suites, pending_suites)
from xgen.eval.suites import check_imports, unjudged
from xgen.graders.judge import active_judge
from xgen.grid import eval_pool
from xgen.grid.executors import Outcome, run_cells
from xgen.grid.persistence import (Protocols, arm_refs, evaluate_protocols, protocol_pairs, run_attacks,
                                   study_protocols)
from xgen.grid.study import StudyConfig, study_cells, study_conditions, study_record
from xgen.models.config import ModelConfig
from xgen.report.study import StudyAnalysis, analyse, publish_analysis
from xgen.rundir import locks
from xgen.train.attack import AttackConfig
from xgen.train.pretrain import pretrain
from xgen.train.config import SFTConfig
from xgen.train.sft import saved_model_config
from xgen.world.build import build_world
from xgen.world.config import WorldConfig
from xgen.world.store import NoWorld, open_world


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
  attack: AttackConfig = dataclasses.field(default_factory=AttackConfig)


@dataclasses.dataclass(frozen=True)
class LaunchResult:
  outcomes: dict[str, str]       # cell -> state after this launch
  analysis_paths: list[Path]
  report: Path | None
  damaged: dict[str, str] = dataclasses.field(default_factory=dict)  # checkpoint -> why it was not evaluated
  seconds: dict[str, float] = dataclasses.field(default_factory=dict)  # stage -> wall time in this launch


class StageClock:
  """Wall time per stage of a launch (``with clock("RL cells"): ...``), in seconds, in the order run."""

  def __init__(self):
    self.seconds: dict[str, float] = {}

  @contextlib.contextmanager
  def __call__(self, stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
      yield
    finally:
      self.seconds[stage] = round(self.seconds.get(stage, 0.0) + time.perf_counter() - started, 1)


def ensure_world(workdir: Path, config: WorldConfig, say: Callable[[str], None]) -> dict:
  """The run directory's world (verified), built first if there is none."""
  try:
    return open_world(workdir).manifest
  except NoWorld:
    pass
  try:
    say("building the world")
    build_world(config, workdir, progress=say)
  except locks.Busy:
    say("another launcher is building the world; waiting for it")
    locks.wait_for(workdir, locks.WORLD_LOCK)
  return open_world(workdir).manifest


def ensure_base(workdir: Path, model: ModelConfig, config: SFTConfig, operative_config: str,
                say: Callable[[str], None]) -> None:
  base = rundir.base_dir(workdir)
  if rundir.is_done(base):
    return
  try:
    say(f"pretraining the base model ({config.steps} steps)")
    status = pretrain(workdir, model, config, operative_config=operative_config)
  except locks.Busy:
    say("another launcher is pretraining the base; waiting for it")
    locks.wait_for(workdir, locks.BASE_LOCK)
    status = rundir.read_status(base) or {}
  if status.get("state") != rundir.DONE:
    raise RuntimeError(f"the base model did not finish: {status} (see {rundir.status_path(base)})")


def _world_domains(workdir: Path, world: WorldConfig) -> list[str]:
  """The built world's domains, else those of the world to build."""
  try:
    return open_world(workdir, verify=False).domains
  except NoWorld:
    return list(world.domains)


def imported_domains(workdir: str | Path, study: StudyConfig) -> list[str] | None:
  """When ``StudyConfig.trait_source`` names an import, the sorted domains of its trait_train split (MissingInput
  naming the field if it is not there); None when the trait data is the world's."""
  from xgen.data.mixtures import source_import
  from xgen.rl.trainer import read_import_pool
  name = source_import("trait_source", study.trait_source, "StudyConfig")
  if name is None:
    return None
  items, _ = read_import_pool(workdir, name, "trait", field="StudyConfig.trait_source")
  return sorted({item.domain for item in items})


def study_domains(workdir: str | Path, study: StudyConfig, world_domains: list[str]) -> list[str]:
  """The domains the study's conditions expand against: its trait data's (``imported_domains``), else the
  world's."""
  imported = imported_domains(workdir, study)
  return world_domains if imported is None else imported


def check_cells(cells) -> None:
  """Parses and validates every cell's full config (its RL gin files and bindings) before anything is
  built or trained; ValueError naming the cell and the binding otherwise."""
  from xgen.rl.config import cell_configs_from_gin
  for cell in cells:
    try:
      cell_configs_from_gin(cell.gin_files, cell.gin_params)
    except ValueError as error:  # ConfigError is a ValueError
      raise ValueError(f"cell {cell.name}: {' '.join(str(error).split())}") from None


def launch(workdir: str | Path, configs: StudyConfigs, *, executor: str = "inprocess", parallel: int = 1,
           retry_failed: bool = False, ray_address: str | None = None,
           say: Callable[[str], None] = print) -> LaunchResult:
  workdir = Path(workdir)
  imported = imported_domains(workdir, configs.study)  # read once: the import does not change during a launch
  domains = imported if imported is not None else _world_domains(workdir, configs.world)
  check_cells(study_cells(configs.study, domains))  # before any work: a typo fails now
  imports = check_imports(workdir, configs.study.extra_suites, "StudyConfig.extra_suites")  # exist, with eval records
  workdir.mkdir(parents=True, exist_ok=True)
  rundir.atomic_write_json(rundir.study_json_path(workdir), study_record(configs.study))  # what matrix/report read
  rundir.atomic_write_text(rundir.study_gin_path(workdir), configs.operative_config)  # a record, never parsed again
  study, clock = configs.study, StageClock()
  with clock("world build"):
    manifest = ensure_world(workdir, configs.world, say)
  domains = imported if imported is not None else manifest["domains"]
  protocols = study_protocols(workdir, study, configs.attack, domains)  # a bad persona fails now
  check_extra_suites(workdir, imports)
  with clock("pretraining"):
    ensure_base(workdir, configs.model, configs.pretrain, configs.operative_config, say)

  cells = study_cells(study, domains)
  states = rundir.cell_states(workdir, [c.name for c in cells])
  retry = rundir.STOPPED if retry_failed else ()
  todo = [c for c in cells if states[c.name] not in (rundir.DONE, *rundir.STOPPED) or states[c.name] in retry]
  skipped = [c.name for c in cells if states[c.name] in rundir.STOPPED and c not in todo]
  say(f"study '{study.name}': {len(cells)} cells; {sum(s == rundir.DONE for s in states.values())} done, "
      f"{len(todo)} to train" + (f", {len(skipped)} failed earlier (use --retry_failed)" if skipped else ""))
  finished = [0]

  def on_outcome(outcome: Outcome) -> None:
    finished[0] += 1
    say(f"[{finished[0]}/{len(todo)}] {outcome.cell}: {outcome.state}"
        + (f" ({outcome.message})" if outcome.message else ""))

  with clock("RL cells"):
    run_cells(executor, workdir, todo, on_outcome, parallel=parallel, ray_address=ray_address)
    for cell in todo:  # cells another launcher was training: wait until it lets go of them
      locks.wait_for(workdir, locks.cell_lock(cell.name))
  states = rundir.cell_states(workdir, [c.name for c in cells])

  model_config = saved_model_config(rundir.base_dir(workdir)) or configs.model
  done_cells = [name for name, state in states.items() if state == rundir.DONE]
  conditions = study_conditions(study, domains)
  include_base = any(not c.trained for c in conditions)
  say(f"evaluating {len(done_cells)} cells" + (" and the base" if include_base else "") + " on every eval suite")
  summary = evaluate_study(workdir, model_config, configs.eval, done_cells, include_base, protocols, say, clock,
                           imports=imports, workers=parallel if executor != "inprocess" else 1)

  try:
    with clock("statistics"):
      analysis = analyse(workdir, baseline=study.baseline, alpha=study.alpha, n_resamples=study.bootstrap_resamples,
                         seed=study.analysis_seed, condition_order=[c.name for c in conditions])
  except FileNotFoundError as error:
    say(f"no analysis: {error}")
    return LaunchResult(states, [], None, summary.damaged, clock.seconds)
  with clock("report"):
    paths = publish_when_free(workdir, analysis, title=f"xgen study '{study.name}'",
                              launch={"cells": states, "seconds": clock.seconds}, say=say)
  return LaunchResult(states, paths, paths[-1], summary.damaged, clock.seconds)


def check_extra_suites(workdir: Path, imports: tuple[str, ...]) -> None:
  """Before any training: the imports' suites do not clash with the world's or each other's, and none needs a
  judge model unless one is active around the launch; ValueError (one line) otherwise."""
  waiting = unjudged(eval_suites(workdir, imports)) if imports else []
  if waiting:
    raise ValueError(f"StudyConfig.extra_suites: {', '.join(waiting)} {'needs' if len(waiting) == 1 else 'need'} a "
                     "judge model for its 'judge' criteria, and none is configured")


def evaluate_study(workdir: Path, model_config: ModelConfig, config: EvalConfig, cells: list[str],
                   include_base: bool, protocols: Protocols, say: Callable[[str], None],
                   clock: StageClock | None = None, *, imports: tuple[str, ...] = (), workers: int = 1) -> EvalSummary:
  """The pending (checkpoint, suite) pairs of ``cells`` (and the base) on the world's suites and those of
  ``imports``, then the persistence protocols on the arms among them (attacks first; world suites only),
  with one progress bar; each checkpoint is listed and fingerprinted once. ``clock`` times the attacks,
  the plain evaluation and the protocols' evaluation apart. ``workers`` > 1 spreads both over that many
  processes (``xgen.grid.eval_pool``; not with imported suites or a judge model, which stay in process)."""
  clock = clock or StageClock()
  everything = eval_suites(workdir, imports)
  waiting = unjudged(everything)  # none after check_extra_suites, unless the judge went away since
  suites = [name for name in everything if name not in waiting]
  refs = [r for r in checkpoints_to_evaluate(workdir, every_step=config.every_step, cells=cells)
          if include_base or r.cell != rundir.BASE]
  arms = arm_refs(refs, protocols)
  with clock("attack training"):
    damaged = run_attacks(workdir, arms, model_config, protocols.attack, say) if protocols.attack else {}
  total = sum(len(pending_suites(workdir, r, suites)) for r in refs if r.problem is None)
  total += protocol_pairs(workdir, arms, protocols)
  with tqdm(total=total, desc="eval", unit="suite", dynamic_ncols=True) as bar:
    if workers > 1 and not imports and active_judge() is None:
      return _evaluate_in_workers(workdir, model_config, config, refs, arms, protocols, workers, bar.update, say,
                                  clock, damaged)
    with clock("evaluation"):
      summary = cross_evaluate(workdir, model_config, config, refs=refs, progress=bar.update, announce=say,
                               imports=imports)
    with clock("protocol evaluation"):
      damaged.update(evaluate_protocols(workdir, arms, model_config, config, protocols, progress=bar.update,
                                        say=say))
  return dataclasses.replace(summary, damaged={**summary.damaged, **damaged})


def _evaluate_in_workers(workdir: Path, model_config: ModelConfig, config: EvalConfig, refs: list[CheckpointRef],
                         arms: list[CheckpointRef], protocols: Protocols, workers: int,
                         progress: Callable[[int], None], say: Callable[[str], None], clock: StageClock,
                         damaged: dict[str, str]) -> EvalSummary:
  """``evaluate_study``'s evaluation and protocols, one checkpoint (or arm) per unit of ``eval_pool``."""
  for ref in refs:
    if ref.problem is not None:
      damaged[describe(ref)] = ref.problem
      say(f"skipping {describe(ref)}: {ref.problem}")
  with clock("evaluation"):
    written, plain_damaged = eval_pool.evaluate_units(workdir, model_config, config, protocols, eval_pool.PLAIN, refs,
                                                      workers, progress, say)
  damaged.update(plain_damaged)
  if protocols.active:
    with clock("protocol evaluation"):
      damaged.update(eval_pool.evaluate_units(workdir, model_config, config, protocols, eval_pool.PROTOCOLS, arms,
                                              workers, progress, say)[1])
  return EvalSummary(tuple(refs), written, damaged)


def publish_when_free(workdir: Path, analysis: StudyAnalysis, *, title: str, launch: dict,
                      say: Callable[[str], None]) -> list[Path]:
  """``publish_analysis``, first waiting for another launcher that is writing the analysis."""
  while True:
    try:
      return publish_analysis(workdir, analysis, title=title, launch=launch)
    except locks.Busy:
      say("another launcher is writing the analysis; waiting for it")
      locks.wait_for(workdir, locks.ANALYSIS_LOCK)
