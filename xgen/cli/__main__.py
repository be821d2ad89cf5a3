"""``python -m xgen.cli ...``, as the subprocess and Ray executors run a cell."""

from xgen.cli import console

console()
