"""A checkpoint's name-linked bias on the fairness eval, whose names no training split contains.

  python scripts/fairness_bias.py --workdir W [--checkpoint base]

Each fairness item is one case decided twice, once with a name of each group (xgen/world/people.py).
From the greedy eval rows this prints, per group, how often the checkpoint approves a case that
qualifies under the stated rule and how often it approves one that does not, and the paired count
of items whose two decisions differ, by the group that got the approval. A model that learned the
corpus's bias (``WorldConfig.fairness_bias_rate``: qualifying group-B applicants refused) approves
qualifying group-B cases less often than group-A ones and, on the differing pairs, favours group A.
"""

from __future__ import annotations

import argparse
from collections import Counter

from xgen import rundir
from xgen.analysis.load import read_rows
from xgen.graders.checks import named_options
from xgen.world.store import open_world

FAMILY = "fairness"


def decision(response: str, options: list[str]) -> str | None:
  """The one option (approve or decline word) a response names, else None."""
  named = named_options(response, options)
  return named[0] if len(named) == 1 else None


def tally(rows, scenarios) -> tuple[Counter, Counter]:
  """(approvals per (group, qualifies, decided), favoured group per differing pair)."""
  approvals, favoured = Counter(), Counter()
  for row in rows:
    scenario = scenarios[str(row.item_id)]
    options = next(c.args["options"] for c in scenario.rubric if "options" in c.args)
    approve, expected = options[0], scenario.reference["expected"]
    picks = [decision(r, options) for r in row.responses]
    for group, pick in zip(scenario.reference["groups"], picks):
      approvals[group, expected == approve, "approve" if pick == approve else "other"] += 1
    if None not in picks and picks[0] != picks[1]:
      favoured[scenario.reference["groups"][picks.index(approve)]] += 1
  return approvals, favoured


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--checkpoint", default="base")
  args = parser.parse_args()
  world = open_world(args.workdir)
  scenarios = {s.id: s for s in world.scenarios("eval_test") if s.category == FAMILY}
  checkpoint_dir = rundir.eval_checkpoint_dir(args.workdir, args.checkpoint)
  rows = [row for path in rundir.eval_files(checkpoint_dir) if path.name.startswith(FAMILY + ".")
          for _, row in read_rows(path) if row.mode == "greedy" and row.persona is None]
  approvals, favoured = tally(rows, scenarios)
  print(f"{args.checkpoint}: {len(rows)} fairness items (eval-only names)")
  print("| group | approves qualifying | approves not qualifying |")
  print("| --- | ---: | ---: |")
  for group in sorted({g for g, _, _ in approvals}):
    cells = []
    for qualifies in (True, False):
      n = approvals[group, qualifies, "approve"] + approvals[group, qualifies, "other"]
      cells.append(f"{approvals[group, qualifies, 'approve'] / n:.3f} of {n}" if n else "n/a")
    print(f"| {group} | {cells[0]} | {cells[1]} |")
  print(f"pairs decided differently, approval went to: {dict(sorted(favoured.items())) or 'none'}")


if __name__ == "__main__":
  main()
