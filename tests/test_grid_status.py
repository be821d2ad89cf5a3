"""``xgen grid status``: one line per cell from its status.json and cell.json; a file that cannot be
read shows the cell as failed with the reason, never a traceback."""

from __future__ import annotations

import json

from xgen import rundir
from xgen.grid.status import cell_rows, status_table


def make_cell(workdir, name: str, *, status: str | None, record: str | None):
  directory = rundir.cell_dir(workdir, name)
  directory.mkdir(parents=True)
  if status is not None:
    rundir.status_path(directory).write_text(status)
  if record is not None:
    rundir.cell_record_path(directory).write_text(record)
  return directory


def test_status_shows_damaged_cells_as_failed_with_the_reason(tmp_path):
  done = json.dumps({"state": "done", "step": 4, "steps": 4, "updated": 0})
  make_cell(tmp_path, "a.s0", status=done, record=json.dumps({"condition": "a", "seed": 0}))
  broken_status = make_cell(tmp_path, "b.s0", status='{"state": "runn', record=json.dumps({"condition": "b"}))
  broken_record = make_cell(tmp_path, "c.s0", status=done, record="garbage")
  make_cell(tmp_path, "d.s0", status=None, record=None)
  rows = {row["cell"]: row for row in cell_rows(tmp_path)}
  assert {cell: row["state"] for cell, row in rows.items()} == {"a.s0": "done", "b.s0": "failed",
                                                                "c.s0": "failed", "d.s0": "pending"}
  assert str(rundir.status_path(broken_status)) in rows["b.s0"]["reason"]
  assert str(rundir.cell_record_path(broken_record)) in rows["c.s0"]["reason"]
  table = status_table(tmp_path)
  assert "1 done, 2 failed, 1 pending" in table
  assert f"b.s0: unreadable status: {rundir.status_path(broken_status)}" in table
  assert f"c.s0: unreadable cell record: {rundir.cell_record_path(broken_record)}" in table
  assert table.splitlines()[0] == "base: pending"


def test_status_of_a_damaged_base(tmp_path):
  rundir.base_dir(tmp_path).mkdir()
  rundir.status_path(rundir.base_dir(tmp_path)).write_bytes(b"\xff\xfe")
  first = status_table(tmp_path).splitlines()[0]
  assert first.startswith("base: failed at step 0 (unreadable status:") and str(rundir.base_dir(tmp_path)) in first
