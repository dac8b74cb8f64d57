"""``looplab bench`` and ``looplab probe``: the commands, their options and their errors."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from looplab.bench._catalogue import CatalogueError
from looplab.bench._clients import ClientProcessError
from looplab.bench._plugin import BenchPlugin, PluginError, find_plugin
from looplab.bench._probe import probe as run_probe
from looplab.bench._remote import DrainTimeout, NoProbeRoute
from looplab.bench._report import results_table, write_report
from looplab.bench._results import read_results, write_results
from looplab.bench._runner import Bench
from looplab.bench._server import DEFAULT_HTTP, UVICORN_HTTP, ServerStartError
from looplab.cli import LoopName, parse_http
from looplab.protocol import BenchResults, BenchSettings, UvicornHttp

__all__ = ["bench", "probe"]

QUICK_CONCURRENCY = (8,)
FULL_CONCURRENCY = (1, 8, 32)
# Quick: ~30 entries x (run + drain) plus the idle floor within three minutes on 2 cores.
QUICK_DURATION_S = 2.0
FULL_DURATION_S = 5.0

console = Console()
if not console.is_terminal:
    # Piped into a file or a CI log: rich would assume 80 columns and crush the table.
    console = Console(width=170)


def _parse_concurrency(value: str) -> tuple[int, ...]:
    levels: list[int] = []
    for part in value.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise typer.BadParameter(
                f"expected comma-separated positive integers like 1,8,32, not {value!r}",
                param_hint="--concurrency",
            )
        levels.append(int(part))
    return tuple(dict.fromkeys(levels))


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _settings(
    *,
    full: bool,
    family: str | None,
    ids: str | None,
    concurrency: str | None,
    duration: float | None,
    probe_rate: float,
    loop: LoopName,
    workers: int,
    url: str | None,
    app: str | None,
    http: UvicornHttp | None = None,
    monitor_prefix: str = "",
) -> BenchSettings:
    if monitor_prefix and not monitor_prefix.startswith("/"):
        raise typer.BadParameter("expected a path like /_looplab", param_hint="--monitor-prefix")
    if url is not None:
        if not url.startswith("http://"):
            raise typer.BadParameter("expected an http:// URL", param_hint="--url")
        if app is not None:
            raise typer.BadParameter("choose one of --url and --app", param_hint="--url")
        if workers != 1 or loop is not LoopName.auto or http is not None:
            raise typer.BadParameter(
                "--workers, --loop and --http apply to the server the bench starts, not to --url",
                param_hint="--url",
            )
    elif app is None:
        raise typer.BadParameter(
            "no server to measure: pass --url of a running server or --app module:attr to "
            "start one (looplab's lab, installed from its repository, provides a default app)",
            param_hint="--url/--app",
        )
    elif ":" not in app:
        raise typer.BadParameter(
            "expected module:attribute, like myapp.main:app", param_hint="--app"
        )
    levels = (
        _parse_concurrency(concurrency)
        if concurrency is not None
        else (FULL_CONCURRENCY if full else QUICK_CONCURRENCY)
    )
    return BenchSettings(
        mode="full" if full else "quick",
        families=_names(family),
        ids=_names(ids),
        concurrency=levels,
        duration_s=duration or (FULL_DURATION_S if full else QUICK_DURATION_S),
        probe_rate_hz=probe_rate,
        loop=loop.value,
        http=http or DEFAULT_HTTP,
        workers=workers,
        url=url.rstrip("/") if url else None,
        app=None if url is not None else app,
        monitor_prefix=monitor_prefix.rstrip("/"),
    )


def _show(results: BenchResults, out_dir: Path) -> Path:
    report = write_report(results, out_dir)
    if results.runs:
        console.print(results_table(results))
    else:
        idle = results.idle.probe_ms
        console.print(
            f"probe alone (no /lab catalogue there): /ping p50 {idle.p50} ms, "
            f"p90 {idle.p90} ms, p99 {idle.p99} ms, max {idle.max} ms"
        )
    for target in results.targets or []:
        console.print(target.line, markup=False)
    return report


def _exit_on_disagreement(results: BenchResults) -> None:
    disagreeing = [r for r in results.runs if not r.agrees]
    if disagreeing:
        for run in disagreeing:
            console.print(
                f"[red]✗[/] {run.id} x {run.concurrency}: "
                f"measured {run.verdict}, expected {run.expect}"
            )
        raise typer.Exit(1)
    console.print("[green]every verdict agrees with its expect[/]")


def _plugin(*, needed: bool) -> BenchPlugin | None:
    # Needed: the plugin's app is the server to measure. Otherwise only its --full
    # targets are asked for, and a plugin that cannot be used just means none.
    try:
        return find_plugin()
    except PluginError as exc:
        if needed:
            raise typer.BadParameter(str(exc)) from None
        console.print(f"[yellow]no targets:[/] {exc}", highlight=False)
        return None


def _run_bench(settings: BenchSettings, plugin: BenchPlugin | None) -> BenchResults:
    columns = (
        TextColumn("[bold]{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("starting the server", total=None)
        done = -1

        def step(description: str) -> None:
            nonlocal done
            done += 1
            progress.update(task, description=description, completed=done)

        # The plugin's environment (the lab's data directory) goes to its own app only.
        own_app = plugin is not None and settings.app == plugin.app
        env = plugin.server_env() if own_app and plugin is not None else {}
        versions = plugin.versions if plugin is not None else ()
        bench = Bench(settings, server_env=env, versions=versions, progress=step)
        total = None
        try:
            with bench.started():
                targets = plugin.targets if plugin is not None and settings.mode == "full" else None
                total = bench.planned_steps() + (targets.steps(bench) if targets else 0)
                progress.update(task, total=total)
                results = bench.run()
                if targets is not None:
                    results = results.with_targets(targets.measure(bench, results))
        except Interrupted as stop:
            # Leaving started() has stopped the server and the client processes.
            progress.update(task, description=f"interrupted ({stop.signal_name})")
            stop.results = bench.results_so_far(partial=f"interrupted by {stop.signal_name}")
            raise
        progress.update(task, description="done", completed=total)
    return results


class Interrupted(Exception):
    """A signal stopped the bench; ``results`` holds what it had measured, if anything."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.results: BenchResults | None = None


