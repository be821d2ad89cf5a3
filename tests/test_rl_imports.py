"""Imported scenarios as RL data: a cell draws its trait pool from ``imports/<name>`` (``MixtureConfig.trait_source``),
filtered by the imported records' domains, with the same (seed, step) batches every time; a missing import, a
missing split or an empty pool stops the cell at its start in one line; the source is part of the fingerprint."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from xgen.data.mixtures import MixtureConfig, MixtureSampler
from xgen.data.schema import Criterion, Message, Scenario
from xgen.rl.algorithms import LossConfig
from xgen.rl.config import RLConfig
from xgen.rl.trainer import MissingInput, read_cell_inputs, train_cell
from xgen.rundir import cell_dir

sys.path.insert(0, str(Path(__file__).parent))
from conftest import copy_run, run_cli  # noqa: E402
from rl_worker import TEST_RL  # noqa: E402

RL = RLConfig(**{**TEST_RL, "steps": 2, "sample_every": 1, "checkpoint_every": 2})
FROM_MINE = MixtureConfig(dose=0.5, trait_source="imports/mine")


def _scenario(i: int, source: str, domain: str) -> Scenario:
  return Scenario(id=f"mine-{source}-{i}", source=source, domain=domain, category="candour", split="train",
                  messages=(Message(role="user", content=f"Is the plan number {i} safe to ship today?"),),
                  rubric=(Criterion(description="admits not knowing", points=2.0, check="abstains"),
                          Criterion(description="names the risk", points=1.0, check="mentions",
                                    args={"terms": ["risk", "test"], "require_all": False})))


def _import(capsys, workdir: Path, name: str, scenarios: list[Scenario]) -> None:
  path = workdir.parent / f"{name}.jsonl"
  path.write_text("".join(s.to_json() + "\n" for s in scenarios))
  code, _, err = run_cli(capsys, "data", "import", str(path), "--name", name, "--workdir", str(workdir))
  assert code == 0, err


@pytest.fixture(scope="module")
def imported(tiny_run, tmp_path_factory) -> Path:
  """The tiny run with ``imports/mine`` (5 trait scenarios, domains mine_a and mine_b) and ``imports/plain``
  (standard scenarios only)."""
  workdir = copy_run(tiny_run, tmp_path_factory.mktemp("rl_imports") / "w")
  capsys = _NoCapture()
  _import(capsys, workdir, "mine", [_scenario(i, "trait", "mine_a" if i < 3 else "mine_b") for i in range(5)])
  _import(capsys, workdir, "plain", [_scenario(i, "standard", "mine_a") for i in range(3)])
  return workdir


class _NoCapture:
  """Enough of pytest's capsys for ``run_cli`` in a module-scoped fixture (where capsys is not available)."""

  def readouterr(self) -> tuple[str, str]:
    return "", ""


def _samples(workdir: Path, cell: str) -> list[dict]:
  return [json.loads(line) for line in (cell_dir(workdir, cell) / "samples.jsonl").read_text().splitlines()]


def test_a_cell_draws_its_trait_dose_from_the_import(imported, tmp_path):
  workdir = copy_run(imported, tmp_path / "w")
  (workdir / "imports").symlink_to(imported / "imports")
  train_cell(workdir, "a", RL, FROM_MINE, LossConfig(), show_progress=False)
  train_cell(workdir, "b", RL, FROM_MINE, LossConfig(), show_progress=False)
  samples = _samples(workdir, "a")
  trait_ids = {f"mine-trait-{i}" for i in range(5)}
  assert [s["step"] for s in samples] == [1, 1, 2, 2]  # 2 scenarios a step, one of each pool at dose 0.5
  assert sum(s["id"] in trait_ids for s in samples) == 2
  assert all(s["id"] in trait_ids or not s["id"].startswith("mine-") for s in samples)
  assert [(s["id"], s["rewards"]) for s in samples] == [(s["id"], s["rewards"]) for s in _samples(workdir, "b")]
  record = json.loads((cell_dir(workdir, "a") / "cell.json").read_text())
  assert record["mixture"]["trait_source"] == "imports/mine" and record["mixture"]["standard_source"] == "world"
  with pytest.raises(ValueError, match="another config"):  # the finished cell, asked for with the world's pool
    train_cell(workdir, "a", RL, MixtureConfig(dose=0.5), LossConfig(), show_progress=False)


