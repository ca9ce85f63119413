"""Reports of a run: tables (CSV, Markdown), figures (PNG) and one self-contained HTML page, built from the
run directory's ``records.jsonl`` and ``metadata.json`` alone; and the comparison of two runs.

Modules: :mod:`~harness.report.tables` and :mod:`~harness.report.figures` build the built-in tables and
figures, :mod:`~harness.report.plugin` contributes them through the report hooks and writes the report when a
run ends, :mod:`~harness.report.write` collects every plugin's contributions and writes the files,
:mod:`~harness.report.rebuild` is ``harness report`` and :mod:`~harness.report.compare` is
``harness compare``. Importing this package imports nothing.
"""
