"""Tests for the persistence figures and HTML section, on hand-made comparisons and attack results."""

from __future__ import annotations

import pytest

from xgen.analysis.bootstrap import BootstrapResult
from xgen.analysis.persistence import AttackPointResult, AttackSummary, PersonaComparison, pooled_name
from xgen.report.persistence import (NO_ATTACKS, NO_PERSONAS, attack_curves_png, curve_points, half_steps_text,
                                     moved, persona_bars_png, persistence_section, result_text, selective_reading)

PNG = b"\x89PNG\r\n\x1a\n"


def result(delta: float, low: float, high: float, n_items: int = 50) -> BootstrapResult:
  return BootstrapResult(delta=delta, ci_low=low, ci_high=high, p_value=0.01, n_items=n_items,
                         n_seeds_condition=3, n_seeds_baseline=3)


def comparison(persona: str, kind: str, difference: BootstrapResult | None, *, scope: str = "targeted",
               condition: str = "trait-all") -> PersonaComparison:
  return PersonaComparison(persona=persona, kind=kind, scope=scope, suites=("deception.health", "deception.science"),
                           condition=condition, baseline="baseline", condition_shift=result(-0.05, -0.08, -0.02),
                           baseline_shift=result(-0.18, -0.24, -0.12), difference=difference)


COMPARISONS = [comparison(pooled_name("harmful"), "harmful", result(0.13, 0.05, 0.21)),
               comparison("liar", "harmful", result(0.02, -0.01, 0.06)),
               comparison(pooled_name("helpful"), "helpful", result(0.005, -0.016, 0.025)),
               comparison("liar", "harmful", None, scope="capability")]


def attack_points() -> list[AttackPointResult]:
  out = []
  for steps in (100, 200, 400):
    for arm, rate in (("baseline", 0.001), ("trait-all", 0.0004)):
      loss = rate * steps
      out.append(AttackPointResult(condition=arm, learning_rate=1e-5, steps=steps, pre_level=0.8,
                                   post_level=0.8 - loss, degradation=result(loss, loss - 0.03, loss + 0.03)))
  out.append(AttackPointResult(condition="baseline", learning_rate=1e-4, steps=100, pre_level=0.8, post_level=0.1,
                               degradation=result(0.7, 0.65, 0.75)))
  return out


SUMMARIES = [AttackSummary("baseline", 1e-5, 0.8, 400.0, 400), AttackSummary("trait-all", 1e-5, 0.8, None, 400),
             AttackSummary("baseline", 1e-4, 0.8, 57.1, 100)]


def test_text_helpers():
  assert result_text(result(0.13, 0.05, 0.21)) == "+13.0 [+5.0, +21.0]"
  assert result_text(None) == "n/a"
  assert half_steps_text(SUMMARIES[0]) == "400" and half_steps_text(SUMMARIES[1]) == "> 400"
  assert half_steps_text(None) == "n/a"
  assert moved(result(-0.18, -0.24, -0.12), "harmful") == pytest.approx((18.0, 12.0, 24.0))
  assert moved(result(0.01, -0.01, 0.03), "helpful") == pytest.approx((1.0, -1.0, 3.0))


def test_selective_reading_pairs_harmful_rows_with_the_pooled_helpful_row():
  assert [selective_reading(row, COMPARISONS) for row in COMPARISONS] == ["selective", "none", None, None]
  lone_helpful = [COMPARISONS[1], comparison("carer", "helpful", result(0.05, 0.01, 0.09))]
  assert selective_reading(lone_helpful[0], lone_helpful) == "none"
  two_helpful = [comparison("a", "harmful", result(0.1, 0.05, 0.2)), comparison("b", "helpful", result(0, -1, 1)),
                 comparison("c", "helpful", result(0, -1, 1))]
  assert selective_reading(two_helpful[0], two_helpful) is None


def test_persona_bars_are_reproducible_png():
  first, second = persona_bars_png(COMPARISONS), persona_bars_png(COMPARISONS)
  assert first.startswith(PNG) and first == second
  assert persona_bars_png([]).startswith(PNG)


def test_attack_curves_are_reproducible_png_starting_at_zero():
  points = attack_points()
  first, second = attack_curves_png(points, 1e-5), attack_curves_png(points, 1e-5)
  assert first.startswith(PNG) and first == second
  assert attack_curves_png(points, 3e-3).startswith(PNG)  # no data at that rate
  curves = curve_points(points, 1e-5)
  assert list(curves) == ["baseline", "trait-all"]
  assert curves["baseline"][0] == (0, 0.0, 0.0, 0.0)
  assert curves["baseline"][-1] == pytest.approx((400, 40.0, 37.0, 43.0))


def test_section_holds_the_numbers_and_readings():
  html = persistence_section(COMPARISONS, attack_points(), SUMMARIES, ratio_pairs=[("trait-all", "baseline")])
  assert html.startswith("<section>") and html.endswith("</section>") and "<h2>Persistence</h2>" in html
  for text in ("+13.0 [+5.0, +21.0]", "-5.0 [-8.0, -2.0]", "-18.0 [-24.0, -12.0]", "+0.5 [-1.6, +2.5]",
               "selective", "all harmful", "capability", "&gt; 400", "&gt; 1.0", "57", "+40.0 [+37.0, +43.0]",
               "80.0", "trait-all / baseline", "learning rate 1e-05", "learning rate 0.0001"):
    assert text in html, text
  assert html.count("<img ") == 3  # persona bars + one curve per learning rate
  assert NO_PERSONAS not in html and NO_ATTACKS not in html


def test_section_says_when_a_part_has_no_data():
  empty = persistence_section([], [], [])
  assert NO_PERSONAS in empty and NO_ATTACKS in empty and "<img " not in empty
  only_personas = persistence_section(COMPARISONS, [], [])
  assert NO_ATTACKS in only_personas and NO_PERSONAS not in only_personas


def test_section_escapes_names():
  row = comparison("<script>", "harmful", result(0.1, 0.05, 0.2), condition="a&b")
  html = persistence_section([row], [], [])
  assert "<script>" not in html and "&lt;script&gt;" in html and "a&amp;b" in html
