"""The persistence part of the report: persona bars, attack curves (PNG) and the "Persistence" HTML section.

Conventions (``xgen.analysis.persistence`` computes the numbers):
  * everything is in points (x100) with its 95% interval, unadjusted;
  * a harmful persona's bars show degradation (plain minus persona score: higher = hurt more), a helpful
    persona's the shift (persona minus plain: higher = helped more), so every bar reads "how much the
    persona moved the arm" in its natural direction; the axis says which;
  * a difference is condition shift - baseline shift = degradation(baseline) - degradation(condition):
    positive when the condition is hurt less (or helped more);
  * attack curves show degradation (pre - post) against attack steps, starting at 0 at step 0; the
    steps to half degradation are where an arm's level falls to half its pre-attack level (floor 0),
    "> N" when it never does within the largest budget N.

Figures use matplotlib's Agg canvas (never pyplot) through ``heatmap``'s figure helpers and are saved
without a version stamp, so the same input gives the same PNG bytes. ``persistence_section`` builds the
HTML fragment from ``html``'s helpers; a part without data says so.
"""

from __future__ import annotations

import math
from typing import Sequence

from matplotlib import colormaps

from xgen.analysis.bootstrap import BootstrapResult
from xgen.analysis.persistence import (AttackPointResult, AttackSummary, PersonaComparison, pooled_name,
                                       selective_persistence, steps_ratio, summary_for)
from xgen.report import formatting as fmt
from xgen.report.heatmap import new_figure, no_data, png_bytes, plain
from xgen.report.html import esc, image, table, td

BASELINE_COLOR = "#8c8c8c"
PANEL_WIDTH_IN, PANEL_HEIGHT_IN = 4.2, 3.4
MAX_PANEL_COLUMNS = 3
LINESTYLES = ("-", "--", "-.", ":")  # attack curves: arms that coincide stay visible
NO_PERSONAS = "no persona evaluations in this run directory"
NO_ATTACKS = "no attack evaluations in this run directory"

# ---------------------------------------------------------------------------------------------
# Text.


def result_text(result: BootstrapResult | None) -> str:
  """"+13.0 [+5.0, +21.0]" in points; "n/a" when missing."""
  if result is None or not fmt.is_number(result.delta):
    return fmt.NOT_AVAILABLE
  return " ".join(part for part in (fmt.points(result.delta), fmt.interval(result.ci_low, result.ci_high)) if part)


def excludes_zero(result: BootstrapResult | None) -> bool:
  return result is not None and (result.ci_low > 0 or result.ci_high < 0)


def result_td(result: BootstrapResult | None) -> str:
  """A result's cell, bold when its interval excludes 0."""
  if result is None:
    return td(fmt.NOT_AVAILABLE, "na")
  return td(result_text(result), "num sig" if excludes_zero(result) else "num")


def selective_reading(row: PersonaComparison, comparisons: Sequence[PersonaComparison]) -> str | None:
  """A harmful row's ``selective_persistence`` against the helpful difference of its condition, baseline and
  scope (the pooled helpful row if there is one, else the only helpful row); None for helpful rows or when
  no single partner exists."""
  if row.kind != "harmful":
    return None
  partners = [c for c in comparisons if c.kind == "helpful"
              and (c.condition, c.baseline, c.scope) == (row.condition, row.baseline, row.scope)]
  chosen = [c for c in partners if c.persona == pooled_name("helpful")] or partners
  return selective_persistence(row.difference, chosen[0].difference) if len(chosen) == 1 else None


def half_steps_text(summary: AttackSummary | None) -> str:
  """Steps to half degradation: "150", "> 400" when censored, "n/a" without a summary."""
  if summary is None:
    return fmt.NOT_AVAILABLE
  return f"> {summary.max_steps}" if summary.censored else f"{summary.half_steps:.0f}"


def rate_text(learning_rate: float) -> str:
  return f"{learning_rate:g}"


# ---------------------------------------------------------------------------------------------
# Figures.


