"""A TransferMatrix as files: CSV and JSON for machines, Markdown and LaTeX tables for people, a heatmap.

Machine-readable exports (CSV, JSON) keep every number as computed: deltas and interval ends are fractions
of a score in [0, 1], written at full precision, and the CSV holds one line per present cell in row-major
order (rows, then columns, as the matrix orders them; absent cells are left out, the JSON lists them under
"missing"). Human-readable exports (Markdown, LaTeX) show points (x100) with one decimal, e.g.
"+4.2 [+1.0, +7.5]*", where Markdown marks a cell significant after Benjamini-Hochberg with "*" and LaTeX
sets it in bold.

``write_matrix`` writes the requested formats into a folder, atomically, as ``matrix.{csv,json,md,tex}`` and
``heatmap.png`` for the "domain" view and with the suffix ``_by_<view>`` (``matrix_by_family.csv``,
``heatmap_by_family.png``) for any other view.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from xgen.report import formatting as fmt
from xgen.report.heatmap import heatmap_png
from xgen.rundir import atomic_write_bytes, atomic_write_text

if TYPE_CHECKING:
  from xgen.analysis.transfer import MatrixCell, SuiteDelta, TransferMatrix

JSON_SCHEMA = "xgen.report.transfer_matrix/1"
FORMATS = ("csv", "json", "md", "tex", "png")
_ALIASES = {"markdown": "md", "latex": "tex", "heatmap": "png"}
CSV_FIELDS = ("view", "baseline", "alpha", "row", "column", "delta", "ci_low", "ci_high", "p_value", "q_value",
              "significant", "n_suites")
# Markdown characters that would break a table or start formatting when found in a name.
_MARKDOWN_SPECIAL = "\\`*|<"
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def present_cells(matrix: TransferMatrix) -> list[MatrixCell]:
  """The matrix's cells in row-major order (its row and column order), absent cells skipped."""
  return [c for r in matrix.rows for k in matrix.columns if (c := matrix.cell(r, k)) is not None]


def missing_cells(matrix: TransferMatrix) -> list[tuple[str, str]]:
  """The (row, column) pairs of the grid that have no cell."""
  return [(r, k) for r in matrix.rows for k in matrix.columns if matrix.cell(r, k) is None]


def jsonable(value: Any) -> Any:
  """JSON-safe copy: numpy scalars become Python ones, NaN and infinities None, tuples lists, recursively."""
  if isinstance(value, np.generic):
    value = value.item()
  if isinstance(value, float) and not math.isfinite(value):
    return None
  if isinstance(value, dict):
    return {str(k): jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [jsonable(v) for v in value]
  return value


def _record(item: Any) -> dict[str, Any]:
  """A dataclass instance (cell, suite delta) as a plain dict of its fields."""
  return dataclasses.asdict(item)


def matrix_csv(matrix: TransferMatrix) -> str:
  """``matrix.to_rows()`` as CSV: one line per present cell, columns ``CSV_FIELDS``, NaN as an empty field."""
  rows = [jsonable(row) for row in matrix.to_rows()]
  out = io.StringIO()
  writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else list(CSV_FIELDS), lineterminator="\n")
  writer.writeheader()
  writer.writerows(rows)
  return out.getvalue()


def matrix_record(matrix: TransferMatrix, deltas: Sequence[SuiteDelta] | None = None) -> dict[str, Any]:
  """Everything about a matrix as JSON-ready data (non-finite numbers as None)."""
  record = {
      "schema": JSON_SCHEMA,
      "units": "delta, ci_low, ci_high and means are fractions of a score in [0, 1]; x100 for points",
      "view": matrix.view,
      "baseline": matrix.baseline,
      "alpha": matrix.alpha,
      "rows": list(matrix.rows),
      "columns": list(matrix.columns),
      "cells": [_record(c) for c in present_cells(matrix)],
      "missing": [list(pair) for pair in missing_cells(matrix)],
  }
  if deltas is not None:
    record["suites"] = [_record(d) for d in deltas]
  return jsonable(record)


def matrix_json(matrix: TransferMatrix, deltas: Sequence[SuiteDelta] | None = None) -> str:
  """The matrix (and, if given, the per-suite deltas behind it) as indented JSON."""
  return json.dumps(matrix_record(matrix, deltas), indent=2, allow_nan=False) + "\n"


