"""Analysis of eval results: paired bootstrap statistics, per-suite deltas and transfer matrices.

  bootstrap.py    pure statistics on score arrays (paired cluster bootstrap, Benjamini-Hochberg)
  permutation.py  sign-flip tests on paired differences, with p-values resolved far below alpha / N
  clusters.py     item clusters (twins sharing a fact or scenario) from scenarios' references
  transfer.py     from scores[condition][seed][suite][item_id] to per-suite deltas and transfer matrices
  counts.py       improved / tied / worse counts with a sign test, per group of suites; BH over a claim's family
  variance.py     item-level and seed-level variance of suite means, per eval family
  load.py         reads the eval rows under WORKDIR/eval/ into that scores mapping (greedy, sampled or both)
"""
