"""The experiment report: ONE static, self-contained HTML file.

Everything is inside the file: figures are base64 PNG data URIs, the CSS is inline, there is no JavaScript
and nothing is fetched from the network, so the file can be mailed, archived or opened offline. All text
from the caller (titles, names, notes) is escaped with ``html.escape``.

Sections, in order: title, summary lines, one section per transfer matrix (heatmap, table, legend), win
counts per condition, one per-suite table per condition, training curves (one plot per metric), the
refusal table (optional) and notes. ``render_report`` builds the page as a string (pure apart from
rendering figures); ``write_report`` writes it atomically.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from xgen.analysis.transfer import win_counts
from xgen.report import formatting as fmt
from xgen.report.heatmap import curves_png, heatmap_png
from xgen.rundir import atomic_write_text

if TYPE_CHECKING:
  from xgen.analysis.transfer import SuiteDelta, TransferMatrix

Curves = Mapping[str, Mapping[str, Sequence[tuple[int, float]]]]

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 78em;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { margin-top: 2em; border-bottom: 1px solid #eee; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; }
th { background: #f4f4f4; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.sig { font-weight: bold; background: #eef4fb; }
td.na { color: #888; text-align: center; }
p.legend { font-size: .85em; color: #555; }
img { max-width: 100%; height: auto; display: block; margin: .8em 0; }
ul.summary li { margin: .2em 0; }
""".strip()


def esc(text: Any) -> str:
  """Any value as escaped HTML text (quotes included, so it is safe in attributes too)."""
  return html.escape(str(text), quote=True)


def data_uri(png: bytes) -> str:
  """PNG bytes as a ``data:image/png;base64,...`` URI."""
  return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def image(png: bytes, alt: str) -> str:
  return f'<img src="{data_uri(png)}" alt="{esc(alt)}">'


def td(text: Any, css_class: str = "", title: str = "") -> str:
  """One table cell, its text escaped."""
  attributes = (f' class="{css_class}"' if css_class else "") + (f' title="{esc(title)}"' if title else "")
  return f"<td{attributes}>{esc(text)}</td>"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
  """A table from a header (plain text, escaped here) and rows of already-rendered ``<td>`` cells."""
  head = "".join(f"<th>{esc(h)}</th>" for h in header)
  body = "\n".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
  return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def conditions_of(deltas: Sequence[SuiteDelta]) -> list[str]:
  """The conditions of a list of per-suite deltas, in order of first appearance."""
  return list(dict.fromkeys(d.condition for d in deltas))


def matrix_cell_td(cell) -> str:
  if cell is None or not fmt.is_number(cell.delta):
    return td(fmt.NOT_AVAILABLE, "na")
  tooltip = f"p = {fmt.p_text(cell.p_value)}, q = {fmt.p_text(cell.q_value)}, suites = {cell.n_suites}"
  return td(fmt.delta_text(cell), "num sig" if fmt.is_significant(cell) else "num", tooltip)


def matrix_section(matrix: TransferMatrix) -> str:
  """A matrix's heatmap, its table (conditions as rows) and the legend."""
  title = fmt.matrix_title(matrix)
  rows = [[td(row), *(matrix_cell_td(matrix.cell(row, k)) for k in matrix.columns)] for row in matrix.rows]
  return "\n".join([
      f"<h2>{esc(title)}</h2>",
      image(heatmap_png(matrix, title=title), f"heatmap: {title}"),
      table(["condition", *matrix.columns], rows),
      f'<p class="legend">{esc(fmt.matrix_legend(matrix))}</p>',
  ])


def win_section(deltas: Sequence[SuiteDelta]) -> str:
  """Per condition: on how many suites it improved on the baseline, and how many significantly."""
  rows = []
  for condition in conditions_of(deltas):
    count = win_counts(deltas, condition)
    rows.append([td(condition), td(count.improved, "num"), td(count.significant, "num"), td(count.total, "num"),
                 td(count.text)])
  return "<h2>Win counts</h2>\n" + table(["condition", "improved", "significant", "suites", "summary"], rows)


def suite_row(delta: SuiteDelta) -> list[str]:
  significant = fmt.is_significant(delta)
  return [
      td(delta.suite), td(delta.family), td(delta.domain),
      td(fmt.points(delta.baseline_mean, signed=False), "num"),
      td(fmt.points(delta.condition_mean, signed=False), "num"),
      td(fmt.points(delta.delta) + (fmt.SIGNIFICANT_MARK if significant else ""),
         "num sig" if significant else "num"),
      td(fmt.interval(delta.ci_low, delta.ci_high) or fmt.NOT_AVAILABLE, "num"),
      td(fmt.p_text(delta.p_value), "num"), td(fmt.p_text(delta.q_value), "num"),
      td("yes" if significant else "no"), td(delta.n_items, "num"), td(delta.n_seeds, "num"),
  ]