def moved(result: BootstrapResult | None, kind: str) -> tuple[float, float, float]:
  """(value, low, high) in points as a bar shows it: degradation (-shift) for harmful, shift for helpful;
  NaN when missing."""
  if result is None:
    return math.nan, math.nan, math.nan
  sign = -1.0 if kind == "harmful" else 1.0
  low, high = sorted((sign * result.ci_low, sign * result.ci_high))
  return 100.0 * sign * result.delta, 100.0 * low, 100.0 * high


def bar_groups(comparisons: Sequence[PersonaComparison]) -> dict[tuple[str, str, str], list[PersonaComparison]]:
  """(persona, kind, scope) -> its rows, in order of first appearance."""
  groups: dict[tuple[str, str, str], list[PersonaComparison]] = {}
  for row in comparisons:
    groups.setdefault((row.persona, row.kind, row.scope), []).append(row)
  return groups


def group_bars(rows: Sequence[PersonaComparison]) -> list[tuple[str, BootstrapResult | None]]:
  """(arm, shift) per bar of one panel: the baseline (from its first row), then each condition once."""
  bars = [(rows[0].baseline, rows[0].baseline_shift)]
  for row in rows:
    if row.condition not in [arm for arm, _ in bars]:
      bars.append((row.condition, row.condition_shift))
  return bars


def arm_colors(comparisons: Sequence[PersonaComparison]) -> dict[str, tuple | str]:
  """One colour per arm across all panels: baselines grey, conditions the "tab10" colours in order."""
  palette = colormaps["tab10"].colors
  conditions = list(dict.fromkeys(row.condition for row in comparisons))
  colors: dict[str, tuple | str] = {arm: palette[k % len(palette)] for k, arm in enumerate(conditions)}
  colors.update({row.baseline: BASELINE_COLOR for row in comparisons})
  return colors


def _bar_panel(ax, key: tuple[str, str, str], rows: Sequence[PersonaComparison], colors: dict) -> None:
  persona, kind, scope = key
  bars = group_bars(rows)
  values = [moved(result, kind) for _, result in bars]
  heights = [0.0 if math.isnan(v) else v for v, _, _ in values]
  errors = [[0.0 if math.isnan(v) else v - lo for v, lo, _ in values],
            [0.0 if math.isnan(v) else hi - v for v, _, hi in values]]
  ax.bar(range(len(bars)), heights, yerr=errors, color=[colors[arm] for arm, _ in bars], capsize=4, width=0.65,
         error_kw={"linewidth": 1})
  for x, (value, _, high) in enumerate(values):
    label, y = (fmt.NOT_AVAILABLE, 0.0) if math.isnan(value) else (f"{value:+.1f}", max(value, high))
    ax.annotate(label, (x, y), xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=7)
  ax.axhline(0.0, color="black", linewidth=0.8)
  ax.set_xticks(range(len(bars)), labels=[plain(arm) for arm, _ in bars], rotation=20, ha="right", fontsize=8)
  ax.set_ylabel("degradation (points)" if kind == "harmful" else "shift (points)", fontsize=8)
  ax.tick_params(axis="y", labelsize=7)
  ax.set_title(plain(f"{persona} ({kind}, {scope})"), fontsize=9)
  ax.grid(axis="y", alpha=0.3)
  ax.margins(y=0.15)


def persona_bars_png(comparisons: Sequence[PersonaComparison]) -> bytes:
  """One panel per (persona, scope): a bar per arm (baseline first) with its 95% interval, in points:
  degradation under a harmful persona, shift under a helpful one."""
  groups = bar_groups(comparisons)
  columns = max(1, min(MAX_PANEL_COLUMNS, len(groups)))
  rows = max(1, math.ceil(len(groups) / columns))
  figure = new_figure((round(PANEL_WIDTH_IN * columns, 2), round(PANEL_HEIGHT_IN * rows + 0.4, 2)))
  if not groups:
    no_data(figure, "Personas")
    return png_bytes(figure)
  axes = figure.subplots(rows, columns, squeeze=False).ravel()
  colors = arm_colors(comparisons)
  for ax, (key, members) in zip(axes, groups.items()):
    _bar_panel(ax, key, members, colors)
  for ax in axes[len(groups):]:
    ax.set_axis_off()
  figure.suptitle("Under personas: degradation (harmful) or shift (helpful), 95% intervals", fontsize=10)
  return png_bytes(figure)


