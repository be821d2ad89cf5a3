"""Every path of a run directory, and the names that become paths.

```
WORKDIR/
  study.json                    the launched study's settings (plain data, read by matrix/report/claims)
  study.gin                     the operative gin config of the launched study (a record; never parsed again)
  world/                        tfds/ (array_record), tokenizer.model, personas.json, config.gin, manifest.json
  base/                         a training run (see below) plus behaviour.json; tokenizer/ when imported (HF)
  cells/<cell>/                 a training run plus cell.json, samples.jsonl, history.jsonl
  attacks/<cell>/lr-<lr>/       the harmful fine-tuning of that cell at one learning rate (a training run)
  eval/<checkpoint>/<suite>.jsonl.gz   one row per item and response (xgen.rundir.evalrows)
  eval/<checkpoint>/persona/<persona>/<suite>.jsonl.gz            the same under a persona prompt
  eval/<checkpoint>/attack/lr-<lr>/<steps>/<suite>.jsonl.gz       the same after an attack budget
  analysis/                     matrices, heatmaps, suites.json, claims.{csv,json,md}, report.html (one directory)
  imports/<name>/               a user's scenarios (tfds/, manifest.json)
  judge/<ab>/<sha256>.json      one cached judge-model verdict, content-addressed (xgen.eval.judges)
  logs/<cell>.log               a cell's output under the subprocess and Ray executors
  .locks/<name>.lock            flock files (xgen.rundir.locks)
```

A training run directory holds ``checkpoints/`` (orbax), ``status.json``, ``metrics.jsonl``,
``tensorboard/`` and ``config.gin``. No other module spells these names.
"""

from __future__ import annotations

import re
from pathlib import Path

# --- names that become paths ----------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@-]*$")
MAX_NAME_LENGTH = 128


def check_name(name: object, what: str, *, limit: int = MAX_NAME_LENGTH) -> str:
  """``name`` if it is safe as one path component (letters, digits and ``. _ + @ -``, not starting
  with a dot, no separators, no ``..``, at most ``limit`` characters); otherwise ValueError naming
  ``what`` (a flag or field)."""
  if not isinstance(name, str) or not name:
    raise ValueError(f"{what}: give a non-empty name, got {excerpt(name)}")
  if len(name) > limit or not _NAME.match(name) or ".." in name:
    raise ValueError(f"{what}: {excerpt(name)} is not a safe name (use letters, digits and . _ + @ -, "
                     f"at most {limit} characters, no '/', no '..', not starting with '.')")
  return name


def shorten(text: str, limit: int) -> str:
  """``text`` cut to ``limit`` characters (saying how long it was), so an error line never echoes a huge value."""
  return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def excerpt(value: object, limit: int = 60) -> str:
  """``repr(value)``, shortened."""
  return shorten(repr(value), limit)


# --- the world ------------------------------------------------------------------------------------

WORLD = "world"


def world_dir(workdir: str | Path) -> Path:
  return Path(workdir) / WORLD


def tfds_dir(data_root: str | Path) -> Path:
  """The TFDS data directory of a world or of an import."""
  return Path(data_root) / "tfds"


def tokenizer_path(workdir: str | Path) -> Path:
  return world_dir(workdir) / TOKENIZER


TOKENIZER = "tokenizer.model"
MANIFEST = "manifest.json"
PERSONAS = "personas.json"
OPERATIVE_CONFIG = "config.gin"


def manifest_path(data_root: str | Path) -> Path:
  """The manifest of a world or of an import."""
  return Path(data_root) / MANIFEST


def personas_path(workdir: str | Path) -> Path:
  return world_dir(workdir) / PERSONAS


def imports_dir(workdir: str | Path) -> Path:
  return Path(workdir) / "imports"


def import_dir(workdir: str | Path, name: str) -> Path:
  return imports_dir(workdir) / check_name(name, "--name")


# --- training runs: the base, cells, attacks ---------------------------------------------------------

BASE = "base"          # also the checkpoint name of the pre-RL model in eval/
CELLS = "cells"
ATTACKS = "attacks"


def base_dir(workdir: str | Path) -> Path:
  return Path(workdir) / BASE


def base_tokenizer_dir(workdir: str | Path) -> Path:
  """The tokenizer files of a base imported from a Hugging Face checkpoint (``xgen base import``); when it
  exists, every stage tokenizes for the policy with it instead of the world's tokenizer."""
  return base_dir(workdir) / "tokenizer"