def markdown_escape(text: str) -> str:
  """A name made safe for a Markdown table cell."""
  return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in str(text))


def matrix_markdown(matrix: TransferMatrix) -> str:
  """A Markdown table, conditions as rows, each cell "+4.2 [+1.0, +7.5]*", then a legend line."""
  header = ["condition", *(markdown_escape(k) for k in matrix.columns)]
  lines = ["| " + " | ".join(header) + " |",
           "| --- |" + " ---: |" * len(matrix.columns)]
  for row in matrix.rows:
    texts = [fmt.delta_text(matrix.cell(row, k)) for k in matrix.columns]
    lines.append("| " + " | ".join([markdown_escape(row), *texts]) + " |")
  lines += ["", fmt.matrix_legend(matrix, mark=fmt.SIGNIFICANT_MARK)]
  return "\n".join(lines) + "\n"


def latex_escape(text: str) -> str:
  """Text made safe for LaTeX (underscores, ampersands, braces, ...)."""
  return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def _latex_row_name(name: str) -> str:
  """An escaped row name; "{}" before a leading "[", which would read as the option of the preceding \\\\."""
  text = latex_escape(name)
  return "{}" + text if text.startswith("[") else text


def _latex_cell(cell: MatrixCell | None) -> str:
  """A cell's text for LaTeX: proper minus signs, bold when significant."""
  text = latex_escape(fmt.delta_text(cell, mark="")).replace("-", "$-$")
  return rf"\textbf{{{text}}}" if fmt.is_significant(cell) else text


def matrix_latex(matrix: TransferMatrix) -> str:
  """A LaTeX tabular (no packages needed), conditions as rows; significant cells in bold."""
  columns = [latex_escape(k) for k in matrix.columns]
  legend = fmt.matrix_legend(matrix, mark="bold")
  lines = [f"% {fmt.matrix_title(matrix)}", f"% {legend}",
           r"\begin{tabular}{l" + "c" * len(columns) + "}", r"\hline",
           " & ".join(["condition", *columns]) + r" \\", r"\hline"]
  for row in matrix.rows:
    lines.append(" & ".join([_latex_row_name(row), *(_latex_cell(matrix.cell(row, k)) for k in matrix.columns)])
                 + r" \\")
  lines += [r"\hline", r"\end{tabular}"]
  return "\n".join(lines) + "\n"


def file_suffix(view: str) -> str:
  """"" for the domain view, "_by_<view>" otherwise."""
  return "" if view == "domain" else f"_by_{view}"


def file_name(view: str, format_: str) -> str:
  """The file a format is written to: "matrix.csv", "heatmap_by_family.png", ..."""
  stem = "heatmap" if format_ == "png" else "matrix"
  return f"{stem}{file_suffix(view)}.{format_}"


def normalize_formats(formats: Iterable[str]) -> list[str]:
  """Canonical format names, in the order given, without repeats; ValueError on an unknown one."""
  if isinstance(formats, str):
    formats = [formats]
  canonical = []
  for name in formats:
    key = _ALIASES.get(name.lower().lstrip("."), name.lower().lstrip("."))
    if key not in FORMATS:
      raise ValueError(f"unknown matrix format {name!r}: one of {', '.join(FORMATS)}")
    if key not in canonical:
      canonical.append(key)
  return canonical


def write_matrix(matrix: TransferMatrix, out_dir: str | Path, formats: Iterable[str] = FORMATS,
                 deltas: Sequence[SuiteDelta] | None = None) -> list[Path]:
  """Writes the matrix in each format into ``out_dir`` (created if needed); returns the paths written.

  ``formats``: any of "csv", "json", "md", "tex", "png" (aliases "markdown", "latex", "heatmap").
  ``deltas`` go into the JSON export only.
  """
  out_dir = Path(out_dir)
  renderers = {
      "csv": lambda: matrix_csv(matrix),
      "json": lambda: matrix_json(matrix, deltas),
      "md": lambda: matrix_markdown(matrix),
      "tex": lambda: matrix_latex(matrix),
  }
  written = []
  for format_ in normalize_formats(formats):
    path = out_dir / file_name(matrix.view, format_)
    if format_ == "png":
      written.append(atomic_write_bytes(path, heatmap_png(matrix)))
    else:
      written.append(atomic_write_text(path, renderers[format_]()))
  return written
