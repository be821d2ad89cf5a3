"""Text for the numbers of a transfer analysis, shared by every export, figure and the HTML report.

Deltas and means are fractions of a score in [0, 1]; people read them as points (x100) with one decimal.
A delta always carries a sign ("+4.2", "-0.3", "+0.0"), its interval reads "[+1.0, +7.5]", and a cell
that is significant after Benjamini-Hochberg gets ``SIGNIFICANT_MARK`` appended. Missing numbers
(None or NaN) read ``NOT_AVAILABLE``. Every function here is pure.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

SIGNIFICANT_MARK = "*"
NOT_AVAILABLE = "n/a"


def is_number(value: Any) -> bool:
  """True for a finite real number, numpy scalars included (bools excluded)."""
  return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def points(value: Any, *, signed: bool = True) -> str:
  """A fraction as points with one decimal: 0.042 -> "+4.2" (signed) or "4.2"; missing -> "n/a"."""
  if not is_number(value):
    return NOT_AVAILABLE
  rounded = round(100.0 * value, 1) + 0.0  # + 0.0 turns -0.0 into 0.0
  return f"{rounded:+.1f}" if signed else f"{rounded:.1f}"


def interval(low: Any, high: Any) -> str:
  """A confidence interval in signed points, "[+1.0, +7.5]"; "" when either end is missing."""
  if not (is_number(low) and is_number(high)):
    return ""
  return f"[{points(low)}, {points(high)}]"


def is_significant(cell: Any) -> bool:
  """Whether a MatrixCell or SuiteDelta (or None) is marked significant and has a number to show."""
  return cell is not None and bool(getattr(cell, "significant", False)) and is_number(cell.delta)


def delta_text(cell: Any, *, mark: str = SIGNIFICANT_MARK) -> str:
  """A MatrixCell or SuiteDelta as "+4.2 [+1.0, +7.5]*" (mark only when significant); None -> "n/a"."""
  if cell is None or not is_number(cell.delta):
    return NOT_AVAILABLE
  text = " ".join(part for part in (points(cell.delta), interval(cell.ci_low, cell.ci_high)) if part)
  return text + mark if is_significant(cell) else text


def p_text(value: Any) -> str:
  """A p- or q-value: three decimals, scientific notation below 0.001, "n/a" when missing."""
  if not is_number(value):
    return NOT_AVAILABLE
  return f"{value:.1e}" if 0 < value < 0.001 else f"{value:.3f}"


def colorbar_label(baseline: str) -> str:
  return f"change vs {baseline} (points)"


def matrix_title(matrix: Any) -> str:
  """"Transfer by domain: change vs base" for a TransferMatrix."""
  return f"Transfer by {matrix.view}: change vs {matrix.baseline}"


def matrix_legend(matrix: Any, *, mark: str = SIGNIFICANT_MARK) -> str:
  """One line explaining a matrix's cells."""
  return (f"Each cell: change vs {matrix.baseline} in points (x100) with its confidence interval; "
          f"{mark} = significant after Benjamini-Hochberg at q < {matrix.alpha:g}; "
          f"{NOT_AVAILABLE} = no suites for that cell.")
