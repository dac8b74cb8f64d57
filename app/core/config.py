"""The app's settings, read from ``LOOPLAB_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from looplab.samples import default_data_dir

__all__ = ["Settings", "default_data_dir", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOOPLAB_", extra="ignore")

    # Where the sample files live; created, with the default samples, on startup.
    data_dir: Path = Field(default_factory=default_data_dir)


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process (a dependency tests can override)."""
    return Settings()
