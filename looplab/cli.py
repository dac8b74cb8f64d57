"""The ``looplab`` command line: ``looplab serve`` runs the lab app."""

from enum import StrEnum
from typing import Annotated

import typer
import uvicorn

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
    uvicorn.run(APP_IMPORT, host=host, port=port, workers=workers, loop=loop.value, reload=reload)


def main() -> None:
    """Entry point of the ``looplab`` console script."""
    cli()


if __name__ == "__main__":
    main()
