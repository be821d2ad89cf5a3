"""The experiment report: ONE static, self-contained HTML file.

Everything is inside the file: figures are base64 PNG data URIs, the CSS is inline, there is no JavaScript
and nothing is fetched from the network, so the file can be mailed, archived or opened offline. All text
from the caller (titles, names, notes) is escaped with ``html.escape``.

Sections, in order: title, the study's settings and its caveats (what it cannot show), the claims table,
summary lines, one section per transfer matrix (heatmap, table with absolute levels, legend), win counts
per condition, one per-suite table per condition (floor and ceiling flagged), training curves (one plot
per metric), the refusal table (optional) and notes. Every interval is labelled unadjusted.
``render_report`` builds the page as a string (pure apart from rendering figures); ``write_report``
writes it atomically.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from xgen.analysis.transfer import win_counts
from xgen.report import claims as cl
from xgen.report import formatting as fmt
from xgen.report.header import level_flag
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
div.caveats { background: #fff7e0; border-left: 4px solid #e0a800; padding: .4em 1em; margin: 1em 0; }
table.settings td { border: none; padding: .1em .8em .1em 0; }
td.verdict-reproduced { background: #e6f4ea; }
td.verdict-not-reproduced { background: #fce8e6; }
td.verdict-not-measurable { background: #f1f3f4; color: #444; }
span.level { color: #666; font-size: .85em; }
div.wide { overflow-x: auto; max-width: 100%; }
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
  """A table from a header (plain text, escaped here) and rows of already-rendered ``<td>`` cells, in a box
  that scrolls sideways when the table is wider than the page."""
  head = "".join(f"<th>{esc(h)}</th>" for h in header)
  body = "\n".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
  return f'<div class="wide"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table></div>'


def conditions_of(deltas: Sequence[SuiteDelta]) -> list[str]:
  """The conditions of a list of per-suite deltas, in order of first appearance."""
  return list(dict.fromkeys(d.condition for d in deltas))


def column_levels(deltas: Sequence[SuiteDelta], view: str) -> dict[tuple[str, str], tuple[float, float]]:
  """(condition, column) -> (baseline level, condition level): the mean over the column's suites of each
  arm's absolute score, as the matrix cell averages the suites' deltas."""
  sums: dict[tuple[str, str], list[tuple[float, float]]] = {}
  for d in deltas:
    sums.setdefault((d.condition, d.domain if view == "domain" else d.family), []).append(
        (d.baseline_mean, d.condition_mean))
  return {key: (sum(b for b, _ in pairs) / len(pairs), sum(c for _, c in pairs) / len(pairs))
          for key, pairs in sums.items()}


def level_text(baseline: float, condition: float) -> str:
  """"41.0 -> 43.2" in points, with the baseline's floor or ceiling flag."""
  flag = level_flag(baseline)
  return (f"{fmt.points(baseline, signed=False)} -> {fmt.points(condition, signed=False)}"
          + (f" ({flag})" if flag else ""))


def matrix_cell_td(cell, levels: tuple[float, float] | None = None) -> str:
  if cell is None or not fmt.is_number(cell.delta):
    return td(fmt.NOT_AVAILABLE, "na")
  tooltip = f"p = {fmt.p_text(cell.p_value)}, q = {fmt.p_text(cell.q_value)}, suites = {cell.n_suites}"
  css = "num sig" if fmt.is_significant(cell) else "num"
  level = f'<br><span class="level">{esc(level_text(*levels))}</span>' if levels else ""
  return f'<td class="{css}" title="{esc(tooltip)}">{esc(fmt.delta_text(cell))}{level}</td>'


def matrix_section(matrix: TransferMatrix, deltas: Sequence[SuiteDelta] = ()) -> str:
  """A matrix's heatmap, its table (conditions as rows, each delta over the absolute levels) and the legend."""
  title = fmt.matrix_title(matrix)
  levels = column_levels(deltas, matrix.view)
  rows = [[td(row), *(matrix_cell_td(matrix.cell(row, k), levels.get((row, k))) for k in matrix.columns)]
          for row in matrix.rows]
  legend = (f"{fmt.matrix_legend(matrix)} Intervals are unadjusted 95% intervals. Under each delta: the absolute "
            f"level of {matrix.baseline} -> the condition, in points (floor: baseline below 5, ceiling: above 95).")
  return "\n".join([
      f"<h2>{esc(title)}</h2>",
      image(heatmap_png(matrix, title=title), f"heatmap: {title}"),
      table(["condition", *matrix.columns], rows),
      f'<p class="legend">{esc(legend)}</p>',
  ])


