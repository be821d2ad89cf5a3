"""Reads a run directory's eval files into the ``Scores`` mapping that ``transfer`` analyses.

Files: ``W/eval/<checkpoint>/<suite>.jsonl.gz`` (``xgen.rundir``), read with
``rundir.evalrows.read_eval_file``: every row is validated, a malformed one raises ValueError naming
the file and line number, and a file that cannot be decompressed or decoded raises
``rundir.DamagedFile`` naming it. Rows written before fingerprints were recorded load as well.
A checkpoint whose name contains "@" (like "trait-all.s0@100", in the directory name or in the
rows' "checkpoint") is an intermediate one: skipped unless ``include_intermediate``, and then filed
under the condition "<condition>@<step>" so it never mixes with the final checkpoint.

Kept rows: ``mode`` matches and ``persona`` is null. An item's score is the mean over its samples
(greedy rows have one). Refusal rates are the fraction of kept rows with ``refused`` true, per
(condition, suite), pooled over seeds, items and samples.

``load_modes`` reads the files once for several modes: {mode: (scores, refusals)} for the modes that
have rows, so the sampled-mean analysis can be reported beside the greedy one.

``load_variants`` reads the persistence protocols' rows of the final checkpoints, in the same nested
shape: per persona (``eval/<checkpoint>/persona/<name>/``) and per attack budget point, keyed (learning
rate, steps) (``eval/<checkpoint>/attack/lr-<lr>/<steps>/``); a row whose ``persona`` or attack fields
do not match the directory it is in raises ValueError naming it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from xgen import rundir
from xgen.rundir.evalrows import MODES, EvalRow, read_eval_file


def load_scores(workdir: str | Path, *, mode: str = "greedy",
                include_intermediate: bool = False) -> tuple[dict, dict[tuple[str, str], float]]:
  """(scores[condition][seed][suite][item_id] -> mean score, refusal rate per (condition, suite))."""
  if mode not in MODES:
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
  return _collect(workdir, (mode,), include_intermediate)[mode]


def load_modes(workdir: str | Path, *, modes: tuple[str, ...] = MODES,
               include_intermediate: bool = False) -> dict[str, tuple[dict, dict[tuple[str, str], float]]]:
  """{mode: (scores, refusal rates)} as ``load_scores`` gives them, for each of ``modes`` with rows."""
  unknown = [m for m in modes if m not in MODES]
  if unknown or not modes:
    raise ValueError(f"modes must be a non-empty tuple of {MODES}, got {modes!r}")
  loaded = _collect(workdir, tuple(dict.fromkeys(modes)), include_intermediate)
  return {mode: loaded[mode] for mode in modes if loaded[mode][0]}


def _collect(workdir: str | Path, modes: tuple[str, ...],
             include_intermediate: bool) -> dict[str, tuple[dict, dict[tuple[str, str], float]]]:
  """One pass over the eval files: {mode: (scores, refusal rates)} for every mode in ``modes``."""
  eval_dir = rundir.eval_dir(workdir)
  if not eval_dir.is_dir():
    raise FileNotFoundError(f"no eval directory at {eval_dir}")
  samples: dict[str, dict[tuple, list[float]]] = {mode: defaultdict(list) for mode in modes}
  refusals: dict[str, dict[tuple[str, str], list[bool]]] = {mode: defaultdict(list) for mode in modes}
  seen: dict[tuple, str] = {}
  for checkpoint in sorted(p for p in eval_dir.iterdir() if p.is_dir()):
    if is_intermediate(checkpoint.name) and not include_intermediate:
      continue
    for path in rundir.eval_files(checkpoint):
      for where, row in read_rows(path):
        if row.mode not in samples or row.persona is not None:
          continue
        if is_intermediate(row.checkpoint) and not include_intermediate:
          continue
        condition = condition_key(row)
        key = (condition, row.seed, row.suite, str(row.item_id))
        if (row.mode, *key, row.sample) in seen:
          raise ValueError(f"{where}: duplicate row for {key} sample {row.sample} "
                           f"(first at {seen[(row.mode, *key, row.sample)]})")
        seen[(row.mode, *key, row.sample)] = where
        samples[row.mode][key].append(float(row.score))
        refusals[row.mode][condition, row.suite].append(row.refused)
  return {mode: (nest_scores(samples[mode]),
                 {key: sum(flags) / len(flags) for key, flags in sorted(refusals[mode].items())}) for mode in modes}


def is_intermediate(checkpoint: str) -> bool:
  return "@" in checkpoint


def condition_key(row: EvalRow) -> str:
  """The row's condition, or "<condition>@<step>" for an intermediate checkpoint."""
  return f"{row.condition}@{row.step}" if is_intermediate(row.checkpoint) else row.condition


def nest_scores(samples: dict[tuple, list[float]]) -> dict:
  """{(condition, seed, suite, item_id): [scores]} -> scores[condition][seed][suite][item_id] = mean."""
  scores: dict = {}
  for (condition, seed, suite, item_id), values in sorted(samples.items()):
    scores.setdefault(condition, {}).setdefault(seed, {}).setdefault(suite, {})[item_id] = sum(values) / len(values)
  return scores


def read_rows(path: Path) -> Iterator[tuple[str, EvalRow]]:
  """("file:line", validated row) for each row of an eval file (files are written without blank lines,
  so a row's number is its line)."""
  for number, row in enumerate(read_eval_file(path), start=1):
    yield f"{path}:{number}", row


@dataclass(frozen=True)
class Variants:
  """The persistence protocols' scores: ``personas[name]`` and ``attacks[(learning rate, steps)]``, each
  scores[condition][seed][suite][item_id] as ``load_scores`` gives them."""
  personas: dict = field(default_factory=dict)
  attacks: dict = field(default_factory=dict)


def load_variants(workdir: str | Path, *, mode: str = "greedy") -> Variants:
  """Every persona and attack row of the final checkpoints (one ``mode``)."""
  eval_dir = rundir.eval_dir(workdir)
  personas: dict[str, dict[tuple, list[float]]] = defaultdict(lambda: defaultdict(list))
  attacks: dict[tuple[float, int], dict[tuple, list[float]]] = defaultdict(lambda: defaultdict(list))
  checkpoints = sorted(p for p in eval_dir.iterdir() if p.is_dir()) if eval_dir.is_dir() else []
  for checkpoint in checkpoints:
    if is_intermediate(checkpoint.name):
      continue
    sources = [(personas[name], directory, (name, None, None))
               for name, directory in rundir.persona_eval_dirs(checkpoint).items()]
    sources += [(attacks[point], directory, (None, *point))
                for point, directory in rundir.attack_eval_dirs(checkpoint).items()]
    for target, directory, expected in sources:
      for path in rundir.eval_files(directory):
        for where, row in read_rows(path):
          if (row.persona, row.attack_lr, row.attack_steps) != expected:
            raise ValueError(f"{where}: row of persona {row.persona!r}, attack ({row.attack_lr}, {row.attack_steps}) "
                             f"in the directory of {expected}")
          if row.mode == mode:
            target[(row.condition, row.seed, row.suite, str(row.item_id))].append(float(row.score))
  return Variants({name: nest_scores(rows) for name, rows in sorted(personas.items()) if rows},
                  {point: nest_scores(rows) for point, rows in sorted(attacks.items()) if rows})
