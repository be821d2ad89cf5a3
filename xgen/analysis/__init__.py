"""Analysis of eval results: paired bootstrap statistics, per-suite deltas and transfer matrices.

  bootstrap.py  pure statistics on score arrays (paired cluster bootstrap, Benjamini-Hochberg)
  transfer.py   from scores[condition][seed][suite][item_id] to per-suite deltas and transfer matrices
  load.py       reads the eval rows under WORKDIR/eval/ into that scores mapping
"""
