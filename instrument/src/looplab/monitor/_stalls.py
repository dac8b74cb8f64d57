"""A stall: a stretch of time the event loop did not run, with the line to blame."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime

from looplab.monitor._frames import RawFrame, blame_of
from looplab.protocol import Frame, Stall, StallEvidence, StallKind, Waiting

__all__ = ["NO_USER_FRAME", "build_stall", "no_sample_reason"]

# Failure messages and /monitor show the innermost frames; deeper ones are framework plumbing.
_STACK_SHOWN = 20

NO_USER_FRAME = (
    "no user frame on the loop thread's stack (it was in library code, "
    "or waiting for the GIL while other threads ran Python)"
)

# Why the watchdog took no sample, by kind: it needs the GIL and a CPU to run.
_NO_SAMPLE_BECAUSE = {
    "cpu": "a C call on the loop thread held the GIL all along",
    "gc": "garbage collection held the GIL all along",
    "gil": "other threads held the GIL",
    "starved": "the machine did not run this process (busy cores or a CPU quota)",
}


def no_sample_reason(kind: StallKind) -> str:
    because = _NO_SAMPLE_BECAUSE.get(kind, "the stall was shorter than its polling period")
    return f"no stack sample during the stall: the watchdog thread could not run ({because})"


def build_stall(
    started: datetime,
    duration_s: float,
    stacks: Sequence[Sequence[RawFrame]],
    is_user: Callable[[str], bool],
    *,
    route: str | None,
    kind: StallKind,
    kind_reason: str | None,
    waiting: Waiting,
    evidence: StallEvidence | None,
) -> Stall:
    """Turn the watchdog's stack samples of one stall, and what is known of it, into a Stall.

    Several samples may disagree (the loop ran a little, then blocked): the blame
    is the line seen in most samples, like a sampling profiler would say.
    """
    started_at = started.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    blames = [blame_of(stack, is_user) for stack in stacks]
    votes = Counter(blame for blame in blames if blame is not None)
    blame: Frame | None = None
    chosen: Sequence[RawFrame] = ()
    if votes:
        blame = votes.most_common(1)[0][0]
        chosen, reason = stacks[blames.index(blame)], None
    elif stacks:
        chosen, reason = stacks[-1], NO_USER_FRAME
    else:
        reason = no_sample_reason(kind)
    if kind_reason is not None:
        reason = kind_reason if reason is None else f"{reason}; {kind_reason}"
    return Stall(
        started_at=started_at,
        duration_ms=round(duration_s * 1e3, 3),
        route=route,
        blame=blame,
        reason=reason,
        stack=tuple(
            Frame(file=file, line=line, function=function)
            for file, line, function, _ in chosen[-_STACK_SHOWN:]
        ),
        kind=kind,
        waiting=waiting,
        evidence=evidence,
    )
