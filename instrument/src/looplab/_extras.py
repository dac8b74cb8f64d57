"""Optional features and the extras that install them.

The core (the monitor, the test helpers, the pytest plugin) needs only anyio,
hdrhistogram and pydantic. Each optional feature imports its dependencies when it
is first used, through :func:`requires`, so that a missing one says which extra
to install instead of raising a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["requires"]


@contextmanager
def requires(extra: str, feature: str) -> Iterator[None]:
    """Turn an ImportError inside the block into one that names ``looplab[extra]``."""
    try:
        yield
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs looplab's {extra!r} extra: pip install 'looplab[{extra}]' "
            f"(missing: {exc.name or exc})"
        ) from exc
