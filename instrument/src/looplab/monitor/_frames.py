"""Stacks of the loop thread, and which of their frames is to blame for a stall.

The watchdog thread reads the loop thread's stack with ``sys._current_frames()``
while the loop is stalled. The *blame* frame is the innermost frame that belongs
to the user's code: neither the standard library, nor an installed package, nor
looplab itself, because that is the line that made the blocking call.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from collections.abc import Callable, Iterable, Mapping
from types import CodeType, FrameType
from typing import Any

from looplab.protocol import Frame

__all__ = [
    "Frame",
    "RawFrame",
    "blame_of",
    "current_stack_of",
    "is_user_file",
    "route_of",
    "route_paths",
    "walk_stack",
]

# Deep recursion must not make one sample expensive; the innermost frames are the ones that count.
_MAX_FRAMES = 64


# (file, line, function, code): the code object stays for route attribution only.
RawFrame = tuple[str, int, str, CodeType]


def walk_stack(frame: FrameType | None) -> list[RawFrame]:
    """The frames from ``frame`` outwards, returned outermost first (traceback order)."""
    frames: list[RawFrame] = []
    while frame is not None and len(frames) < _MAX_FRAMES:
        code = frame.f_code
        frames.append((code.co_filename, frame.f_lineno or 0, code.co_name, code))
        frame = frame.f_back
    frames.reverse()
    return frames


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    # "scripts" holds console-script wrappers (the `looplab` command itself): their
    # `<module>` frame is at the bottom of every stack, never the culprit.
    keys = ("stdlib", "platstdlib", "purelib", "platlib", "scripts")
    roots = {paths[key] for key in keys if key in paths}
    roots.update(site.getsitepackages())
    roots.add(site.getusersitepackages())
    # looplab's own frames (the ticker, the test helpers) are never the culprit.
    roots.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return tuple(os.path.join(os.path.realpath(root), "") for root in roots if root)


_LIBRARY_ROOTS = _library_roots()
_USER_FILE_CACHE: dict[str, bool] = {}


def is_user_file(filename: str) -> bool:
    """The default blame rule: a file outside the stdlib, site-packages and looplab."""
    cached = _USER_FILE_CACHE.get(filename)
    if cached is not None:
        return cached
    if filename.startswith("<"):
        # <frozen importlib._bootstrap>, <string>: nothing a user can fix.
        result = False
    else:
        path = os.path.realpath(filename)
        result = not (
            path.startswith(_LIBRARY_ROOTS)
            or f"{os.sep}site-packages{os.sep}" in path
            or f"{os.sep}dist-packages{os.sep}" in path
        )
    _USER_FILE_CACHE[filename] = result
    return result


def blame_of(stack: Iterable[RawFrame], is_user: Callable[[str], bool]) -> Frame | None:
    """The innermost frame of ``stack`` (outermost first) whose file ``is_user`` accepts."""
    blamed: Frame | None = None
    for file, line, function, _ in stack:
        if is_user(file):
            blamed = Frame(file=file, line=line, function=function)
    return blamed


def route_paths(app: Any) -> dict[CodeType, str]:
    """Map each endpoint's code object to its route path, for any Starlette or FastAPI app.

    A generator endpoint runs its own code object, so it is found on the stack the same way.
    Mounted sub-apps are walked with their prefix.
    """
    found: dict[CodeType, str] = {}
    _collect_routes(getattr(app, "routes", ()), "", found)
    return found


def _collect_routes(routes: Iterable[Any], prefix: str, found: dict[CodeType, str]) -> None:
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            # FastAPI >= 0.16x keeps an included router as a branch (``_IncludedRouter``)
            # instead of copying its routes; its prefix lives in the include context.
            context_prefix = str(getattr(getattr(route, "include_context", None), "prefix", ""))
            _collect_routes(getattr(included, "routes", ()), prefix + context_prefix, found)
            continue
        path = prefix + str(getattr(route, "path", ""))
        code = getattr(getattr(route, "endpoint", None), "__code__", None)
        if isinstance(code, CodeType):
            found.setdefault(code, path)
        children = getattr(route, "routes", None)
        if children is not None:
            _collect_routes(children, path, found)


def route_of(stack: Iterable[RawFrame], routes: Mapping[CodeType, str]) -> str | None:
    """The route whose endpoint is on ``stack``, innermost first; ``None`` outside a request."""
    if not routes:
        return None
    for _, _, _, code in reversed(list(stack)):
        path = routes.get(code)
        if path is not None:
            return path
    return None


def current_stack_of(thread_id: int) -> list[RawFrame] | None:
    """The stack of another thread right now, or ``None`` if it has gone."""
    frame = sys._current_frames().get(thread_id)
    return None if frame is None else walk_stack(frame)
