"""Outside programs a test needs: found, skipped on a developer's machine, failed in CI."""

import os
import shutil
import sys
from pathlib import Path

import pytest

__all__ = ["required_tool"]


def required_tool(name: str, where_from: str) -> str:
    """The path of the program ``name`` (this environment's scripts first, then PATH).

    With ``CI=true`` a missing program fails the test: CI installs every tool
    (``.ci/run``), so a skip there would be a check that passes without measuring.
    """
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing: {where_from}")
        pytest.skip(f"{name} is not installed ({where_from})")
    return found
