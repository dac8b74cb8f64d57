"""Blocks a test expects to stall the loop (``expect_blocking``), kept out of the suite gate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

from looplab.protocol import Stall

__all__ = ["expected_blocks", "note_expected_block", "now"]

# Stall start times are worked out from the lag, to the millisecond: allow for rounding.
_SLACK = timedelta(milliseconds=20)

_BLOCKS: ContextVar[list[tuple[datetime, datetime]] | None] = ContextVar(
    "looplab_expected_blocks", default=None
)


def note_expected_block(started: datetime, ended: datetime) -> None:
    """Called by ``expect_blocking``: this stretch was meant to block."""
    blocks = _BLOCKS.get()
    if blocks is not None:
        blocks.append((started, ended))


@contextmanager
def expected_blocks() -> Iterator[Callable[[Stall], bool]]:
    """Collect the expected blocks run inside; yields "was this stall one of them?"."""
    blocks: list[tuple[datetime, datetime]] = []
    token = _BLOCKS.set(blocks)

    def expected(stall: Stall) -> bool:
        start = datetime.fromisoformat(stall.started_at)
        end = start + timedelta(milliseconds=stall.duration_ms)
        return any(first - _SLACK <= start and end <= last + _SLACK for first, last in blocks)

    try:
        yield expected
    finally:
        _BLOCKS.reset(token)


def now() -> datetime:
    return datetime.now(UTC)
