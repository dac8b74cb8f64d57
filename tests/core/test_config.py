from pathlib import Path

import pytest

from app.core.config import Settings, default_data_dir


def test_data_dir_defaults_to_a_per_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOOPLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    assert default_data_dir() == Path("/somewhere/cache/looplab/data")
    assert Settings().data_dir == Path("/somewhere/cache/looplab/data")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_data_dir() == Path.home() / ".cache" / "looplab" / "data"


def test_data_dir_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPLAB_DATA_DIR", "/data/looplab")
    assert Settings().data_dir == Path("/data/looplab")


def test_the_default_is_outside_the_source_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    source = Path(__file__).resolve().parents[2]
    assert not default_data_dir().resolve().is_relative_to(source)
