"""Reports of a run: tables (CSV, Markdown), figures (PNG) and one self-contained HTML page, built from the
run directory's ``records.jsonl`` and ``metadata.json`` alone; and the comparison of two runs.

Three layers, one direction. What is computed: :mod:`~harness.report.tables`, :mod:`~harness.report.figures`,
:mod:`~harness.report.samples`, :mod:`~harness.report.across_datasets` and :mod:`~harness.report.time_to_target`
build the built-in tables and figures, which :mod:`~harness.report.plugin` contributes through the report hooks
(as a third party's). What is shown: one module per section of the report under
:mod:`harness.report.sections` (summary, across datasets, time to target, leaderboards, results, learning
curves, data, the full tables, the run), each arranging the collected tables and figures into the blocks of
:mod:`harness.report.section`. How it is written: :mod:`~harness.report.html`, :mod:`~harness.report.markdown`
and :mod:`~harness.report.files` (CSV, PNG) render those blocks, escaping every text from the run;
:mod:`~harness.report.write` ties them together. :mod:`~harness.report.rebuild` is ``harness report`` (from
whatever valid records remain), :mod:`~harness.report.compare` is ``harness compare``, and every command line,
URI or path shown passes through :func:`harness.report.shown.shown`. Importing this package imports nothing.
"""
