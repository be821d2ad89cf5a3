"""A study's persistence protocols, after its cells: the harmful fine-tuning attack of every arm that
``StudyConfig.persistence_conditions`` names (identical settings for each: ``AttackConfig``), then the
arms' evaluations under ``StudyConfig.personas`` and at every attack budget point.

Everything resumes as the cells do: an attack run is a training run under its lock (a relaunch after kill -9
continues it from its newest checkpoint), and the evaluations skip the files already written from the same
parameters.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Sequence

from xgen import rundir
from xgen.eval.crosseval import CheckpointRef, EvalConfig
from xgen.eval.protocols import attack_refs, evaluate_attacks, evaluate_personas, family_filter, pending_pairs
from xgen.grid.study import PRE_RL, StudyConfig, persistence_arms
from xgen.models.config import ModelConfig
from xgen.rundir import locks
from xgen.train.attack import AttackConfig, run_attack
from xgen.world.personas import Persona, read_personas


@dataclasses.dataclass(frozen=True)
class Protocols:
  """What a study's persistence protocols need, resolved before anything trains."""
  personas: tuple[Persona, ...]
  attack: AttackConfig | None
  arm_conditions: tuple[str, ...]     # the conditions whose checkpoints the protocols use

  @property
  def active(self) -> bool:
    return bool(self.personas) or self.attack is not None


def study_protocols(workdir: Path, study: StudyConfig, attack: AttackConfig, domains: Sequence[str]) -> Protocols:
  """The study's personas (from the run directory's world) and attack, checked: ValueError naming the
  ``StudyConfig`` field for a persona the world lacks or an arm the study lacks."""
  if not study.personas and not study.attack:
    return Protocols((), None, ())
  arms = tuple(c.name for c in persistence_arms(study, domains))
  known = read_personas(workdir) if study.personas else {}
  unknown = [name for name in study.personas if name not in known]
  if unknown:
    raise ValueError(f"StudyConfig.personas: {', '.join(map(repr, unknown))} is not a persona of "
                     f"{rundir.personas_path(workdir)} (its personas: {', '.join(known)})")
  return Protocols(tuple(known[name] for name in study.personas), attack if study.attack else None, arms)


def arm_refs(refs: Sequence[CheckpointRef], protocols: Protocols) -> list[CheckpointRef]:
  """The final checkpoints among ``refs`` that belong to the protocols' arms (the base for pre-rl)."""
  return [r for r in refs if r.final and (r.condition in protocols.arm_conditions
                                          or (r.cell == rundir.BASE and PRE_RL in protocols.arm_conditions))]


def run_attacks(workdir: Path, refs: Sequence[CheckpointRef], model_config: ModelConfig, attack: AttackConfig,
                say: Callable[[str], None]) -> dict[str, str]:
  """Attacks each arm in ``refs`` (skipping damaged ones), resuming unfinished attacks; returns arm -> its
  one-line problem for those that could not be attacked."""
  problems = {}
  for ref in refs:
    if ref.problem is not None:
      problems[ref.name] = ref.problem
      continue
    say(f"attacking {ref.name}: {len(attack.learning_rates)} learning rates x {max(attack.steps)} steps")
    try:
      run_attack(workdir, ref.cell, model_config, attack, show_progress=True)
    except locks.Busy:
      say(f"another launcher is attacking {ref.name}; waiting for it")
      locks.wait_for(workdir, locks.attack_lock(ref.cell))
    except (rundir.DamagedFile, ValueError) as error:
      problems[ref.name] = " ".join(str(error).split())
      say(f"not attacking {ref.name}: {problems[ref.name]}")
  return problems


def protocol_pairs(workdir: Path, refs: Sequence[CheckpointRef], protocols: Protocols) -> int:
  """How many eval files the protocols still have to write for ``refs`` (the arms)."""
  total = sum(pending_pairs(workdir, refs, persona) for persona in protocols.personas)
  if protocols.attack is not None:
    points = [p for ref in refs if ref.problem is None for p in attack_refs(ref, workdir, protocols.attack)]
    total += pending_pairs(workdir, points, families=family_filter(protocols.attack.families))
  return total


def evaluate_protocols(workdir: Path, refs: Sequence[CheckpointRef], model_config: ModelConfig, config: EvalConfig,
                       protocols: Protocols, *, progress: Callable[[int], None] | None,
                       say: Callable[[str], None]) -> dict[str, str]:
  """The arms under each persona and at each attack budget point; returns what could not be evaluated."""
  damaged: dict[str, str] = {}
  for summary in evaluate_personas(workdir, model_config, config, refs, protocols.personas, progress=progress,
                                   announce=say):
    damaged.update(summary.damaged)
  if protocols.attack is not None:
    damaged.update(evaluate_attacks(workdir, model_config, config, refs, protocols.attack, progress=progress,
                                    announce=say).damaged)
  return damaged
