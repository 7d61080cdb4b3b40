"""Carebot's speed figures: `make bench` (= `python -m bench`) runs every section and writes docs/benchmarks.md.

Contract for a section: a module `bench/<name>.py` listed in `bench.__main__.SECTIONS` that exposes

    def run() -> str: ...

returning a markdown fragment (tables and prose, headings from `###` down; the runner adds the `##` title, the
time it was measured and the load average). `run()` starts whatever it measures itself (use `bench.stack` for
servers on free loopback ports, never the fixed 5005/5055/8080), cleans up after itself, and raises if it cannot
measure: a failed section is reported in the document and makes `make bench` exit non-zero, while the other
sections still run. A module not written yet is skipped. `python -m bench --only rasa` runs chosen sections and
replaces only those in docs/benchmarks.md.
"""