def settings_section(header: Sequence[tuple[str, str]], caveats: Sequence[str]) -> str:
  """The study's settings as a two-column list, then its caveats in a box."""
  parts = []
  if header:
    rows = "\n".join(f"<tr><td><b>{esc(label)}</b></td><td>{esc(value)}</td></tr>" for label, value in header)
    parts.append(f'<table class="settings">\n<tbody>\n{rows}\n</tbody>\n</table>')
  if caveats:
    items = "\n".join(f"<li>{esc(c)}</li>" for c in caveats)
    parts.append(f'<div class="caveats"><b>What this study can and cannot show</b>\n<ul>\n{items}\n</ul></div>')
  return "\n".join(parts)


def claims_section(rows: Sequence[cl.ClaimRow]) -> str:
  """The paper's claims beside this study's numbers and verdicts."""
  body = []
  for row in rows:
    cells = [td(text) for text in cl.table_cells(row)[:-1]]
    css = "verdict-" + row.verdict.replace(" ", "-")
    cells.append(f'<td class="{css}"><b>{esc(row.verdict)}</b>: {esc(row.reason)}</td>')
    body.append(cells)
  return ("<h2>Claims of the paper</h2>\n" + table(cl.TABLE_HEADER, body)
          + '\n<p class="legend">Each claim is tested on its own family of suites (its own Benjamini-Hochberg '
          "correction); the pooled change is the mean of the family's suite deltas with an unadjusted 95% "
          "interval; \"neither arm refused\" repeats the comparison on the items where neither the condition nor "
          "the baseline refused.</p>")


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
      td(level_flag(delta.baseline_mean)),
  ]


_SUITE_HEADER = ("suite", "family", "domain", "baseline mean", "condition mean", "delta", "CI (unadjusted)", "p",
                 "q", "significant", "items", "seeds", "level")


def suites_section(deltas: Sequence[SuiteDelta], baselines: Sequence[str] = ()) -> str:
  """One table per condition of its per-suite deltas (means and deltas in points)."""
  against = f"Baseline: {', '.join(baselines)}. " if baselines else ""
  parts = ["<h2>Per-suite results</h2>",
           f'<p class="legend">{esc(against)}Means and deltas in points (x100); CI: unadjusted 95% confidence '
           f"interval of the delta; q: Benjamini-Hochberg adjusted p within the condition; "
           f"{esc(fmt.SIGNIFICANT_MARK)} = significant; level: floor (baseline below 5) or ceiling (above 95), "
           "where a suite has little room to move.</p>"]
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
                  notes: Sequence[str] = (), header: Sequence[tuple[str, str]] = (), caveats: Sequence[str] = (),
                  claims: Sequence[cl.ClaimRow] = (), sections: Sequence[str] = ()) -> str:
  """The whole report page as a string; ``sections`` (HTML fragments) come after the per-suite tables."""
  parts = [f"<h1>{esc(title)}</h1>"]
  if header or caveats:
    parts.append(settings_section(header, caveats))
  if claims:
    parts.append(claims_section(claims))
  if summary_lines:
    parts.append('<ul class="summary">\n' + "\n".join(f"<li>{esc(line)}</li>" for line in summary_lines)
                 + "\n</ul>")
  parts += [matrix_section(m, deltas) for m in matrices]
  if deltas:
    baselines = list(dict.fromkeys(m.baseline for m in matrices))
    parts += [win_section(deltas), suites_section(deltas, baselines)]
  parts += list(sections)
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
                 notes: Sequence[str] = (), header: Sequence[tuple[str, str]] = (), caveats: Sequence[str] = (),
                 claims: Sequence[cl.ClaimRow] = (), sections: Sequence[str] = ()) -> Path:
  """Writes the self-contained HTML report to ``out_path`` atomically; returns the path.

  ``curves``: metric name -> cell name -> [(step, value), ...]. ``refusal``: ``{row: {column: value}}``
  or ``{key: value}``, shown as a table when given. ``header``: the study's settings as (label, value);
  ``caveats`` and ``claims`` open the page when given; ``sections``: further HTML fragments (persistence).
  """
  page = render_report(title=title, summary_lines=summary_lines, matrices=matrices, deltas=deltas,
                       curves=curves, refusal=refusal, notes=notes, header=header, caveats=caveats, claims=claims,
                       sections=sections)
  return atomic_write_text(out_path, page)
