"""A stall: a stretch of time the event loop did not run, with the line to blame."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import CodeType
from typing import Any

from looplab.monitor.frames import Frame, RawFrame, blame_of, route_of

__all__ = ["Stall", "build_stall"]

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


@dataclass(frozen=True, slots=True)
class Stall:
    """The loop did not tick for ``duration_ms``; ``blame`` is the user's line that held it."""

    started_at: str
    duration_ms: float
    route: str | None
    blame: Frame | None
    reason: str | None
    stack: tuple[Frame, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "duration_ms": round(self.duration_ms, 3),
            "route": self.route,
            "blame": None if self.blame is None else self.blame.as_dict(),
            "reason": self.reason,
            "stack": [frame.as_dict() for frame in self.stack],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stall:
        blame = data.get("blame")
        return cls(
            started_at=str(data["started_at"]),
            duration_ms=float(data["duration_ms"]),
            route=data.get("route"),
            blame=None if blame is None else Frame(blame["file"], blame["line"], blame["function"]),
            reason=data.get("reason"),
            stack=tuple(Frame(f["file"], f["line"], f["function"]) for f in data.get("stack", ())),
        )

    def describe(self, frames: int = 6) -> str:
        """Several lines naming the stall: duration, route, blame and a short stack."""
        where = f"route {self.route}" if self.route else "outside a request"
        blame = f"blocked at {self.blame}" if self.blame else f"no blame ({self.reason})"
        lines = [f"{self.duration_ms:.1f} ms stall at {self.started_at}, {where}, {blame}"]
        lines += [f"    {frame}" for frame in self.stack[-frames:]]
        return "\n".join(lines)


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
    if not samples:
        return Stall(started_at, duration_s * 1e3, None, None, NO_SAMPLE)
    blames = [blame_of(stack, is_user) for stack in samples]
    votes = Counter(blame for blame in blames if blame is not None)
    if votes:
        blame: Frame | None = votes.most_common(1)[0][0]
        chosen = samples[blames.index(blame)]
        reason = None
    else:
        blame, chosen, reason = None, samples[-1], NO_USER_FRAME
    route = next((r for s in samples if (r := route_of(s, routes)) is not None), None)
    stack = tuple(Frame(file, line, function) for file, line, function, _ in chosen[-_STACK_SHOWN:])
    return Stall(started_at, duration_s * 1e3, route, blame, reason, stack)
