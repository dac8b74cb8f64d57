"""``--http``: one set of choices and one default for ``looplab serve`` and ``looplab bench``."""

import inspect
from typing import Any

import pytest
import typer
import uvicorn.config
from typer.testing import CliRunner

from app.cli import serve
from looplab._cli import _cli
from looplab.bench import DEFAULT_HTTP, UVICORN_HTTP, Bench, ServerProcess
from looplab.bench._cli import _settings
from looplab.cli import LoopName
from looplab.protocol import BenchSettings
from tests.test_http_versions import http10_get


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """The ``looplab`` command, with no lab plugin to supply a default app."""
    monkeypatch.setattr("looplab.bench._cli.find_plugin", lambda: None)
    command = _cli()
    assert isinstance(command, typer.Typer)
    return command


def test_the_choices_are_uvicorns() -> None:
    assert UVICORN_HTTP == ("auto", "h11", "httptools")
    assert set(UVICORN_HTTP) <= set(uvicorn.config.HTTP_PROTOCOLS)
    assert DEFAULT_HTTP in UVICORN_HTTP


def test_serve_bench_and_the_server_share_the_default() -> None:
    assert inspect.signature(serve).parameters["http"].default == DEFAULT_HTTP
    assert BenchSettings().http == DEFAULT_HTTP
    assert ServerProcess("app.main:app").http == DEFAULT_HTTP


def _bench_settings(**overrides: Any) -> BenchSettings:
    options: dict[str, Any] = {
        "full": False,
        "family": None,
        "ids": None,
        "concurrency": None,
        "duration": None,
        "probe_rate": 200.0,
        "loop": LoopName.auto,
        "workers": 1,
        "url": None,
        "app": "app.main:app",
    }
    return _settings(**{**options, **overrides})


def test_settings_record_the_choice() -> None:
    assert _bench_settings().http == DEFAULT_HTTP
    assert _bench_settings(http="httptools").http == "httptools"
    assert _bench_settings(url="http://127.0.0.1:9", app=None).http == DEFAULT_HTTP


def test_http_with_url_is_a_usage_error(cli: typer.Typer) -> None:
    # Even the default, said out loud: --http applies to the server the bench starts.
    done = CliRunner().invoke(cli, ["bench", "--url", "http://127.0.0.1:9", "--http", "h11"])
    assert done.exit_code == 2, done.output
    assert "--url" in done.stderr and "--http" in done.stderr


@pytest.mark.parametrize("command", ["bench", "serve"])
def test_an_unknown_choice_is_a_usage_error(cli: typer.Typer, command: str) -> None:
    done = CliRunner().invoke(cli, [command, "--http", "zttp"])
    assert done.exit_code == 2, done.output
    assert "--http" in done.stderr
    assert all(choice in done.stderr for choice in UVICORN_HTTP)


@pytest.mark.parametrize("given", [[], ["--http", "httptools"]])
def test_bench_passes_the_choice_on(
    cli: typer.Typer, monkeypatch: pytest.MonkeyPatch, given: list[str]
) -> None:
    seen: list[BenchSettings] = []

    def run_bench(settings: BenchSettings, plugin: object) -> None:
        seen.append(settings)
        raise typer.Exit(0)

    monkeypatch.setattr("looplab.bench._cli._run_bench", run_bench)
    done = CliRunner().invoke(cli, ["bench", "--app", "app.main:app", *given])
    assert done.exit_code == 0, done.output
    assert [s.http for s in seen] == [given[-1] if given else DEFAULT_HTTP]


@pytest.mark.parametrize("given", [[], ["--http", "httptools"], ["--http", "auto"]])
def test_serve_passes_the_choice_to_uvicorn(
    cli: typer.Typer, monkeypatch: pytest.MonkeyPatch, given: list[str]
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("app.cli.uvicorn.run", lambda app, **options: calls.append(options))
    done = CliRunner().invoke(cli, ["serve", *given])
    assert done.exit_code == 0, done.output
    assert [c["http"] for c in calls] == [given[-1] if given else DEFAULT_HTTP]


@pytest.mark.server
@pytest.mark.parametrize(("http", "chunked"), [("h11", False), ("httptools", True)])
def test_the_bench_starts_its_server_with_the_choice(http: str, chunked: bool) -> None:
    # The server the bench starts tells its implementation apart by how it answers an
    # HTTP/1.0 client on a stream (tests/test_http_versions.py): httptools chunks it.
    settings = BenchSettings(http=http, app="app.main:app", ids=("story.stream",))  # type: ignore[arg-type]
    with Bench(settings).started() as bench:
        headers, _ = http10_get(bench.server.base, "/story/stream")
    assert (headers.get("transfer-encoding") == "chunked") is chunked
