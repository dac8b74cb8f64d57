"""The app's settings, read from ``LOOPLAB_*`` environment variables.

The one place the data directory is resolved: the app, ``looplab serve`` and the
bench plugin (which hands it to the server it starts) all read ``get_settings()``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DATA_DIR_ENV", "Settings", "default_data_dir", "get_settings"]

DATA_DIR_ENV = "LOOPLAB_DATA_DIR"


def default_data_dir() -> Path:
    """A per-user cache directory: samples are large and rebuildable, so not in the source tree."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "looplab" / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOOPLAB_", extra="ignore")

    # Where the sample files live (LOOPLAB_DATA_DIR); created, with the default
    # samples, on startup.
    data_dir: Path = Field(default_factory=default_data_dir)


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process (a dependency tests can override)."""
    return Settings()
