"""The ``looplab`` command line: ``looplab serve`` runs the lab app."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from looplab.monitor.prometheus import MULTIPROC_ENV, prepare_multiprocess_dir

APP_IMPORT = "app.main:app"

cli = typer.Typer(
    name="looplab",
    help="Study blocking work on the asyncio event loop, and measure it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@cli.callback()
def _root() -> None:
    # A callback keeps `looplab` a group of subcommands even while it has one.
    """Study blocking work on the asyncio event loop, and measure it."""


class Loop(StrEnum):
    auto = "auto"
    asyncio = "asyncio"
    uvloop = "uvloop"


# The standard asyncio loop, made by looplab's factory so /monitor can report its
# utilization (time spent outside select()); it is asyncio's own SelectorEventLoop.
_LOOP_FACTORIES = {Loop.asyncio: "looplab.monitor:new_event_loop"}


@contextmanager
def _multiprocess_metrics() -> Iterator[None]:
    # prometheus-client's multiprocess mode: every worker writes its metrics to files in
    # one directory, which must exist, empty, before the workers fork, and go afterwards.
    given = os.environ.get(MULTIPROC_ENV)
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="looplab-metrics-"))
    prepare_multiprocess_dir(path)
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield
    finally:
        shutil.rmtree(path, ignore_errors=True)
        if not given:
            del os.environ[MULTIPROC_ENV]


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    loop: Annotated[Loop, typer.Option(help="Event loop implementation.")] = Loop.auto,
    reload: Annotated[bool, typer.Option(help="Restart when the code changes.")] = False,
) -> None:
    """Serve the lab app with uvicorn."""
    if reload and workers > 1:
        raise typer.BadParameter("--reload runs a single process", param_hint="--workers")
    typer.echo(f"looplab: docs at http://{host}:{port}/docs")
    loop_factory = _LOOP_FACTORIES.get(loop, loop.value)
    if workers > 1:
        with _multiprocess_metrics():
            uvicorn.run(APP_IMPORT, host=host, port=port, workers=workers, loop=loop_factory)
        return
    uvicorn.run(APP_IMPORT, host=host, port=port, workers=workers, loop=loop_factory, reload=reload)


# The bench and the probe live in looplab.bench; registered here so `looplab` lists them.
from looplab.bench.cli import bench, probe  # noqa: E402 (the group must exist first)

cli.command()(bench)
cli.command()(probe)


def main() -> None:
    """Entry point of the ``looplab`` console script."""
    cli()


if __name__ == "__main__":
    main()
