"""The report stage: the paper's numbers, result tables with significance marks, figures and the summary.

Only ``lea.report.experiments`` is imported by the Snakefile side (it needs nothing but ``lea.config``); the other
modules import polars, scipy and matplotlib and are loaded by the ``lea report`` / ``lea summary`` commands.
"""
