"""Building blocks for commands that join the ``looplab`` command (the ``bench`` extra).

A distribution adds a command by naming a function in the entry-point group
``looplab.commands``; Typer turns it into a subcommand. The options a server
command shares with ``looplab bench`` are here, so both mean the same thing.
"""

from __future__ import annotations

from enum import StrEnum

import typer

from looplab.bench._server import UVICORN_HTTP
from looplab.protocol import UvicornHttp

__all__ = ["COMMANDS_GROUP", "LoopName", "parse_http"]

COMMANDS_GROUP = "looplab.commands"


class LoopName(StrEnum):
    """A server's event loop; "asyncio" is looplab's timed asyncio loop (``UVICORN_LOOPS``)."""

    auto = "auto"
    asyncio = "asyncio"
    uvloop = "uvloop"


def parse_http(value: str) -> UvicornHttp:
    """``--http``: one of ``UVICORN_HTTP``, for the bench and any server command."""
    if value not in UVICORN_HTTP:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(UVICORN_HTTP)}")
    return value
