"""Transfer-matrix exports: CSV and JSON keep every number, Markdown and LaTeX mark significance, PNGs scale."""

from __future__ import annotations

import csv
import io
import json
import math
import re

import pytest
from matplotlib import image as mpimg

from xgen.analysis.transfer import MatrixCell, SuiteDelta, TransferMatrix
from xgen.report import formatting as fmt
from xgen.report.exports import matrix_csv, matrix_json, matrix_latex, matrix_markdown, write_matrix
from xgen.report.heatmap import plot_curves, plot_heatmap

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROWS = ("honesty_only", "all_traits")
COLUMNS = ("health", "law_enforcement", "finance")
# (row, column) -> (delta, ci_low, ci_high, p, q, significant); ("all_traits", "finance") is missing.
VALUES = {
    ("honesty_only", "health"): (0.042, 0.010, 0.075, 0.004, 0.012, True),
    ("honesty_only", "law_enforcement"): (-0.0123456789, -0.04, 0.016, 0.41, 0.49, False),
    ("honesty_only", "finance"): (0.0, -0.02, 0.02, 1.0, 1.0, False),
    ("all_traits", "health"): (-0.081, -0.12, -0.043, 0.0004, 0.002, True),
    ("all_traits", "law_enforcement"): (0.015, -0.01, 0.04, 0.2, 0.3, False),
}


def make_matrix(view: str = "domain", rows=ROWS, columns=COLUMNS, values=VALUES) -> TransferMatrix:
  cells = {key: MatrixCell(row=key[0], column=key[1], delta=d, ci_low=lo, ci_high=hi, p_value=p, q_value=q,
                           significant=sig, n_suites=2)
           for key, (d, lo, hi, p, q, sig) in values.items()}
  return TransferMatrix(view=view, baseline="sft_base", rows=tuple(rows), columns=tuple(columns), cells=cells,
                        alpha=0.05)


def make_deltas() -> list[SuiteDelta]:
  return [SuiteDelta(condition="honesty_only", suite="calibration.health", family="calibration", domain="health",
                     baseline_mean=0.5, condition_mean=0.542, delta=0.042, ci_low=0.01, ci_high=0.075,
                     p_value=0.004, q_value=0.012, n_items=40, n_seeds=3, significant=True)]


def grid_matrix(n_rows: int, n_columns: int) -> TransferMatrix:
  rows, columns = [f"cond_{i}" for i in range(n_rows)], [f"dom_{j}" for j in range(n_columns)]
  values = {(r, c): (0.01 * (i - j), -0.05, 0.05, 0.5, 0.5, False)
            for i, r in enumerate(rows) for j, c in enumerate(columns)}
  return make_matrix(rows=rows, columns=columns, values=values)


def test_points_formatting():
  assert fmt.points(0.042) == "+4.2"
  assert fmt.points(-0.0004) == "+0.0"
  assert fmt.points(-0.081) == "-8.1"
  assert fmt.points(0.5, signed=False) == "50.0"
  assert fmt.points(None) == fmt.points(math.nan) == "n/a"
  assert fmt.interval(0.010, 0.075) == "[+1.0, +7.5]"
  assert fmt.interval(None, 0.1) == ""
  matrix = make_matrix()
  assert fmt.delta_text(matrix.cell("honesty_only", "health")) == "+4.2 [+1.0, +7.5]*"
  assert fmt.delta_text(matrix.cell("all_traits", "law_enforcement")) == "+1.5 [-1.0, +4.0]"
  assert fmt.delta_text(matrix.cell("all_traits", "finance")) == "n/a"
  assert fmt.p_text(0.0004) == "4.0e-04" and fmt.p_text(0.41) == "0.410"


def test_csv_parses_back_to_the_same_numbers():
  matrix = make_matrix()
  rows = list(csv.DictReader(io.StringIO(matrix_csv(matrix))))
  assert [(r["row"], r["column"]) for r in rows] == [k for k in
                                                     [(r, c) for r in ROWS for c in COLUMNS] if k in VALUES]
  for r in rows:
    cell = matrix.cell(r["row"], r["column"])
    assert (r["view"], r["baseline"], float(r["alpha"])) == ("domain", "sft_base", 0.05)
    for field in ("delta", "ci_low", "ci_high", "p_value", "q_value"):
      assert float(r[field]) == getattr(cell, field), field
    assert r["significant"] == str(cell.significant)
    assert int(r["n_suites"]) == cell.n_suites


