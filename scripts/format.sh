#!/usr/bin/env bash
# Applies the project's style (pyproject.toml [tool.ruff]): formats, then fixes what ruff can (import order, unused
# imports). Rerun after a merge; `make lint` checks the result without changing anything.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff format .
.venv/bin/ruff check --fix .
