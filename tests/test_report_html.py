"""The HTML report: one self-contained file, every name in it escaped, figures embedded as data URIs."""

from __future__ import annotations

import base64
import html
import re

import numpy as np
import pytest

from xgen.analysis.transfer import MatrixCell, SuiteDelta, TransferMatrix
from xgen.report.heatmap import symmetric_limit
from xgen.report.html import write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
CONDITIONS = ("honesty_only", "evil<script>")
SUITES = ("calibration.health", "calibration.finance", "refusal.health")


def make_deltas() -> list[SuiteDelta]:
  deltas = []
  for i, condition in enumerate(CONDITIONS):
    for j, suite in enumerate(SUITES):
      family, domain = suite.split(".")
      delta = 0.03 * (1 - i) - 0.01 * j
      deltas.append(SuiteDelta(condition=condition, suite=suite, family=family, domain=domain, baseline_mean=0.5,
                               condition_mean=0.5 + delta, delta=delta, ci_low=delta - 0.02, ci_high=delta + 0.02,
                               p_value=0.01 + 0.1 * j, q_value=0.03 + 0.1 * j, n_items=30, n_seeds=3,
                               significant=j == 0))
  return deltas


def make_matrix(view: str, columns: tuple[str, ...], missing: tuple[str, str] | None) -> TransferMatrix:
  cells = {}
  for i, row in enumerate(CONDITIONS):
    for j, column in enumerate(columns):
      if (row, column) != missing:
        delta = 0.02 * (1 - 2 * i) + 0.01 * j
        cells[row, column] = MatrixCell(row=row, column=column, delta=delta, ci_low=delta - 0.01,
                                        ci_high=delta + 0.01, p_value=0.01, q_value=0.02, significant=i == 0,
                                        n_suites=2)
  return TransferMatrix(view=view, baseline="sft_base", rows=CONDITIONS, columns=columns, cells=cells, alpha=0.05)


def write(directory, **overrides):
  arguments = dict(
      title="Transfer <study>", summary_lines=["3 conditions & 2 views"],
      matrices=[make_matrix("domain", ("health", "finance"), ("evil<script>", "finance")),
                make_matrix("family", ("calibration", "refusal"), None)],
      deltas=make_deltas(),
      curves={"reward": {c: [(0, 0.1), (10, 0.4)] for c in CONDITIONS}, "kl": {c: [(0, 0.0), (10, 0.2)]
                                                                               for c in CONDITIONS}},
      refusal={"honesty_only": {"refusal_rate": 0.12, "n": 50}, "evil<script>": {"refusal_rate": 0.3, "n": 50}},
      notes=["seeds: 3 per condition"])
  arguments.update(overrides)
  path = write_report(directory / "report" / "index.html", **arguments)
  return path, path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
  """The full report, written once for the tests that only read it: (path, page)."""
  return write(tmp_path_factory.mktemp("html"))


def test_report_is_one_self_contained_file(report):
  path, page = report
  assert [p.name for p in path.parent.iterdir()] == ["index.html"]  # atomic: no temp file left behind
  assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
  images = DATA_URI.findall(page)
  assert len(images) == 2 + 2  # one heatmap per matrix, one plot per metric
  assert all(base64.b64decode(data)[:8] == PNG_SIGNATURE for data in images)
  rest = DATA_URI.sub('src=""', page)
  assert "http" not in rest.lower()
  assert "<script" not in rest and "<link" not in rest and "src=\"\"" in rest


def test_report_names_every_condition_and_suite_escaped(report):
  _, page = report
  for name in (*CONDITIONS, *SUITES, "calibration", "refusal", "sft_base"):
    assert html.escape(name) in page, name
  assert "evil&lt;script&gt;" in page
  assert "<script>" not in page
  assert "Transfer &lt;study&gt;" in page and "3 conditions &amp; 2 views" in page
  assert "seeds: 3 per condition" in page


def test_report_tables(report):
  _, page = report
  assert '<td class="na">n/a</td>' in page  # the missing (evil<script>, finance) cell
  assert page.count('<td class="na">n/a</td>') == 1
  assert "+2.0 [+1.0, +3.0]*" in page  # significant matrix cell
  assert "3 of 3 improved (1 significant)" in page  # honesty_only's win count
  assert "0 of 3 improved (0 significant)" in page
  assert "+3.0*" in page and "[+1.0, +5.0]" in page  # honesty_only on calibration.health
  assert "refusal_rate" in page and "0.120" in page
  # Absolute levels under each delta: honesty_only on the health column averages 53.0 and 51.0.
  assert "50.0 -&gt; 52.0" in page and "CI (unadjusted)" in page


def test_noise_is_not_drawn_saturated():
  assert symmetric_limit(np.array([[0.5, -2.0]])) == 10.0
  assert symmetric_limit(np.array([[25.0, np.nan], [-30.0, 1.0]])) == 30.0


def test_report_without_optional_sections(tmp_path):
  matrix = make_matrix("domain", ("health",), None)
  _, page = write(tmp_path, matrices=[matrix], refusal=None, notes=(), curves={}, summary_lines=[])
  assert "Refusals" not in page and "Notes" not in page and "Training curves" not in page
  assert len(DATA_URI.findall(page)) == 1
  assert 'class="na"' not in page