def test_json_round_trips():
  matrix, deltas = make_matrix(), make_deltas()
  record = json.loads(matrix_json(matrix, deltas))
  assert (record["view"], record["baseline"], record["alpha"]) == ("domain", "sft_base", 0.05)
  assert (tuple(record["rows"]), tuple(record["columns"])) == (ROWS, COLUMNS)
  cells = {(c["row"], c["column"]): MatrixCell(**c) for c in record["cells"]}
  assert cells == matrix.cells
  assert record["missing"] == [["all_traits", "finance"]]
  assert [SuiteDelta(**d) for d in record["suites"]] == deltas
  assert "suites" not in json.loads(matrix_json(matrix))


def test_json_writes_non_finite_numbers_as_null():
  values = dict(VALUES)
  values["honesty_only", "health"] = (0.042, math.nan, math.nan, math.nan, math.nan, False)
  record = json.loads(matrix_json(make_matrix(values=values)))
  first = record["cells"][0]
  assert first["delta"] == 0.042 and first["ci_low"] is None and first["p_value"] is None


def _markdown_cells(text: str) -> dict[tuple[str, str], str]:
  lines = [line for line in text.splitlines() if line.startswith("|")]
  header = [c.strip() for c in lines[0].strip("|").split("|")]
  cells = {}
  for line in lines[2:]:
    parts = [c.strip() for c in line.strip("|").split("|")]
    cells.update({(parts[0], column): value for column, value in zip(header[1:], parts[1:])})
  return cells


def test_markdown_marks_significant_cells_only():
  matrix = make_matrix()
  text = matrix_markdown(matrix)
  cells = _markdown_cells(text)
  assert set(cells) == {(r, c) for r in ROWS for c in COLUMNS}
  assert cells["honesty_only", "health"] == "+4.2 [+1.0, +7.5]*"
  assert cells["all_traits", "health"] == "-8.1 [-12.0, -4.3]*"
  assert cells["all_traits", "finance"] == "n/a"
  for key, value in cells.items():
    significant = key in VALUES and VALUES[key][5]
    assert value.endswith("*") == significant, key
  legend = [line for line in text.splitlines() if line and not line.startswith("|")]
  assert len(legend) == 1 and "sft_base" in legend[0] and "*" in legend[0]


def test_latex_escapes_underscores_and_bolds_significant_cells():
  text = matrix_latex(make_matrix())
  body = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
  assert re.search(r"(?<!\\)_", body) is None
  assert r"honesty\_only" in body and r"law\_enforcement" in body
  assert r"\begin{tabular}{lccc}" in body and r"\end{tabular}" in body
  assert r"\textbf{+4.2 [+1.0, +7.5]}" in body
  assert r"\textbf{$-$8.1 [$-$12.0, $-$4.3]}" in body
  assert body.count(r"\textbf") == sum(v[5] for v in VALUES.values())
  assert "n/a" in body


def _assert_png(path) -> tuple[int, int]:
  assert path.read_bytes()[:8] == PNG_SIGNATURE
  height, width = mpimg.imread(path).shape[:2]
  assert 300 < width < 6000 and 200 < height < 6000
  return height, width


@pytest.mark.parametrize("view, suffix", [("domain", ""), ("family", "_by_family")])
def test_write_matrix_writes_every_format_atomically(tmp_path, view, suffix):
  paths = write_matrix(make_matrix(view), tmp_path / "out", ["csv", "json", "md", "tex", "png"],
                       deltas=make_deltas())
  assert [p.name for p in paths] == [f"matrix{suffix}.{e}" for e in ("csv", "json", "md", "tex")] + [
      f"heatmap{suffix}.png"]
  assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)  # no temp files
  assert json.loads(paths[1].read_text())["suites"][0]["suite"] == "calibration.health"
  _assert_png(paths[-1])


def test_write_matrix_rejects_an_unknown_format(tmp_path):
  with pytest.raises(ValueError, match="pdf"):
    write_matrix(make_matrix(), tmp_path, ["csv", "pdf"])
  assert not list(tmp_path.iterdir())


def test_heatmap_size_scales_with_the_matrix(tmp_path):
  small = _assert_png(plot_heatmap(grid_matrix(2, 2), tmp_path / "small.png"))
  large = _assert_png(plot_heatmap(grid_matrix(6, 9), tmp_path / "large.png"))
  assert large[0] > small[0] and large[1] > small[1]
  _assert_png(plot_heatmap(make_matrix(rows=(), columns=(), values={}), tmp_path / "empty.png"))


def test_plot_curves(tmp_path):
  curves = {"honesty_only": [(20, 0.4), (0, 0.1), (10, 0.3)], "all$traits": [(0, 0.2), (20, math.nan)]}
  _assert_png(plot_curves(curves, tmp_path / "c.png", title="reward", ylabel="mean reward"))
  _assert_png(plot_curves({}, tmp_path / "none.png", title="reward", ylabel="mean reward"))
