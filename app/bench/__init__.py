"""The lab's side of ``looplab bench``: the app it starts, its data directory, its targets.

Registered under the entry-point group ``looplab.bench`` (pyproject.toml), so the
instrument finds the lab without importing it by name.
"""

from collections.abc import Mapping

from app.bench.targets import LabTargets
from app.cli import APP
from app.core.config import DATA_DIR_ENV, get_settings
from looplab.bench import BenchPlugin

__all__ = ["PLUGIN"]


def _server_env() -> Mapping[str, str]:
    # The server resolves the same setting itself; passing it on pins the directory
    # the bench's targets create their large samples in.
    return {DATA_DIR_ENV: str(get_settings().data_dir)}


PLUGIN = BenchPlugin(
    app=APP, server_env=_server_env, targets=LabTargets(), versions=("asyncer", "pydantic")
)
