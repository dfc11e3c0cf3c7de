"""Speed, memory and load benchmarks; run each from the repository root as ``python -m benchmarks.NAME``.

Results are printed as a table and written as JSON to ``benchmarks/results/<NAME>.json`` (or ``--json PATH``).
"""
