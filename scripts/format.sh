#!/usr/bin/env bash
# Applies the project's style (pyproject.toml [tool.ruff]): fixes what ruff can (import order, unused imports),
# then formats. Rerun after a merge; `make lint` checks the result without changing anything.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check --fix --quiet . || true  # what cannot be fixed is reported by the check below
.venv/bin/ruff format .
.venv/bin/ruff check .