_SUITE_HEADER = ("suite", "family", "domain", "baseline mean", "condition mean", "delta", "CI", "p", "q",
                 "significant", "items", "seeds")


def suites_section(deltas: Sequence[SuiteDelta], baselines: Sequence[str] = ()) -> str:
  """One table per condition of its per-suite deltas (means and deltas in points)."""
  against = f"Baseline: {', '.join(baselines)}. " if baselines else ""
  parts = ["<h2>Per-suite results</h2>",
           f'<p class="legend">{esc(against)}Means and deltas in points (x100); CI: confidence interval of the '
           f"delta; q: Benjamini-Hochberg adjusted p within the condition; {esc(fmt.SIGNIFICANT_MARK)} = "
           "significant.</p>"]
  for condition in conditions_of(deltas):
    rows = [suite_row(d) for d in deltas if d.condition == condition]
    parts += [f"<h3>{esc(condition)}</h3>", table(_SUITE_HEADER, rows)]
  return "\n".join(parts)


def curves_section(curves: Curves) -> str:
  """One training-curve plot per metric (one line per cell)."""
  parts = ["<h2>Training curves</h2>"]
  for metric, per_cell in curves.items():
    parts += [f"<h3>{esc(metric)}</h3>", image(curves_png(per_cell, title=metric, ylabel=metric), metric)]
  return "\n".join(parts)


def value_text(value: Any) -> str:
  """A refusal-table value: booleans as yes/no, floats with three decimals, None as n/a."""
  if value is None:
    return fmt.NOT_AVAILABLE
  if isinstance(value, bool):
    return "yes" if value else "no"
  if isinstance(value, float):
    return f"{value:.3f}" if fmt.is_number(value) else fmt.NOT_AVAILABLE
  return str(value)


def value_td(value: Any) -> str:
  return td(value_text(value), "num" if fmt.is_number(value) else "")


def refusal_section(refusal: Mapping[str, Any]) -> str:
  """The refusal table. ``{row: {column: value}}`` is a grid; ``{key: value}`` a two-column table."""
  if refusal and all(isinstance(v, Mapping) for v in refusal.values()):
    columns = list(dict.fromkeys(k for v in refusal.values() for k in v))
    rows = [[td(name), *(value_td(values.get(k)) for k in columns)] for name, values in refusal.items()]
    body = table(["", *map(str, columns)], rows)
  else:
    body = table(["", "value"], [[td(name), value_td(value)] for name, value in refusal.items()])
  return "<h2>Refusals</h2>\n" + body


def notes_section(notes: Sequence[str]) -> str:
  return "<h2>Notes</h2>\n<ul>\n" + "\n".join(f"<li>{esc(n)}</li>" for n in notes) + "\n</ul>"


def render_report(*, title: str, summary_lines: Sequence[str], matrices: Sequence[TransferMatrix],
                  deltas: Sequence[SuiteDelta], curves: Curves, refusal: Mapping[str, Any] | None = None,
                  notes: Sequence[str] = ()) -> str:
  """The whole report page as a string."""
  parts = [f"<h1>{esc(title)}</h1>"]
  if summary_lines:
    parts.append('<ul class="summary">\n' + "\n".join(f"<li>{esc(line)}</li>" for line in summary_lines)
                 + "\n</ul>")
  parts += [matrix_section(m) for m in matrices]
  if deltas:
    baselines = list(dict.fromkeys(m.baseline for m in matrices))
    parts += [win_section(deltas), suites_section(deltas, baselines)]
  if curves:
    parts.append(curves_section(curves))
  if refusal:
    parts.append(refusal_section(refusal))
  if notes:
    parts.append(notes_section(notes))
  body = "\n".join(parts)
  return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
          f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{esc(title)}</title>\n'
          f"<style>\n{_CSS}\n</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def write_report(out_path: str | Path, *, title: str, summary_lines: list[str], matrices: list[TransferMatrix],
                 deltas: list[SuiteDelta], curves: Curves, refusal: dict | None = None,
                 notes: Sequence[str] = ()) -> Path:
  """Writes the self-contained HTML report to ``out_path`` atomically; returns the path.

  ``curves``: metric name -> cell name -> [(step, value), ...]. ``refusal``: ``{row: {column: value}}``
  or ``{key: value}``, shown as a table when given.
  """
  page = render_report(title=title, summary_lines=summary_lines, matrices=matrices, deltas=deltas,
                       curves=curves, refusal=refusal, notes=notes)
  return atomic_write_text(out_path, page)
