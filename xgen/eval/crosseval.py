"""Cross-evaluation: every checkpoint of a run directory on every eval suite.

A suite is one eval family in one domain, named ``<family>.<domain>`` (``honesty_pressure.health``): the
world's eval suites and, on request, those of imported datasets (``xgen.eval.suites``).
A checkpoint is the pre-RL base (``base``), a cell's final parameters (``<cell>``) or, on request,
a cell's other saved steps (``<cell>@<step>``). Each (checkpoint, suite) pair becomes one eval file
(``rundir.eval_file``) of ``EvalRow``s: one row per item and response (greedy, and ``samples`` sampled
responses at ``temperature``) with the ids, the responses, the rubric score and criteria, whether the
model refused, and the checkpoint's *fingerprint* (the digest of its parameters, read once per
checkpoint). Files are written atomically. A pair is evaluated again when its file is missing, empty,
unreadable or made from another fingerprint (a cell retrained with other settings), so an interrupted
evaluation resumes where it stopped and a retrained cell is never scored from stale rows. A checkpoint
that cannot be loaded (``rundir.DamagedFile``) is reported in one line and skipped; the others are
still evaluated, and ``EvalSummary.damaged`` names it.

Items of several suites are sampled together in fixed-size chunks (``EvalConfig.chunk_size``), so
evaluating a checkpoint costs a few dozen batched sampler calls.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from pathlib import Path
from typing import Callable, Sequence

import gin
import jax

from xgen import rundir
from xgen.data.schema import Scenario
from xgen.data.tokenizer import Tokenizer
from xgen.eval.suites import eval_suites, judged_last, suite_name, unjudged
from xgen.eval.judges import judge_ahead
from xgen.graders.judge import active_judge
from xgen.graders.rubric import grade
from xgen.models.config import ModelConfig
from xgen.models.sampler import SamplingConfig
from xgen.models.transformer import Transformer, build_model
from xgen.rl.rollout import Episode, run_episodes
from xgen.rundir import locks
from xgen.rundir.evalrows import EvalRow, eval_file_fingerprint, write_eval_file
from xgen.train.checkpoints import Checkpoints, checkpoint_fingerprint, load_training_state, training_state
from xgen.world.personas import Persona, with_persona
from xgen.world.store import open_world, run_tokenizer

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
    from xgen import validation as v
    for field in ("max_new_tokens", "chunk_size", "suites_per_pass"):
      v.positive_int("EvalConfig", field, getattr(self, field))
    v.non_negative_int("EvalConfig", "samples", self.samples)
    v.number_in("EvalConfig", "temperature", self.temperature, 0.0, low_open=True)
    v.boolean("EvalConfig", "every_step", self.every_step)
    v.non_negative_int("EvalConfig", "seed", self.seed)


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
  fingerprint: str | None = None   # the digest of its parameters (recorded when it was saved)
  problem: str | None = None       # why it cannot be evaluated (a damaged checkpoint or cell record)
  attack: tuple[float, int] | None = None   # (learning rate, steps): the checkpoint after that attack budget


@dataclasses.dataclass(frozen=True)
class EvalSummary:
  """What ``cross_evaluate`` did."""

  checkpoints: tuple[CheckpointRef, ...]   # every checkpoint considered
  evaluated: int                           # (checkpoint, suite) pairs evaluated and written by this call
  damaged: dict[str, str]                  # checkpoint -> the one-line reason it was skipped
  unjudged: tuple[str, ...] = ()           # suites left out: they need a judge model and none is active

  @property
  def ok(self) -> bool:
    """True when no checkpoint had to be skipped and no suite left out."""
    return not self.damaged and not self.unjudged


def _saved_steps(directory: Path) -> list[int]:
  checkpoints = Checkpoints(rundir.checkpoints_dir(directory))
  try:
    return checkpoints.all_steps()
  finally:
    checkpoints.close()


def final_step(status: dict) -> int | None:
  """The step a finished run's status records; None if it records none."""
  step = status.get("step")
  return step if isinstance(step, int) and not isinstance(step, bool) else None


def with_fingerprint(ref: CheckpointRef) -> CheckpointRef:
  """``ref`` with its checkpoint's fingerprint, or with the problem that keeps it from being read."""
  if ref.problem is not None:
    return ref
  try:
    return dataclasses.replace(ref, fingerprint=checkpoint_fingerprint(ref.directory, ref.step))
  except rundir.DamagedFile as error:
    return dataclasses.replace(ref, problem=str(error))


def _base_refs(workdir: Path) -> list[CheckpointRef]:
  directory = rundir.base_dir(workdir)
  status = rundir.read_status(directory) or {}
  if status.get("state") != rundir.DONE:
    return []
  step = final_step(status)
  problem = None if step is not None else f"{rundir.status_path(directory)}: records no final step"
  return [CheckpointRef(rundir.BASE, rundir.BASE, PRE_RL, 0, step or 0, directory, True, problem=problem)]


