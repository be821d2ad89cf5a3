"""``xgen reproduce``: a study end to end from its name, printing the claims table and the wall time of each
stage; two runs of the same study in two run directories give byte-identical claims tables and matrices."""

from __future__ import annotations

import sys
from pathlib import Path

from xgen import rundir

sys.path.insert(0, str(Path(__file__).parent))
from conftest import copy_run, run_cli  # noqa: E402
from test_grid_persistence import STUDY  # noqa: E402

COMPARED = ("claims.md", "claims.json", "claims.csv", "matrix.md", "matrix.csv", "matrix_by_family.md",
            "suites.json")


def test_two_runs_of_a_study_give_identical_claims_and_matrices(tiny_run, tmp_path, capsys, monkeypatch):
  (tmp_path / "studies").mkdir()
  study = STUDY.replace("AttackConfig.steps = (2, 4)", "AttackConfig.steps = (2,)")
  (tmp_path / "studies" / "tiny.gin").write_text(study)
  monkeypatch.chdir(tmp_path)  # studies/tiny.gin resolves here before the repository's gin/
  runs = []
  for name in ("first", "second"):
    workdir = copy_run(tiny_run, tmp_path / name)
    code, out, err = run_cli(capsys, "reproduce", "--study", "tiny", "--workdir", str(workdir))
    assert code == 0, err[-3000:]
    assert "| claim | statement |" in out and "| C6 |" in out and f"report: {workdir}" in out
    assert "wall time per stage (s): world build" in out and "attack training" in out and "statistics" in out
    assert "study 'tiny' finished in" in out
    runs.append(rundir.analysis_dir(workdir))
  for name in COMPARED:
    assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes(), name
  code, out, err = run_cli(capsys, "reproduce", "--study", "../tiny", "--workdir", str(tmp_path / "x"))
  assert code == 2 and "--study" in err and not (tmp_path / "x").exists()
