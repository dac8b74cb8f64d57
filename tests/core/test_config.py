from pathlib import Path

import pytest

from app.core.config import DATA_DIR_ENV, Settings, default_data_dir


def test_data_dir_defaults_to_a_per_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    assert default_data_dir() == Path("/somewhere/cache/looplab/data")
    assert Settings().data_dir == Path("/somewhere/cache/looplab/data")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_data_dir() == Path.home() / ".cache" / "looplab" / "data"


def test_data_dir_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The variable the README documents, and the one the bench plugin hands its server.
    assert DATA_DIR_ENV == "LOOPLAB_DATA_DIR"
    monkeypatch.setenv(DATA_DIR_ENV, "/data/looplab")
    assert Settings().data_dir == Path("/data/looplab")


def test_the_default_is_outside_the_source_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    source = Path(__file__).resolve().parents[2]
    assert not default_data_dir().resolve().is_relative_to(source)
