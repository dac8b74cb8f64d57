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

__all__ = ["COST_BUDGET_ENV", "DATA_DIR_ENV", "Settings", "default_data_dir", "get_settings"]

DATA_DIR_ENV = "LOOPLAB_DATA_DIR"
COST_BUDGET_ENV = "LOOPLAB_COST_BUDGET_MS"


def default_data_dir() -> Path:
    """A per-user cache directory: samples are large and rebuildable, so not in the source tree."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "looplab" / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOOPLAB_", extra="ignore")

    # Where the sample files live (LOOPLAB_DATA_DIR); created, with the default
    # samples, on startup.
    data_dir: Path = Field(default_factory=default_data_dir)
    # The most injected cost one lab request may ask for (LOOPLAB_COST_BUDGET_MS): the
    # waiting or work its parameters add up to, by its family's formula. Beyond it, 422.
    cost_budget_ms: int = Field(default=30_000, ge=1)


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process (a dependency tests can override)."""
    return Settings()
