"""The ``looplab`` command: ``bench`` and ``probe``, and the commands installed labs add.

A lab adds commands through the entry-point group ``looplab.commands`` (looplab's
own lab adds ``serve``): each entry point names a function that Typer turns into
a subcommand of that name.
"""

from __future__ import annotations

import importlib.metadata
import sys
from typing import TYPE_CHECKING

from looplab._extras import requires

if TYPE_CHECKING:
    import typer

__all__ = ["main"]


def _cli() -> typer.Typer:
    with requires("bench", "the looplab command"):
        import typer

        from looplab.bench._cli import bench, probe
        from looplab.cli import COMMANDS_GROUP

    cli = typer.Typer(
        name="looplab",
        help="Measure what blocking work does to an asyncio event loop.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    cli.command()(bench)
    cli.command()(probe)
    for entry_point in sorted(
        importlib.metadata.entry_points(group=COMMANDS_GROUP), key=lambda ep: ep.name
    ):
        if entry_point.name in {"bench", "probe"}:
            continue  # looplab's own commands are not replaced
        cli.command(name=entry_point.name)(entry_point.load())
    return cli


def main() -> None:
    """Entry point of the ``looplab`` console script."""
    try:
        cli = _cli()
    except ImportError as exc:
        sys.exit(f"looplab: {exc}")
    cli()


if __name__ == "__main__":
    main()
