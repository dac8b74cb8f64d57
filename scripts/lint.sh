#!/usr/bin/env bash
# Lint, format check and strict typing; CI runs this too.
set -euo pipefail
cd "$(dirname "$0")/.."
uv run ruff check .
uv run ruff format --check .
uv run mypy