def _cell_refs(entry: rundir.CellEntry, every_step: bool) -> list[CheckpointRef]:
  final = final_step(entry.status)
  problem = entry.problem
  if final is None:
    problem = problem or f"{rundir.status_path(entry.directory)}: records no final step"
  if problem is not None:
    return [CheckpointRef(entry.name, entry.name, entry.condition, entry.seed, final or 0, entry.directory, True,
                          problem=problem)]
  steps = _saved_steps(entry.directory) if every_step else [final]
  return [CheckpointRef(entry.name if step == final else f"{entry.name}@{step}", entry.name, entry.condition,
                        entry.seed, step, entry.directory, step == final) for step in steps]


def checkpoints_to_evaluate(workdir: str | Path, *, every_step: bool = False,
                            cells: Sequence[str] | None = None) -> list[CheckpointRef]:
  """The base, then each finished cell (sorted by name; only ``cells`` if given), each with its
  fingerprint or with the problem that keeps it from being evaluated."""
  workdir = Path(workdir)
  refs = _base_refs(workdir)
  for entry in rundir.list_cells(workdir):
    if entry.state == rundir.DONE and (cells is None or entry.name in cells):
      refs += _cell_refs(entry, every_step)
  return [with_fingerprint(ref) for ref in refs]


def load_checkpoint(ref: CheckpointRef, model_config: ModelConfig) -> Transformer:
  """The model with ``ref``'s parameters; ``rundir.DamagedFile`` if they cannot be restored intact."""
  model = build_model(model_config, seed=0)
  checkpoints = Checkpoints(rundir.checkpoints_dir(ref.directory))
  try:
    params = checkpoints.restore_params(ref.step, training_state(model)["params"])
  finally:
    checkpoints.close()
  load_training_state({"params": params}, model)
  return model


def describe(ref: CheckpointRef, persona: Persona | None = None) -> str:
  """``ref`` in words: ``trait-all.s0``, ``base after 8 attack steps at lr 0.001``, ``... under persona P``."""
  text = ref.name if ref.attack is None else f"{ref.name} after {ref.attack[1]} attack steps at lr {ref.attack[0]:g}"
  return text if persona is None else f"{text} under persona {persona.name}"


def variant_families(persona: Persona | None, families: Callable[[str], bool] | None) -> Callable[[str], bool] | None:
  """The families a persona (and an explicit filter) leave to evaluate; None: every family."""
  if persona is None:
    return families
  if families is None:
    return persona.evaluates
  return lambda family: persona.evaluates(family) and families(family)


def ref_eval_file(workdir: str | Path, ref: CheckpointRef, suite: str, persona: Persona | None = None) -> Path:
  """Where ``ref``'s rows on ``suite`` go: plain, under ``persona``, or after ``ref``'s attack budget."""
  return rundir.variant_eval_file(workdir, ref.name, suite, persona=persona.name if persona else None,
                                  attack=ref.attack)


def pending_suites(workdir: str | Path, ref: CheckpointRef, suites: Sequence[str],
                   persona: Persona | None = None) -> list[str]:
  """The suites whose eval file for ``ref`` (under ``persona``) is missing, empty, unreadable or made from
  other parameters."""
  if ref.fingerprint is None:
    return list(suites)
  return [s for s in suites if eval_file_fingerprint(ref_eval_file(workdir, ref, s, persona)) != ref.fingerprint]


def _passes(config: EvalConfig, stop: tuple[int, ...]) -> list[tuple[str, int, SamplingConfig]]:
  """(mode, sample index, sampling) for the greedy response and each sampled one."""
  passes = [("greedy", 0, SamplingConfig(max_new_tokens=config.max_new_tokens, temperature=0.0, stop_ids=stop))]
  for index in range(config.samples):
    passes.append(("sampled", index, SamplingConfig(max_new_tokens=config.max_new_tokens,
                                                    temperature=config.temperature, stop_ids=stop)))
  return passes


def eval_row(ref: CheckpointRef, episode: Episode, mode: str, sample: int, persona: Persona | None = None) -> EvalRow:
  """The graded row of one response of ``ref``'s model (asked under ``persona``, if given)."""
  scenario = episode.scenario
  graded = grade(scenario, episode.replies)
  attack_lr, attack_steps = ref.attack or (None, None)
  return EvalRow(checkpoint=ref.name, cell=ref.cell, condition=ref.condition, seed=ref.seed, step=ref.step,
                 suite=suite_name(scenario), family=scenario.category, domain=scenario.domain, item_id=scenario.id,
                 mode=mode, sample=sample, persona=persona.name if persona else None, responses=tuple(episode.replies),
                 score=graded.score, refused=graded.refused, criteria=tuple(graded.criteria), guard=graded.guard,
                 truncated=episode.truncated, fingerprint=ref.fingerprint, attack_lr=attack_lr,
                 attack_steps=attack_steps)


def ask_judge_ahead(episodes: Sequence[Episode]) -> None:
  """With a batching judge active (``xgen.eval.judges.CachedJudge``), asks it every judge criterion of these
  episodes in one batch, so that grading them reads each verdict from its cache."""
  judge = active_judge()
  if judge is not None and hasattr(judge, "judge_many"):
    judge_ahead(judge, [(episode.scenario, episode.replies) for episode in episodes])


