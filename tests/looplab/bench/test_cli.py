"""``looplab bench`` and ``looplab probe`` from the command line, as a user runs them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from looplab._cli import _cli
from looplab.bench import Bench, ServerProcess, read_results
from looplab.protocol import BenchSettings, ServerLag

LOOPLAB = [sys.executable, "-m", "looplab._cli"]


def run_cli(
    *args: str, timeout: float = 100, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOOPLAB, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.server
def test_bench_smoke_one_entry(tmp_path: Path) -> None:
    """The CI smoke test: one entry for about a second, then the outputs are checked."""
    out = tmp_path / "out"
    done = run_cli(
        "bench", "--id", "story.stream", "--duration", "1", "--loop", "asyncio", "--out", str(out)
    )
    assert done.returncode == 0, done.stdout + done.stderr

    parsed = read_results(out / "results.json")  # it follows the schema
    assert [(r.id, r.concurrency) for r in parsed.runs] == [("story.stream", 8)]
    run = parsed.runs[0]
    assert run.requests > 0 and run.errors == 0
    assert run.probe_ms.p50 > 0
    # The lab's own app, with its monitor, on the loop asked for (the monitor names it).
    assert parsed.meta.server == "app.main:app (uvicorn)" and parsed.meta.monitor
    assert parsed.meta.settings.loop == "asyncio"
    assert parsed.meta.loop == "asyncio"
    results = json.loads((out / "results.json").read_text())

    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2  # probe p99 and the story lag trace
    assert (out / "probe_p99.png").stat().st_size > 1000
    assert (out / "lag_trace_story.png").stat().st_size > 1000
    assert "story.stream" not in done.stderr
    assert "stream" in done.stdout and "idle floor" in done.stdout

    # --report redraws from the file alone, and --check judges it.
    redrawn = tmp_path / "redrawn"
    again = run_cli("bench", "--report", str(out / "results.json"), "--out", str(redrawn))
    assert again.returncode == 0, again.stderr
    assert (redrawn / "report.html").exists()
    results["runs"][0]["agrees"] = False
    disagreeing = tmp_path / "disagreeing.json"
    disagreeing.write_text(json.dumps(results))
    checked = run_cli("bench", "--report", str(disagreeing), "--check", "--out", str(redrawn))
    assert checked.returncode == 1
    assert "story.stream" in checked.stdout


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--quick", "--full"], "--full"),
        (["--concurrency", "1,x"], "--concurrency"),
        (["--concurrency", "0"], "--concurrency"),
        (["--duration", "0"], "--duration"),
        (["--probe-rate", "-5"], "--probe-rate"),
        (["--loop", "trio"], "--loop"),
        (["--workers", "0"], "--workers"),
        (["--url", "ftp://x"], "--url"),
        (["--url", "http://127.0.0.1:9", "--workers", "2"], "--url"),
        (["--report", "/no/such/results.json"], "--report"),
    ],
)
def test_bad_options_are_usage_errors(args: list[str], complaint: str) -> None:
    done = run_cli("bench", *args, timeout=30)
    assert done.returncode == 2
    assert complaint in done.stderr
    assert "Traceback" not in done.stderr


def test_a_file_that_is_not_results_is_a_usage_error(tmp_path: Path) -> None:
    bogus = tmp_path / "results.json"
    bogus.write_text(json.dumps({"schema_version": 1, "runs": "no"}))
    done = run_cli("bench", "--report", str(bogus), timeout=30)
    assert done.returncode == 2
    assert "not a looplab results file" in done.stderr
    assert "schema_version" in done.stderr  # the departures are named
    assert "Traceback" not in done.stderr


@pytest.fixture
def no_lab(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """The ``looplab`` command as in an environment with the instrument and no lab plugin."""
    monkeypatch.setattr("looplab.bench._cli.find_plugin", lambda: None)
    cli = _cli()
    assert isinstance(cli, typer.Typer)
    return cli


def test_without_a_lab_the_bench_needs_url_or_app(no_lab: typer.Typer) -> None:
    done = CliRunner().invoke(no_lab, ["bench", "--duration", "0.5"])
    assert done.exit_code == 2, done.output
    assert "--url" in done.stderr and "--app" in done.stderr
    assert "no server to measure" in done.stderr
    assert isinstance(done.exception, SystemExit)  # click's usage error, nothing raised


@pytest.mark.parametrize("app", ["app.main", "app/main.py"])
def test_app_needs_module_colon_attribute(no_lab: typer.Typer, app: str) -> None:
    done = CliRunner().invoke(no_lab, ["bench", "--app", app, "--duration", "0.5"])
    assert done.exit_code == 2, done.output
    assert "--app" in done.stderr and "module:attribute" in done.stderr


def test_url_and_app_together_are_a_usage_error(no_lab: typer.Typer) -> None:
    done = CliRunner().invoke(
        no_lab, ["bench", "--url", "http://127.0.0.1:9", "--app", "app.main:app"]
    )
    assert done.exit_code == 2, done.output
    assert "--url" in done.stderr and "--app" in done.stderr


@pytest.mark.server
def test_unknown_family_names_the_known_ones() -> None:
    done = run_cli("bench", "--family", "read,teleport", "--duration", "0.5")
    assert done.returncode == 2
    assert "teleport" in done.stderr and "read" in done.stderr


@pytest.mark.server
def test_a_server_that_fails_to_start_shows_its_log(tmp_path: Path) -> None:
    # The data directory is a file: the app cannot create its samples and exits.
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    done = run_cli("bench", "--duration", "0.5", env={"LOOPLAB_DATA_DIR": str(not_a_dir)})
    assert done.returncode == 1
    assert "the server did not start" in done.stdout
    assert "Traceback" in done.stdout  # uvicorn's log, with the app's error


@pytest.mark.server
def test_url_without_catalogue_runs_the_probe_alone(tmp_path: Path) -> None:
    with ServerProcess("tests.looplab.bench.apps:app", ready_path="/ping") as server:
        done = run_cli("bench", "--url", server.url, "--duration", "1", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "probe alone" in done.stdout
    results = read_results(tmp_path / "results.json")
    assert results.runs == []
    assert results.idle.lag_ms == ServerLag(p99=None, max=None)  # no /monitor there
    assert results.meta.loop == "unknown" and not results.meta.monitor
    assert results.meta.settings.url == server.url and results.meta.settings.app is None


@pytest.mark.server
def test_asyncio_loop_is_looplabs_timed_loop() -> None:
    # ``--loop asyncio`` starts the server on looplab's loop factory, whose busy
    # fraction the monitor can read; uvicorn's plain asyncio loop would give null.
    settings = BenchSettings(loop="asyncio", app="app.main:app", ids=("story.stream",))
    with Bench(settings).started() as bench:
        snapshot = bench.server.monitor()
    assert snapshot.loop.backend == "asyncio"
    assert snapshot.loop.utilization is not None
    assert 0.0 <= snapshot.loop.utilization <= 1.0
    assert [entry.id for entry in bench.entries] == ["story.stream"]


@pytest.mark.server
def test_probe_command(test_server: ServerProcess) -> None:
    done = run_cli("probe", test_server.url + "/ping", "--rate", "100", "--duration", "1")
    assert done.returncode == 0, done.stderr
    assert "100/100 answered, 0 errors" in done.stdout
    assert "p99" in done.stdout


def test_probe_of_a_dead_server_fails_cleanly() -> None:
    done = run_cli("probe", "http://127.0.0.1:9/ping", "--duration", "0.5", timeout=30)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr


@pytest.mark.server
def test_two_workers_are_judged_by_the_probe(tmp_path: Path) -> None:
    # Each worker has its own monitor, so no window speaks for the server: the
    # server figures are null and the verdict comes from the probe.
    done = run_cli(
        "bench",
        "--id",
        "read.asyncify",
        "--workers",
        "2",
        "--duration",
        "1",
        "--out",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = read_results(tmp_path / "results.json")
    assert results.meta.workers == 2 and not results.meta.monitor
    (run,) = results.runs
    assert run.lag_ms == ServerLag(p99=None, max=None)
    assert run.stalls is None and run.threadpool_peak_borrowed is None
    assert run.top_blocker is None
    assert run.verdict_source == "probe"
    assert run.requests > 0
