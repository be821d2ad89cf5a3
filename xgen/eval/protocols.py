"""The persistence protocols' evaluations: checkpoints under persona prompts, and after each attack budget.

Both write ordinary eval rows (``xgen.rundir.evalrows``) beside a checkpoint's plain ones, through
``cross_evaluate``, so they resume, skip and redo exactly as the plain evaluation does:

  * a persona's rows (``persona`` set) go to ``eval/<checkpoint>/persona/<name>/``, for the suites of the
    families the persona evaluates (its targets and capability);
  * an attack budget's rows (``attack_lr``, ``attack_steps`` set) go to
    ``eval/<checkpoint>/attack/lr-<lr>/<steps>/``, made from the attacked parameters (their fingerprint),
    for the families ``AttackConfig.families`` names (every family when it names none). ``checkpoint``,
    ``cell``, ``condition`` and ``seed`` stay those of the arm that was attacked, so the analysis pairs an
    attacked arm with itself before the attack.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Sequence

from xgen.eval.crosseval import (CheckpointRef, EvalConfig, EvalSummary, cross_evaluate, eval_suites,
                                 pending_suites, variant_families)
from xgen.models.config import ModelConfig
from xgen.train.attack import AttackConfig, attack_points
from xgen.world.personas import Persona


def attack_refs(arm: CheckpointRef, workdir: str | Path, config: AttackConfig) -> list[CheckpointRef]:
  """The attack budget points of ``arm`` (a final checkpoint of the base or a cell) whose attack run has
  finished, as checkpoints to evaluate: the arm's names, the attacked run's parameters."""
  return [dataclasses.replace(arm, step=point.steps, directory=point.directory, final=False,
                              fingerprint=point.fingerprint, problem=point.problem,
                              attack=(point.learning_rate, point.steps))
          for point in attack_points(workdir, arm.cell, config)]


def family_filter(families: Sequence[str]) -> Callable[[str], bool] | None:
  """Accepts the named families (None, every family, when none is named)."""
  return (lambda family: family in families) if families else None


def pending_pairs(workdir: str | Path, refs: Sequence[CheckpointRef], persona: Persona | None = None,
                  families: Callable[[str], bool] | None = None) -> int:
  """How many (checkpoint, suite) files of ``refs`` (under ``persona``) are still to be written."""
  accepts = variant_families(persona, families)
  suites = [s for s in eval_suites(workdir) if accepts is None or accepts(s.split(".")[0])]
  return sum(len(pending_suites(workdir, ref, suites, persona)) for ref in refs if ref.problem is None)


def evaluate_personas(workdir: str | Path, model_config: ModelConfig, config: EvalConfig, refs: Sequence[CheckpointRef],
                      personas: Sequence[Persona], *, progress: Callable[[int], None] | None = None,
                      announce: Callable[[str], None] | None = None) -> list[EvalSummary]:
  """``refs`` under each persona, on the families it evaluates."""
  return [cross_evaluate(workdir, model_config, config, refs=refs, persona=persona, progress=progress,
                         announce=announce) for persona in personas]


def evaluate_attacks(workdir: str | Path, model_config: ModelConfig, config: EvalConfig,
                     refs: Sequence[CheckpointRef], attack: AttackConfig, *,
                     progress: Callable[[int], None] | None = None,
                     announce: Callable[[str], None] | None = None) -> EvalSummary:
  """Every finished attack budget point of ``refs``' arms, on ``attack.families``."""
  points = [point for ref in refs if ref.problem is None for point in attack_refs(ref, workdir, attack)]
  return cross_evaluate(workdir, model_config, config, refs=points, families=family_filter(attack.families),
                        progress=progress, announce=announce)