def evaluate_checkpoint(workdir: str | Path, ref: CheckpointRef, model: Transformer, tokenizer: Tokenizer,
                        suites: dict[str, list[Scenario]], config: EvalConfig,
                        progress: Callable[[int], None] | None = None, persona: Persona | None = None) -> int:
  """Evaluates ``model`` on every suite of ``suites`` (the caller picks them with ``pending_suites``), each
  item asked under ``persona`` if given (``with_persona``: graded as the plain item), and writes their
  files; returns how many were written. The sampling keys do not depend on the persona, so a persona's
  rows differ from the plain ones only by what the prompt changed."""
  todo = list(suites)
  stop_ids = (tokenizer.end_id, tokenizer.eos_id)
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), ref.step)
  for start in range(0, len(todo), config.suites_per_pass):
    names = todo[start:start + config.suites_per_pass]
    items = [with_persona(scenario, persona) if persona else scenario for name in names for scenario in suites[name]]
    rows: dict[str, list[EvalRow]] = defaultdict(list)
    for mode, sample, sampling in _passes(config, stop_ids):
      pass_key = jax.random.fold_in(jax.random.fold_in(key, sample), start)
      episodes = run_episodes(model, tokenizer, items, sampling, pass_key, chunk_size=config.chunk_size)
      ask_judge_ahead(episodes)
      for episode in episodes:
        rows[suite_name(episode.scenario)].append(eval_row(ref, episode, mode, sample, persona))
    for name in names:
      write_eval_file(ref_eval_file(workdir, ref, name, persona), rows[name])
      if progress is not None:
        progress(1)
  return len(todo)


def _evaluate_ref(workdir: Path, ref: CheckpointRef, model_config: ModelConfig, tokenizer: Tokenizer,
                  suites: dict[str, list[Scenario]], config: EvalConfig, progress: Callable[[int], None] | None,
                  say: Callable[[str], None], persona: Persona | None = None) -> int:
  """One checkpoint's pending pairs, under its lock; returns how many were written. DamagedFile if its
  parameters cannot be restored."""
  try:
    with locks.held(workdir, locks.eval_lock(ref.name)):
      todo = pending_suites(workdir, ref, list(suites), persona)
      if not todo:
        return 0
      say(f"evaluating {describe(ref, persona)} on {len(todo)} suites")
      model = load_checkpoint(ref, model_config)
      return evaluate_checkpoint(workdir, ref, model, tokenizer, {name: suites[name] for name in todo}, config,
                                 progress, persona)
  except locks.Busy:  # another launcher is evaluating it; its files will be there when it lets go
    locks.wait_for(workdir, locks.eval_lock(ref.name))
    return 0


def cross_evaluate(workdir: str | Path, model_config: ModelConfig, config: EvalConfig, *,
                   cells: Sequence[str] | None = None, include_base: bool = True,
                   refs: Sequence[CheckpointRef] | None = None,
                   progress: Callable[[int], None] | None = None,
                   announce: Callable[[str], None] | None = None, persona: Persona | None = None,
                   families: Callable[[str], bool] | None = None, imports: Sequence[str] = ()) -> EvalSummary:
  """Every (checkpoint, suite) pair not yet evaluated from the checkpoint's current parameters.

  ``refs`` (from ``checkpoints_to_evaluate``, or attack points) saves listing and fingerprinting the
  checkpoints again; without it they are listed here, limited to ``cells`` and, with ``include_base``,
  the base. ``persona``: every item asked under it, on the families it evaluates; ``families``: only
  the suites of the families it accepts. ``imports``: the eval suites of these imports too
  (``xgen.eval.suites``; a SuiteError before any work for an unknown import or a clashing suite name).
  A checkpoint that cannot be read is announced in one line, skipped and named in the summary's
  ``damaged``; the summary's ``evaluated`` counts the pairs written. Suites that need a judge model are
  evaluated last, and with no judge active (``xgen.graders.judge.judging``) not at all: every other
  suite is still evaluated and written, and the summary's ``unjudged`` names them."""
  workdir = Path(workdir)
  say = announce or (lambda line: None)
  world = open_world(workdir)
  tokenizer = run_tokenizer(workdir, world)
  model_config = dataclasses.replace(model_config, vocab_size=tokenizer.vocab_size)
  suites = judged_last(eval_suites(workdir, imports, variant_families(persona, families), world=world))
  waiting = unjudged(suites)
  suites = {name: items for name, items in suites.items() if name not in waiting}
  if refs is None:
    refs = [r for r in checkpoints_to_evaluate(workdir, every_step=config.every_step, cells=cells)
            if include_base or r.cell != rundir.BASE]
  evaluated, damaged = 0, {}
  for ref in refs:
    problem = ref.problem
    if problem is None:
      try:
        evaluated += _evaluate_ref(workdir, ref, model_config, tokenizer, suites, config, progress, say, persona)
      except rundir.DamagedFile as error:
        problem = str(error)
    if problem is not None:
      damaged[describe(ref)] = problem
      say(f"skipping {describe(ref, persona)}: {problem}")
  return EvalSummary(tuple(refs), evaluated, damaged, tuple(waiting))
