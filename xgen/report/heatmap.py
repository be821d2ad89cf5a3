"""Figures for reports: annotated transfer-matrix heatmaps and training curves, as PNG.

Rendering uses matplotlib's Agg canvas directly (``Figure`` + ``FigureCanvasAgg``), never pyplot: nothing
here selects a backend, touches rcParams or keeps figures alive in a global registry, so importing this
module changes no global state and it works headless and from several threads.

Heatmap conventions:
  * colour is the delta in points on the diverging "RdBu" map centred on zero with symmetric limits
    (+-the largest |delta|, at least ``MIN_LIMIT_POINTS`` = 10 points, so that a noise-sized delta is drawn
    pale rather than saturated): gains are blue, losses red, no change white. Red/blue stays
    distinguishable for the common colour-vision deficiencies, unlike red/green;
  * each cell reads its delta in points ("+4.2") over its unadjusted 95% interval in smaller type;
  * a cell significant after Benjamini-Hochberg gets bold text, a "*" and a black box edge;
  * a missing cell is grey and reads "n/a".

``heatmap_png`` and ``curves_png`` return PNG bytes (pure apart from rendering); ``plot_heatmap`` and
``plot_curves`` write them atomically to a path.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from xgen.report import formatting as fmt
from xgen.rundir import atomic_write_bytes

if TYPE_CHECKING:
  from xgen.analysis.transfer import TransferMatrix

DPI = 150
COLORMAP = "RdBu"  # low (losses) red, high (gains) blue
MISSING_COLOR = "#d9d9d9"
MIN_LIMIT_POINTS = 10.0  # colour limits never narrower than +-10 points: noise-sized deltas stay pale
CELL_WIDTH_IN, CELL_HEIGHT_IN = 1.3, 0.62
MIN_WIDTH_IN = 5.5  # room for the title and the footnote under a one-column matrix
LABEL_ROTATION = 35
_MAX_LABEL_CHARS = 40
_LINESTYLES = ("-", "--", ":", "-.")
_PNG_METADATA = {"Software": None}  # no version string or address inside the image: reproducible bytes


def plain(text: str) -> str:
  """A label shown literally: "$" would otherwise start matplotlib mathtext."""
  return str(text).replace("$", r"\$")


def heatmap_values(matrix: TransferMatrix) -> np.ndarray:
  """[rows, columns] deltas in points; NaN where a cell is missing or has no delta."""
  values = np.full((len(matrix.rows), len(matrix.columns)), np.nan)
  for i, row in enumerate(matrix.rows):
    for j, column in enumerate(matrix.columns):
      cell = matrix.cell(row, column)
      if cell is not None and fmt.is_number(cell.delta):
        values[i, j] = 100.0 * cell.delta
  return values


def symmetric_limit(values: np.ndarray) -> float:
  """The colour limit L (scale -L..+L): the largest finite |value|, at least ``MIN_LIMIT_POINTS``."""
  finite = np.abs(values[np.isfinite(values)])
  return max(float(finite.max()) if finite.size else 0.0, MIN_LIMIT_POINTS)


def heatmap_figsize(n_rows: int, n_columns: int, row_label_chars: int, column_label_chars: int,
                    *, has_title: bool = True) -> tuple[float, float]:
  """Figure size in inches: cells of fixed size plus room for labels, colour bar and title."""
  row_chars = min(row_label_chars, _MAX_LABEL_CHARS)
  column_chars = min(column_label_chars, _MAX_LABEL_CHARS)
  width = max(max(n_columns, 1) * CELL_WIDTH_IN + 0.085 * row_chars + 2.0, MIN_WIDTH_IN)
  height = (max(n_rows, 1) * CELL_HEIGHT_IN + 0.075 * column_chars * math.sin(math.radians(LABEL_ROTATION))
            + 1.3 + (0.35 if has_title else 0.0))
  return round(width, 2), round(height, 2)


def text_color(value: float, limit: float) -> str:
  """White on the saturated ends of the colour map, black elsewhere."""
  return "white" if abs(value) > 0.6 * limit else "black"


def new_figure(figsize: tuple[float, float]) -> Figure:
  figure = Figure(figsize=figsize, dpi=DPI, layout="constrained")
  FigureCanvasAgg(figure)
  return figure


def png_bytes(figure: Figure) -> bytes:
  buffer = io.BytesIO()
  figure.savefig(buffer, format="png", dpi=DPI, metadata=_PNG_METADATA)
  return buffer.getvalue()


def _annotate_cell(ax, i: int, j: int, cell, value: float, limit: float) -> None:
  """Delta over CI inside cell (i, j); bold, starred and boxed when significant; "n/a" when missing."""
  if not math.isfinite(value):
    ax.text(j, i, fmt.NOT_AVAILABLE, ha="center", va="center", fontsize=9, color="#555555")
    return
  significant = fmt.is_significant(cell)
  color = text_color(value, limit)
  headline = fmt.points(cell.delta) + (fmt.SIGNIFICANT_MARK if significant else "")
  ci = fmt.interval(cell.ci_low, cell.ci_high)
  ax.text(j, i - (0.13 if ci else 0.0), headline, ha="center", va="center", fontsize=10, color=color,
          fontweight="bold" if significant else "normal")
  if ci:
    ax.text(j, i + 0.22, ci, ha="center", va="center", fontsize=7, color=color)
  if significant:
    inset = 0.04
    ax.add_patch(Rectangle((j - 0.5 + inset, i - 0.5 + inset), 1 - 2 * inset, 1 - 2 * inset, fill=False,
                           edgecolor="black", linewidth=1.8))


def no_data(figure: Figure, title: str) -> None:
  ax = figure.add_subplot()
  ax.set_axis_off()
  ax.set_title(plain(title), fontsize=11)
  ax.text(0.5, 0.5, "no data", ha="center", va="center", fontsize=12, color="#555555", transform=ax.transAxes)


def heatmap_png(matrix: TransferMatrix, *, title: str | None = None) -> bytes:
  """The annotated heatmap of a TransferMatrix as PNG bytes (rows = conditions, columns = view)."""
  title = fmt.matrix_title(matrix) if title is None else title
  rows, columns = list(matrix.rows), list(matrix.columns)
  figure = new_figure(heatmap_figsize(len(rows), len(columns), max(map(len, rows), default=0),
                                       max(map(len, columns), default=0), has_title=bool(title)))
  if not rows or not columns:
    no_data(figure, title)
    return png_bytes(figure)
  values = heatmap_values(matrix)
  limit = symmetric_limit(values)
  cmap = colormaps[COLORMAP].with_extremes(bad=MISSING_COLOR)
  ax = figure.add_subplot()
  image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=-limit, vmax=limit, aspect="auto",
                    interpolation="nearest")
  ax.set_xticks(range(len(columns)), labels=[plain(c) for c in columns], rotation=LABEL_ROTATION, ha="right",
                rotation_mode="anchor", fontsize=9)
  ax.set_yticks(range(len(rows)), labels=[plain(r) for r in rows], fontsize=9)
  ax.set_xticks(np.arange(len(columns) + 1) - 0.5, minor=True)
  ax.set_yticks(np.arange(len(rows) + 1) - 0.5, minor=True)
  ax.grid(which="minor", color="white", linewidth=2)
  ax.tick_params(which="minor", length=0)
  ax.tick_params(which="major", length=0)
  for spine in ax.spines.values():
    spine.set_visible(False)
  for i, row in enumerate(rows):
    for j, column in enumerate(columns):
      _annotate_cell(ax, i, j, matrix.cell(row, column), values[i, j], limit)
  colorbar = figure.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
  colorbar.set_label(plain(fmt.colorbar_label(matrix.baseline)), fontsize=9)
  colorbar.ax.tick_params(labelsize=8)
  if title:
    ax.set_title(plain(title), fontsize=11)
  figure.supxlabel(f"bold, boxed, {fmt.SIGNIFICANT_MARK}: significant (Benjamini-Hochberg q < {matrix.alpha:g}); "
                   f"intervals: unadjusted 95%;  grey: {fmt.NOT_AVAILABLE}", fontsize=7, color="#444444")
  return png_bytes(figure)


def plot_heatmap(matrix: TransferMatrix, path: str | Path, *, title: str | None = None) -> Path:
  """Writes the annotated heatmap of ``matrix`` to ``path`` (PNG, atomically); returns the path."""
  return atomic_write_bytes(path, heatmap_png(matrix, title=title))


def curves_png(curves: Mapping[str, Sequence[tuple[int, float]]], *, title: str, ylabel: str) -> bytes:
  """Training curves as PNG bytes: one line per cell (name -> [(step, value), ...]), sorted by step."""
  names = list(curves)
  outside_legend = len(names) > 8
  figure = new_figure((7.5 + (2.5 if outside_legend else 0.0), 4.2))
  if not any(curves[name] for name in names):
    no_data(figure, title)
    return png_bytes(figure)
  ax = figure.add_subplot()
  palette = colormaps["tab10"].colors
  for k, name in enumerate(names):
    points = sorted(curves[name], key=lambda point: point[0])
    if not points:
      continue
    steps = [s for s, _ in points]
    values = [float(v) if fmt.is_number(v) else math.nan for _, v in points]
    ax.plot(steps, values, label=plain(name), color=palette[k % len(palette)],
            linestyle=_LINESTYLES[(k // len(palette)) % len(_LINESTYLES)], linewidth=1.5,
            marker="o" if len(points) <= 25 else None, markersize=3)
  ax.set_title(plain(title), fontsize=11)
  ax.set_xlabel("step")
  ax.set_ylabel(plain(ylabel))
  ax.grid(alpha=0.3)
  if outside_legend:
    figure.legend(loc="outside right upper", fontsize=7)
  else:
    ax.legend(fontsize=8)
  return png_bytes(figure)


def plot_curves(curves: Mapping[str, Sequence[tuple[int, float]]], path: str | Path, *, title: str,
                ylabel: str) -> Path:
  """Writes training curves (one line per cell) to ``path`` (PNG, atomically); returns the path."""
  return atomic_write_bytes(path, curves_png(curves, title=title, ylabel=ylabel))