def curve_points(results: Sequence[AttackPointResult], learning_rate: float) -> dict[str, list[tuple]]:
  """condition -> [(steps, degradation, low, high) in points], sorted by steps, starting at (0, 0, 0, 0)."""
  curves: dict[str, list[tuple]] = {}
  for r in results:
    if math.isclose(r.learning_rate, learning_rate) and r.degradation is not None and r.steps > 0:
      d = r.degradation
      curves.setdefault(r.condition, []).append((r.steps, 100 * d.delta, 100 * d.ci_low, 100 * d.ci_high))
  return {arm: [(0, 0.0, 0.0, 0.0), *sorted(points)] for arm, points in curves.items()}


def attack_curves_png(results: Sequence[AttackPointResult], learning_rate: float) -> bytes:
  """Degradation (points, pre - post) against attack steps for each arm at ``learning_rate``, with 95%
  interval bands; 0 at step 0."""
  title = f"Harmful fine-tuning at learning rate {rate_text(learning_rate)}"
  curves = curve_points(results, learning_rate)
  figure = new_figure((7.0, 4.2))
  if not curves:
    no_data(figure, title)
    return png_bytes(figure)
  ax = figure.add_subplot()
  palette = colormaps["tab10"].colors
  for k, (arm, points) in enumerate(curves.items()):
    steps, values, lows, highs = zip(*points)
    color = palette[k % len(palette)]
    ax.fill_between(steps, lows, highs, color=color, alpha=0.18, linewidth=0)
    ax.plot(steps, values, color=color, linestyle=LINESTYLES[k % len(LINESTYLES)], marker="o", markersize=3,
            linewidth=1.5, label=plain(arm))
  ax.axhline(0.0, color="black", linewidth=0.8)
  ax.set_title(plain(title), fontsize=11)
  ax.set_xlabel("attack steps")
  ax.set_ylabel("degradation (points, pre - post)")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  return png_bytes(figure)


# ---------------------------------------------------------------------------------------------
# HTML.

PERSONA_HEADER = ("persona", "kind", "scope", "suites", "condition", "baseline", "condition shift", "baseline shift",
                  "difference", "reading")
ATTACK_HEADER = ("arm", "learning rate", "steps", "pre level", "post level", "degradation", "items")
HALF_HEADER = ("arm", "learning rate", "pre level", "steps to half", "largest budget")

PERSONA_LEGEND = (
    "Shift: score under the persona minus the plain score of the same item and seed; difference: condition "
    "shift - baseline shift = degradation(baseline) - degradation(condition), positive when the condition is "
    "hurt less. Points (x100) with unadjusted 95% intervals, bold when the interval excludes 0. Targeted: the "
    "suites of the persona's target families; capability: the capability suites, reported apart. Reading "
    "(harmful rows, against the helpful difference of the same condition and scope): selective = the harmful "
    "interval above 0 and the helpful one not; uniform = both above 0; none = the harmful interval not above 0.")
ATTACK_LEGEND = (
    "Each arm's checkpoint fine-tuned on harmful data, then evaluated again. Degradation: pre-attack minus "
    "post-attack score of the same item and seed, in points with its unadjusted 95% interval. Steps to half: "
    "the attack steps at which the arm's mean falls to half its pre-attack level (floor 0), interpolated "
    "linearly from (0 steps, pre level); \"> N\": not reached within the largest budget N (censored).")


def persona_row(row: PersonaComparison, comparisons: Sequence[PersonaComparison]) -> list[str]:
  reading = selective_reading(row, comparisons)
  return [td(row.persona), td(row.kind), td(row.scope), td(len(row.suites), "num", ", ".join(row.suites)),
          td(row.condition), td(row.baseline), result_td(row.condition_shift), result_td(row.baseline_shift),
          result_td(row.difference), td(reading or ("" if row.kind != "harmful" else fmt.NOT_AVAILABLE))]


