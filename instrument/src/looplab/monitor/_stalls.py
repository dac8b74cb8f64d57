"""A stall: a stretch of time the event loop did not run, with the line to blame."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import CodeType

from looplab.monitor._frames import RawFrame, blame_of, route_of
from looplab.protocol import Frame, Stall

__all__ = ["NO_SAMPLE", "NO_USER_FRAME", "build_stall"]

# Failure messages and /monitor show the innermost frames; deeper ones are framework plumbing.
_STACK_SHOWN = 20

NO_SAMPLE = (
    "no stack sample during the stall: the watchdog thread could not run "
    "(a C call held the GIL, or the stall was shorter than its polling period)"
)
NO_USER_FRAME = (
    "no user frame on the loop thread's stack (it was in library code, "
    "or waiting for the GIL while other threads ran Python)"
)


def build_stall(
    started: datetime,
    duration_s: float,
    samples: Sequence[Sequence[RawFrame]],
    routes: Mapping[CodeType, str],
    is_user: Callable[[str], bool],
) -> Stall:
    """Turn the watchdog's stack samples of one stall into a :class:`Stall`.

    Several samples may disagree (the loop ran a little, then blocked): the blame
    is the line seen in most samples, like a sampling profiler would say.
    """
    started_at = started.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    blames = [blame_of(stack, is_user) for stack in samples]
    votes = Counter(blame for blame in blames if blame is not None)
    blame: Frame | None = None
    chosen: Sequence[RawFrame] = ()
    if votes:
        blame = votes.most_common(1)[0][0]
        chosen, reason = samples[blames.index(blame)], None
    elif samples:
        chosen, reason = samples[-1], NO_USER_FRAME
    else:
        reason = NO_SAMPLE
    return Stall(
        started_at=started_at,
        duration_ms=round(duration_s * 1e3, 3),
        route=next((r for s in samples if (r := route_of(s, routes)) is not None), None),
        blame=blame,
        reason=reason,
        stack=tuple(
            Frame(file=file, line=line, function=function)
            for file, line, function, _ in chosen[-_STACK_SHOWN:]
        ),
    )
