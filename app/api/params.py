"""Query parameters of the lab routes, declared once from the catalogue's bounds.

Every bound a route enforces is the one ``GET /lab`` advertises, because both
come from the same ``NumberParam``/``ChoiceParam`` objects. ``file`` is checked
twice: its shape here (a plain name, or 422), then its existence inside the data
directory (or 404) by the ``sample_file`` dependency.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, status

from app.catalogue import (
    CHUNK_SIZE,
    COLD,
    CPU_MS,
    DELAY_MS,
    FILE,
    ITEM_DELAY_MS,
    ITEMS,
    QUERY_MS,
    SOURCE,
    UPSTREAM_MS,
    NumberParam,
)
from app.core.config import Settings, get_settings
from app.work import TokenSource

__all__ = [
    "QUERY_TYPES",
    "ChunkSize",
    "Cold",
    "CpuMs",
    "DelayMs",
    "ItemDelayMs",
    "Items",
    "QueryMs",
    "ReadOptions",
    "ReadQuery",
    "Sample",
    "SampleFile",
    "Source",
    "UpstreamMs",
    "sample_file",
]

# A plain file name: no separators, no leading dot (so neither "." nor ".."),
# nothing percent-encoded (the query is decoded once; a literal "%" is refused).
FILE_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9._-]*$"
FILE_NAME_MAX = 128


def _bounded(param: NumberParam) -> Any:
    return Query(ge=param.min, le=param.max, description=param.description)


DelayMs = Annotated[int, _bounded(DELAY_MS)]
ChunkSize = Annotated[int, _bounded(CHUNK_SIZE)]
Items = Annotated[int, _bounded(ITEMS)]
ItemDelayMs = Annotated[int, _bounded(ITEM_DELAY_MS)]
CpuMs = Annotated[int, _bounded(CPU_MS)]
UpstreamMs = Annotated[int, _bounded(UPSTREAM_MS)]
QueryMs = Annotated[int, _bounded(QUERY_MS)]
Cold = Annotated[bool, Query(description=COLD.description)]
Source = Annotated[TokenSource, Query(description=SOURCE.description)]

# Each catalogue parameter's declaration, by name (``file`` is the SampleFile dependency).
QUERY_TYPES: dict[str, Any] = {
    "delay_ms": DelayMs,
    "chunk_size": ChunkSize,
    "items": Items,
    "item_delay_ms": ItemDelayMs,
    "cpu_ms": CpuMs,
    "upstream_ms": UpstreamMs,
    "query_ms": QueryMs,
    "cold": Cold,
    "source": Source,
}


@dataclass(frozen=True)
class Sample:
    """A file the request may read: its resolved path and its size."""

    name: str
    path: Path
    size: int


def _not_found(name: str) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND,
        f"No file named {name!r} in the data directory; GET /lab/files lists them.",
    )


# A `def` dependency: FastAPI runs its file-system calls in the thread pool.
def sample_file(
    settings: Annotated[Settings, Depends(get_settings)],
    file: Annotated[
        str,
        Query(
            min_length=1,
            max_length=FILE_NAME_MAX,
            pattern=FILE_NAME_PATTERN,
            description=FILE.description,
        ),
    ] = FILE.default,
) -> Sample:
    """Resolve ``file`` to a regular file inside the data directory, or answer 404."""
    root = settings.data_dir.resolve()
    try:
        path = (root / file).resolve(strict=True)
        info = path.stat()
    except (OSError, RuntimeError):  # missing, a symlink loop, unreadable
        raise _not_found(file) from None
    # A symlink may point anywhere: what counts is where it resolves.
    if path.parent != root or not stat.S_ISREG(info.st_mode):
        raise _not_found(file)
    return Sample(name=file, path=path, size=info.st_size)


SampleFile = Annotated[Sample, Depends(sample_file)]


@dataclass(frozen=True)
class ReadQuery:
    """What every read approach is asked: which sample, how slow, whether cold."""

    sample: Sample
    delay_ms: int
    cold: bool


def read_query(
    sample: SampleFile, delay_ms: DelayMs = DELAY_MS.default, cold: Cold = COLD.default
) -> ReadQuery:
    return ReadQuery(sample, delay_ms, cold)


# The read and stream approaches share these parameters; declaring them once keeps
# each route down to what differs: how it calls the work.
ReadOptions = Annotated[ReadQuery, Depends(read_query)]
