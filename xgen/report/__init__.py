"""Reports of transfer results: exports, figures and a self-contained HTML page.

  formatting.py  deltas as signed points, intervals, p-values (pure string functions)
  atomic.py      atomic file writes (temporary name in the same folder, then rename)
  exports.py     a TransferMatrix as CSV, JSON, Markdown and LaTeX; ``write_matrix`` writes them all
  heatmap.py     annotated heatmaps of transfer matrices and training-curve plots (matplotlib, Agg)
  html.py        ``write_report``: one static HTML file with every table and figure embedded
"""