def cells_dir(workdir: str | Path) -> Path:
  return Path(workdir) / CELLS


def cell_dir(workdir: str | Path, cell: str) -> Path:
  return cells_dir(workdir) / check_name(cell, "cell")


def attacks_dir(workdir: str | Path) -> Path:
  return Path(workdir) / ATTACKS


def attack_dir(workdir: str | Path, cell: str) -> Path:
  return attacks_dir(workdir) / check_name(cell, "cell")


def learning_rate_name(learning_rate: float) -> str:
  """A learning rate as a path component: ``lr-0.0003``, ``lr-1e-05`` (``repr`` keeps it exact)."""
  if not isinstance(learning_rate, (int, float)) or isinstance(learning_rate, bool) or not learning_rate > 0:
    raise ValueError(f"learning rate: give a positive number, got {excerpt(learning_rate)}")
  return check_name(f"lr-{float(learning_rate)!r}", "learning rate")


def learning_rate_of(name: str) -> float:
  """The learning rate a ``learning_rate_name`` spells (ValueError for a name that spells none)."""
  return float(name.removeprefix("lr-"))


def attack_run_dir(workdir: str | Path, cell: str, learning_rate: float) -> Path:
  """The attack of ``cell`` (or ``base``) at one learning rate: a training run whose checkpoints are the
  attack's budget points."""
  return attack_dir(workdir, cell) / learning_rate_name(learning_rate)


def attack_runs(workdir: str | Path) -> list[tuple[str, float, Path]]:
  """(attacked cell or base, learning rate, run directory) of every attack run there is, sorted."""
  runs = []
  root = attacks_dir(workdir)
  for cell in sorted(root.iterdir()) if root.is_dir() else []:
    for run in sorted(cell.iterdir()) if cell.is_dir() else []:
      try:
        runs.append((cell.name, learning_rate_of(run.name), run))
      except ValueError:
        continue  # not a directory this module made
  return runs


def checkpoints_dir(run: str | Path) -> Path:
  return Path(run) / "checkpoints"


def status_path(run: str | Path) -> Path:
  return Path(run) / "status.json"


def metrics_path(run: str | Path) -> Path:
  return Path(run) / "metrics.jsonl"


def tensorboard_dir(run: str | Path) -> Path:
  return Path(run) / "tensorboard"


def run_config_path(run: str | Path) -> Path:
  """The operative gin config a run (or the world) was made with."""
  return Path(run) / OPERATIVE_CONFIG


def cell_record_path(run: str | Path) -> Path:
  """``cell.json``: what a cell is (condition, seed, every config, fingerprint)."""
  return Path(run) / "cell.json"


def samples_path(run: str | Path) -> Path:
  return Path(run) / "samples.jsonl"


def history_path(run: str | Path) -> Path:
  return Path(run) / "history.jsonl"


def behaviour_path(workdir: str | Path) -> Path:
  return base_dir(workdir) / "behaviour.json"


# --- evaluation, analysis, the study --------------------------------------------------------------

EVAL_SUFFIX = ".jsonl.gz"


def eval_dir(workdir: str | Path) -> Path:
  return Path(workdir) / "eval"


def eval_checkpoint_dir(workdir: str | Path, checkpoint: str) -> Path:
  return eval_dir(workdir) / check_name(checkpoint, "checkpoint")


def eval_file(workdir: str | Path, checkpoint: str, suite: str) -> Path:
  return eval_checkpoint_dir(workdir, checkpoint) / f"{check_name(suite, 'suite')}{EVAL_SUFFIX}"


def eval_files(checkpoint_dir: Path) -> list[Path]:
  """The eval files of one directory (a checkpoint's plain evals, or one persona's or attack point's), sorted."""
  return sorted(checkpoint_dir.glob(f"*{EVAL_SUFFIX}"))


PERSONA_EVALS, ATTACK_EVALS = "persona", "attack"


def persona_eval_dir(workdir: str | Path, checkpoint: str, persona: str) -> Path:
  """A checkpoint's evals under one persona prompt."""
  return eval_checkpoint_dir(workdir, checkpoint) / PERSONA_EVALS / check_name(persona, "persona")


