"""Mean score per eval family of each evaluated condition (absolute, not against the baseline).

  python scripts/family_means.py --workdir W [--condition pre-rl ...] [--mode greedy]

A family's mean is over its items in every domain (each item's score is already the mean over its
samples), pooled over seeds. Prints a markdown table, families as rows and conditions as columns,
with the number of items; used to check that the base model sits between the floor and the ceiling
of every family.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from xgen.analysis.load import load_scores


def family_means(scores: dict, conditions: list[str]) -> dict[str, dict[str, tuple[float, int]]]:
  """{family: {condition: (mean score, items)}} from ``load_scores``'s nested scores."""
  pooled: dict[tuple[str, str], list[float]] = defaultdict(list)
  for condition in conditions:
    for suites in scores.get(condition, {}).values():
      for suite, items in suites.items():
        pooled[suite.split(".")[0], condition].extend(items.values())
  table: dict[str, dict[str, tuple[float, int]]] = defaultdict(dict)
  for (family, condition), values in sorted(pooled.items()):
    table[family][condition] = (sum(values) / len(values), len(values))
  return table


def markdown(table: dict[str, dict[str, tuple[float, int]]], conditions: list[str]) -> str:
  lines = ["| family | " + " | ".join(conditions) + " | items |", "| --- |" + " ---: |" * (len(conditions) + 1)]
  for family, row in table.items():
    cells = [f"{row[c][0]:.2f}" if c in row else "n/a" for c in conditions]
    items = max(n for _, n in row.values())
    lines.append(f"| {family} | " + " | ".join(cells) + f" | {items} |")
  return "\n".join(lines)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--condition", action="append", help="conditions to show (default: all evaluated)")
  parser.add_argument("--mode", default="greedy", choices=("greedy", "sampled"))
  args = parser.parse_args()
  scores, _ = load_scores(args.workdir, mode=args.mode)
  conditions = args.condition or sorted(scores)
  print(markdown(family_means(scores, conditions), conditions))


if __name__ == "__main__":
  main()
