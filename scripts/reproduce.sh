#!/usr/bin/env bash
# The reference study from a fresh clone: installs xgen as the README does, runs gin/studies/reference.gin end to
# end (world, base, cells, evaluation, personas, the attack, analysis, report) and prints the claims table, the
# report's path and the wall time of each stage. Running it again resumes; on a finished run directory it
# redoes nothing and prints the same table.
#   bash scripts/reproduce.sh [WORKDIR] [STUDY] [FLAGS...]   (defaults: runs/reference, reference; FLAGS go to
#   xgen reproduce, e.g. --parallel 1 to train the cells one by one instead of two at once)
set -euo pipefail
cd "$(dirname "$0")/.."
workdir="${1:-runs/reference}"
study="${2:-reference}"
pip install -q -e .
xgen reproduce --study "$study" --workdir "$workdir" "${@:3}"