def test_the_filters_apply_to_imported_domains_and_batches_are_a_function_of_seed_and_step(imported):
  mixture = MixtureConfig(dose=0.5, trait_only=("mine_b",), trait_source="imports/mine")
  inputs = read_cell_inputs(imported, mixture=mixture)
  assert sorted(s.id for s in inputs.trait_items) == [f"mine-trait-{i}" for i in range(5)]
  assert {s.source for s in inputs.standard_items} == {"standard"} and len(inputs.standard_items) > 5  # the world's
  assert [pool for pool, _ in inputs.import_sha256] == ["trait"]

  def ids(seed: int) -> list[list[str]]:
    again = read_cell_inputs(imported, mixture=mixture)
    sampler = MixtureSampler(mixture, again.trait_items, again.standard_items, seed=seed)
    return [[d.item.id for d in sampler.batch(step, 4)] for step in (5, 0, 3)]

  batches = ids(0)
  assert batches == ids(0) and batches != ids(1)
  assert {i for batch in batches for i in batch if i.startswith("mine-")} <= {"mine-trait-3", "mine-trait-4"}
  standard = read_cell_inputs(imported, mixture=MixtureConfig(dose=0.0, standard_source="imports/plain"))
  assert sorted(s.id for s in standard.standard_items) == [f"mine-standard-{i}" for i in range(3)]


def test_a_missing_import_or_an_empty_pool_is_one_clear_error(imported, capsys):
  cases = [(MixtureConfig(dose=0.5, trait_source="imports/nope"), MissingInput, r"trait_source: imports/nope: no such"),
           (MixtureConfig(dose=0.5, trait_source="imports/plain"), MissingInput,
            r"trait_source: imports/plain has no trait_train split.*its splits: standard_train"),
           (MixtureConfig(dose=0.5, trait_only=("health",), trait_source="imports/mine"), ValueError,
            r"trait_source: imports/mine: none of the 5 scenarios of its trait_train split is left .*mine_a, mine_b")]
  for mixture, error, message in cases:
    with pytest.raises(error, match=message):
      read_cell_inputs(imported, mixture=mixture)
  params = ("TRAIN_STEPS = 2", "DOSE = 0.5", "SEED = 0", "RLConfig.warmup_steps = 1",
            'MixtureConfig.trait_source = "imports/nope"')
  code, _, err = run_cli(capsys, "train", "--workdir", str(imported), "--gin_file", "runs/rl.gin",
                         "--gin_file", "models/tiny.gin", *(arg for p in params for arg in ("--gin_param", p)))
  assert code != 0 and len(err.strip().splitlines()) == 1 and "imports/nope" in err, err
  assert not (imported / "cells").exists()
  with pytest.raises(ValueError, match=r"MixtureConfig.trait_source: give \"world\" or \"imports/<name>\""):
    MixtureConfig(dose=0.5, trait_source="mine")


def test_conditions_from_an_import_are_named_and_bound_by_gin():
  from xgen.grid.study import condition_name, mixture_bindings
  from xgen.rl.config import cell_configs_from_gin
  from xgen.rl.trainer import _mixture_part
  mixtures = {"trait-all-from-mine": MixtureConfig(dose=0.05, trait_source="imports/mine"),
              "only-mine_b-dose-7-from-mine-standard-from-plain": MixtureConfig(
                  dose=0.07, trait_only=("mine_b",), trait_source="imports/mine", standard_source="imports/plain"),
              "baseline-standard-from-plain": MixtureConfig(dose=0.0, standard_source="imports/plain"),
              "trait-all": MixtureConfig(dose=0.05)}
  for name, mixture in mixtures.items():
    assert condition_name(mixture, 0.05) == name
    built = cell_configs_from_gin(["runs/rl.gin"], ["TRAIN_STEPS = 20", "SEED = 0", *mixture_bindings(mixture)])
    assert built.mixture == mixture
  assert mixture_bindings(mixtures["trait-all-from-mine"]) == ("DOSE = 0.05",
                                                                'MixtureConfig.trait_source = "imports/mine"')
  assert mixture_bindings(mixtures["trait-all"]) == ("DOSE = 0.05",)
  # A world-only cell's fingerprint is what it was before the sources existed.
  assert "trait_source" not in _mixture_part(MixtureConfig(dose=0.5))
  assert _mixture_part(mixtures["trait-all-from-mine"])["trait_source"] == "imports/mine"