def attack_eval_dir(workdir: str | Path, checkpoint: str, learning_rate: float, steps: int) -> Path:
  """A checkpoint's evals after ``steps`` steps of its attack at ``learning_rate``."""
  if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
    raise ValueError(f"attack steps: give a non-negative integer, got {excerpt(steps)}")
  return eval_checkpoint_dir(workdir, checkpoint) / ATTACK_EVALS / learning_rate_name(learning_rate) / str(steps)


def suite_eval_files(workdir: str | Path, suite: str) -> list[Path]:
  """Every eval file of ``suite`` in the run directory: each checkpoint's plain one, under each persona and after
  each attack budget."""
  name, root = f"{check_name(suite, 'suite')}{EVAL_SUFFIX}", eval_dir(workdir)
  return (sorted(root.glob(f"*/{name}")) + sorted(root.glob(f"*/{PERSONA_EVALS}/*/{name}"))
          + sorted(root.glob(f"*/{ATTACK_EVALS}/*/*/{name}")))


def variant_eval_file(workdir: str | Path, checkpoint: str, suite: str, *, persona: str | None = None,
                      attack: tuple[float, int] | None = None) -> Path:
  """The eval file of (checkpoint, suite): plain, under ``persona``, or after ``attack`` = (learning
  rate, steps); never both."""
  if persona is not None and attack is not None:
    raise ValueError("an eval file is under a persona or after an attack, not both")
  if persona is not None:
    directory = persona_eval_dir(workdir, checkpoint, persona)
  elif attack is not None:
    directory = attack_eval_dir(workdir, checkpoint, *attack)
  else:
    return eval_file(workdir, checkpoint, suite)
  return directory / f"{check_name(suite, 'suite')}{EVAL_SUFFIX}"


def persona_eval_dirs(checkpoint_dir: Path) -> dict[str, Path]:
  """persona -> its eval directory, for one checkpoint's eval directory."""
  root = checkpoint_dir / PERSONA_EVALS
  return {p.name: p for p in sorted(root.iterdir()) if p.is_dir()} if root.is_dir() else {}


def attack_eval_dirs(checkpoint_dir: Path) -> dict[tuple[float, int], Path]:
  """(learning rate, steps) -> its eval directory, for one checkpoint's eval directory."""
  root, found = checkpoint_dir / ATTACK_EVALS, {}
  for rate_dir in sorted(root.iterdir()) if root.is_dir() else []:
    for steps_dir in sorted(rate_dir.iterdir()) if rate_dir.is_dir() else []:
      try:
        found[learning_rate_of(rate_dir.name), int(steps_dir.name)] = steps_dir
      except ValueError:
        continue  # not a directory this module made
  return dict(sorted(found.items()))


def judge_cache_dir(workdir: str | Path) -> Path:
  """The judge-model verdict cache: one JSON file per verdict, sharded by the first two hex digits of its key."""
  return Path(workdir) / "judge"


def analysis_dir(workdir: str | Path) -> Path:
  return Path(workdir) / "analysis"


CLAIMS_FORMATS = ("csv", "json", "md")


def claims_path(analysis: str | Path, suffix: str) -> Path:
  """``claims.<suffix>``, the claims table, in an analysis directory (``analysis_dir`` or the staging
  folder it is built in)."""
  if suffix not in CLAIMS_FORMATS:
    raise ValueError(f"claims format must be one of {CLAIMS_FORMATS}, got {suffix!r}")
  return Path(analysis) / f"claims.{suffix}"


def study_json_path(workdir: str | Path) -> Path:
  return Path(workdir) / "study.json"


def study_gin_path(workdir: str | Path) -> Path:
  return Path(workdir) / "study.gin"


def logs_dir(workdir: str | Path) -> Path:
  return Path(workdir) / "logs"


def log_path(workdir: str | Path, cell: str) -> Path:
  return logs_dir(workdir) / f"{check_name(cell, 'cell')}.log"


LOCKS = ".locks"
LOCK_KIND_ROOM = 16  # a lock's name is a kind ("cell-", "import-", ...) and a name check_name passed


def lock_path(workdir: str | Path, name: str) -> Path:
  return Path(workdir) / LOCKS / f"{check_name(name, 'lock', limit=MAX_NAME_LENGTH + LOCK_KIND_ROOM)}.lock"


def damaged_dir(run: str | Path) -> Path:
  """Where a run's checkpoints that failed verification are moved (kept for inspection)."""
  return Path(run) / "damaged"


__all__ = [name for name in dir() if not name.startswith("_") and name not in ("re", "Path", "annotations")]
