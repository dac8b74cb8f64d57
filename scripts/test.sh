#!/usr/bin/env bash
# The test suite, exactly as README gives it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec uv run pytest "$@"