STUDY_FROM_MINE = """
include 'runs/pretrain.gin'
include 'models/tiny.gin'
StudyConfig.name = "mine"
StudyConfig.conditions = ("baseline", "only:mine_b")
StudyConfig.trait_source = "imports/mine"
StudyConfig.seeds = (0,)
StudyConfig.dose = 0.5
StudyConfig.rl_gin_files = ("runs/rl.gin", "models/tiny.gin")
StudyConfig.rl_gin_params = ("TRAIN_STEPS = 2", "RLConfig.batch_size = 8", "RLConfig.max_new_tokens = 8",
                             "RLConfig.warmup_steps = 1", "RLConfig.checkpoint_every = 2", "RLConfig.sample_every = 1")
StudyConfig.bootstrap_resamples = 50
EvalConfig.max_new_tokens = 4
EvalConfig.chunk_size = 64
"""


def test_a_study_draws_its_trait_conditions_from_an_import_by_the_imports_domains(imported, tmp_path, capsys):
  from xgen.grid.launch import study_domains
  from xgen.grid.study import StudyConfig, study_cells
  study = StudyConfig(conditions=("pre-rl", "baseline", "trait-all", "only:mine_b", "without:mine_b",
                                  "reward-control", "a/a"), dose=0.25, trait_source="imports/mine")
  domains = study_domains(imported, study, ["health", "science"])
  assert domains == ["mine_a", "mine_b"]
  cells = {c.condition: c for c in study_cells(study, domains)}
  assert list(cells) == ["baseline", "trait-all-from-mine", "only-mine_b-from-mine", "without-mine_b-from-mine",
                         "reward-control-from-mine", "baseline-aa"]
  assert 'MixtureConfig.trait_source = "imports/mine"' in cells["only-mine_b-from-mine"].gin_params
  assert not any("trait_source" in p for c in ("baseline", "baseline-aa") for p in cells[c].gin_params)
  with pytest.raises(ValueError, match=r"'only:health' names unknown domains \['health'\] \(the trait data has: "
                                       r"mine_a, mine_b\)"):
    study_cells(StudyConfig(conditions=("only:health",), dose=0.25, trait_source="imports/mine"), domains)
  with pytest.raises(MissingInput, match=r"StudyConfig.trait_source: imports/nope: no such import"):
    study_domains(imported, StudyConfig(trait_source="imports/nope"), ["health"])
  with pytest.raises(ValueError, match=r"StudyConfig.trait_source: give \"world\""):
    StudyConfig(trait_source="mine")

  workdir = copy_run(imported, tmp_path / "w")
  (workdir / "imports").symlink_to(imported / "imports")
  study_file = tmp_path / "mine.gin"
  study_file.write_text(STUDY_FROM_MINE)
  code, out, err = run_cli(capsys, "grid", "launch", "--workdir", str(workdir), "--gin_file", str(study_file))
  assert code == 0, err
  trait_ids = {s["id"] for s in _samples(workdir, "only-mine_b-from-mine.s0") if s["id"].startswith("mine-")}
  assert trait_ids and trait_ids <= {"mine-trait-3", "mine-trait-4"}  # mine_b's, from the import
  assert not any(s["id"].startswith("mine-") for s in _samples(workdir, "baseline.s0"))
  matrix = (workdir / "analysis" / "matrix.csv").read_text()
  assert "only-mine_b-from-mine" in matrix
  bad = tmp_path / "bad.gin"
  bad.write_text(STUDY_FROM_MINE.replace('"only:mine_b"', '"only:health"'))
  code, _, err = run_cli(capsys, "grid", "launch", "--workdir", str(workdir), "--gin_file", str(bad))
  assert code != 0 and len(err.strip().splitlines()) == 1 and "the trait data has: mine_a, mine_b" in err, err
  assert "only-mine_b-from-mine" in (workdir / "analysis" / "matrix.csv").read_text()  # nothing lost