def attack_row(r: AttackPointResult) -> list[str]:
  return [td(r.condition), td(rate_text(r.learning_rate), "num"), td(r.steps, "num"),
          td(fmt.points(r.pre_level, signed=False), "num"), td(fmt.points(r.post_level, signed=False), "num"),
          result_td(r.degradation), td(r.degradation.n_items if r.degradation else 0, "num")]


def half_row(s: AttackSummary) -> list[str]:
  return [td(s.condition), td(rate_text(s.learning_rate), "num"), td(fmt.points(s.pre_level, signed=False), "num"),
          td(half_steps_text(s), "num"), td(s.max_steps, "num")]


def ratio_rows(summaries: Sequence[AttackSummary], ratio_pairs: Sequence[tuple[str, str]]) -> list[list[str]]:
  """Per learning rate and (numerator, denominator) pair: the ratio of their steps to half, censoring stated."""
  rows = []
  for learning_rate in sorted({s.learning_rate for s in summaries}):
    for top, bottom in ratio_pairs:
      numerator, denominator = summary_for(summaries, top, learning_rate), summary_for(summaries, bottom, learning_rate)
      _, text = steps_ratio(numerator, denominator)
      rows.append([td(rate_text(learning_rate), "num"), td(f"{top} / {bottom}"), td(half_steps_text(numerator), "num"),
                   td(half_steps_text(denominator), "num"), td(text, "num")])
  return rows


def persona_part(comparisons: Sequence[PersonaComparison]) -> list[str]:
  if not comparisons:
    return ["<h3>Personas</h3>", f"<p>{esc(NO_PERSONAS)}.</p>"]
  return ["<h3>Personas</h3>", f'<p class="legend">{esc(PERSONA_LEGEND)}</p>',
          table(PERSONA_HEADER, [persona_row(row, comparisons) for row in comparisons]),
          image(persona_bars_png(comparisons), "persona bars: degradation or shift per arm")]


def attack_part(results: Sequence[AttackPointResult], summaries: Sequence[AttackSummary],
                ratio_pairs: Sequence[tuple[str, str]]) -> list[str]:
  if not results:
    return ["<h3>Harmful fine-tuning attack</h3>", f"<p>{esc(NO_ATTACKS)}.</p>"]
  parts = ["<h3>Harmful fine-tuning attack</h3>", f'<p class="legend">{esc(ATTACK_LEGEND)}</p>',
           table(ATTACK_HEADER, [attack_row(r) for r in results]), "<h4>Steps to half degradation</h4>"]
  parts.append(table(HALF_HEADER, [half_row(s) for s in summaries]) if summaries
               else "<p>no attack budget with paired items: no steps to half degradation.</p>")
  if summaries and ratio_pairs:
    parts.append(table(("learning rate", "ratio", "numerator steps", "denominator steps", "ratio of steps"),
                       ratio_rows(summaries, ratio_pairs)))
  for learning_rate in sorted({r.learning_rate for r in results}):
    parts.append(image(attack_curves_png(results, learning_rate),
                       f"attack curves at learning rate {rate_text(learning_rate)}"))
  return parts


def capability_part(results: Sequence[AttackPointResult]) -> list[str]:
  """Capability after each attack budget, apart from the alignment suites."""
  if not results:
    return []
  return ["<h4>Capability after the attack</h4>", table(ATTACK_HEADER, [attack_row(r) for r in results])]


def persistence_section(comparisons: Sequence[PersonaComparison], results: Sequence[AttackPointResult],
                        summaries: Sequence[AttackSummary], ratio_pairs: Sequence[tuple[str, str]] = (),
                        capability: Sequence[AttackPointResult] = ()) -> str:
  """The "Persistence" section: the personas table and bars, then the attack table (alignment suites),
  steps to half degradation with the ratios of ``ratio_pairs`` ((numerator, denominator) arms, e.g.
  ("trait-all", "baseline")) per learning rate, one curve image per learning rate, and ``capability``'s
  attack table. A part without data says so."""
  parts = ["<section>", "<h2>Persistence</h2>", *persona_part(comparisons),
           *attack_part(results, summaries, ratio_pairs), *capability_part(capability), "</section>"]
  return "\n".join(parts)
