"""Measuring Carebot on language the team did not write (`make eval`) and on the team's triage cases
(`make eval-triage`), always through the real running bot.

The external corpora live outside the repository (`EVAL_DIR`, default `<project>/../shared/eval`) and are read
only at run time: no utterance from them may be copied into the repository, not even into a report. Only counts
go into docs/benchmarks.md; a few failing examples are printed to the console for the flow owners.
"""
