"""Reports of transfer results: exports, figures and a self-contained HTML page.

Files are written with ``xgen.rundir``'s atomic writes.

  formatting.py  deltas as signed points, intervals, p-values (pure string functions)
  exports.py     a TransferMatrix as CSV, JSON, Markdown and LaTeX; ``write_matrix`` writes them all
  heatmap.py     annotated heatmaps of transfer matrices and training-curve plots (matplotlib, Agg)
  html.py        ``write_report``: one static HTML file with every table and figure embedded
  study.py       a run directory's analysis: eval rows -> deltas and matrices -> ``W/analysis/`` (one swap)
"""