@contextmanager
def _interruptible() -> Iterator[None]:
    # Ctrl-C (SIGINT), kill or timeout (SIGTERM) and a closed terminal (SIGHUP) all
    # unwind the bench the same way, so the server it started and its client processes
    # are stopped and the results so far are kept, instead of the process just dying.
    def stop(signum: int, frame: object) -> None:
        # Once: a second signal must not cut the clean-up short.
        for other in wanted:
            signal.signal(other, signal.SIG_IGN)
        raise Interrupted(signal.Signals(signum).name)

    wanted = [signal.SIGINT, signal.SIGTERM]
    if hasattr(signal, "SIGHUP"):
        wanted.append(signal.SIGHUP)
    previous = {signum: signal.signal(signum, stop) for signum in wanted}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _keep_partial(stop: Interrupted, out_dir: Path) -> None:
    if stop.results is None:
        console.print(f"[yellow]interrupted by {stop.signal_name}[/] before anything was measured")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    write_results(stop.results, out_dir / "results.json")
    console.print(
        f"[yellow]interrupted by {stop.signal_name}[/]: {len(stop.results.runs)} run(s) kept, "
        f"marked partial, in {out_dir / 'results.json'}",
        highlight=False,
    )


def bench(
    quick: Annotated[
        bool, typer.Option("--quick", help="The whole catalogue at one concurrency (default).")
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Concurrency 1, 8 and 32, and the targets.")
    ] = False,
    family: Annotated[str | None, typer.Option(metavar="F,F", help="Only these families.")] = None,
    ids: Annotated[
        str | None, typer.Option("--id", metavar="ID,ID", help="Only these entries.")
    ] = None,
    concurrency: Annotated[
        str | None, typer.Option(metavar="1,8,32", help="Concurrent connections per run.")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(min=0.1, max=3600, metavar="S", help="Seconds per run.")
    ] = None,
    probe_rate: Annotated[
        float, typer.Option(min=1, max=10000, metavar="HZ", help="Probe requests per second.")
    ] = 200.0,
    loop: Annotated[LoopName, typer.Option(help="The server's event loop.")] = LoopName.auto,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server worker processes.")] = 1,
    http: Annotated[
        UvicornHttp | None,
        typer.Option(
            parser=parse_http,
            metavar=f"<{'|'.join(UVICORN_HTTP)}>",
            show_default=False,  # None stands for "not given", which --url needs to know
            help=f"The server's HTTP implementation, as for serve. \\[default: {DEFAULT_HTTP}]",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(metavar="DIR", help="Output directory.", file_okay=False)
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="Measure this running server instead of starting one.")
    ] = None,
    app: Annotated[
        str | None,
        typer.Option(
            metavar="MODULE:ATTR",
            help="The ASGI app to start under uvicorn \\[default: the installed lab's app].",
        ),
    ] = None,
    monitor_prefix: Annotated[
        str,
        typer.Option(
            metavar="PATH",
            help="Where the app mounts looplab's /ping and /monitor (instrument(app, prefix=)).",
        ),
    ] = "",
    check: Annotated[
        bool, typer.Option("--check", help="Exit non-zero when a verdict disagrees with expect.")
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option(
            metavar="RESULTS_JSON",
            exists=True,
            dir_okay=False,
            help="Redraw the report from a results file; measure nothing.",
        ),
    ] = None,
) -> None:
    """Measure every catalogue approach under load, with an open-loop probe beside it."""
    if quick and full:
        raise typer.BadParameter("choose one of --quick and --full", param_hint="--full")
    if report is not None:
        try:
            results = read_results(report)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--report") from None
        page = _show(results, out or report.parent)
        console.print(f"report: {page}")
        if check:
            _exit_on_disagreement(results)
        return
    plugin = None if url is not None or app is not None else _plugin(needed=True)
    settings = _settings(
        full=full,
        family=family,
        ids=ids,
        concurrency=concurrency,
        duration=duration,
        probe_rate=probe_rate,
        loop=loop,
        workers=workers,
        url=url,
        app=app if app is not None else (plugin.app if plugin else None),
        http=http,
        monitor_prefix=monitor_prefix,
    )
    if plugin is None and settings.mode == "full":
        # --url or --app with --full still get the lab's targets: they check the ids they need.
        plugin = _plugin(needed=False)
    out_dir = out or Path("bench-results") / datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        with _interruptible():
            results = _run_bench(settings, plugin)
    except Interrupted as stop:
        _keep_partial(stop, out_dir)
        raise typer.Exit(128 + signal.Signals[stop.signal_name].value) from None
    except ServerStartError as exc:
        console.print("[red]the server did not start[/]; its log follows", highlight=False)
        console.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from None
    except (CatalogueError, NoProbeRoute) as exc:
        raise typer.BadParameter(str(exc)) from None
    except (DrainTimeout, ClientProcessError, OSError) as exc:
        console.print(f"[red]the bench stopped:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    write_results(results, out_dir / "results.json")
    page = _show(results, out_dir)
    console.print(f"results: {out_dir / 'results.json'}\nreport:  {page}")
    if check:
        _exit_on_disagreement(results)


def probe(
    url: Annotated[
        str, typer.Argument(help="The full URL to probe, e.g. http://127.0.0.1:8000/ping.")
    ],
    rate: Annotated[float, typer.Option(min=1, max=10000, help="Requests per second.")] = 200.0,
    duration: Annotated[float, typer.Option(min=0.1, max=3600, help="Seconds.")] = 5.0,
    connections: Annotated[int, typer.Option(min=1, max=1024, help="Keep-alive connections.")] = 16,
) -> None:
    """Probe a URL at a fixed rate; latencies from each request's intended send time."""
    if not url.startswith("http://"):
        raise typer.BadParameter("expected an http:// URL", param_hint="URL")
    try:
        result = asyncio.run(
            run_probe(url, rate_hz=rate, duration_s=duration, connections=connections)
        )
    except OSError as exc:
        console.print(f"[red]cannot reach {url}:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    p = result.probe_ms
    console.print(
        f"{url}: {result.completed}/{result.sent} answered, {result.errors} errors at {rate:g}/s "
        f"for {duration:g}s\nlatency from intended send (ms): p50 {p.p50} · p90 {p.p90} · "
        f"p99 {p.p99} · max {p.max}",
        highlight=False,
    )
    if result.errors:
        raise typer.Exit(1)
