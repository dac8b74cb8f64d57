"""The catalogue and the data directory: ``GET /lab``, ``GET /lab/files``, ``GET /lab/open``.

Its router's lifespan creates the data directory and the default samples, so
any app that includes it is ready to serve them.
"""

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from app.catalogue import CATALOGUE
from app.core.config import Settings, get_settings
from app.samples import ensure_default_samples
from app.work import open_counts
from looplab.protocol import CatalogueEntry

__all__ = ["FileInfo", "OpenCounts", "lifespan", "router"]


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # Writing 64 MiB takes a moment: not on the loop.
    await anyio.to_thread.run_sync(ensure_default_samples, get_settings().data_dir)
    yield


router = APIRouter(prefix="/lab", tags=["lab"], lifespan=lifespan)


@router.get("")
async def list_catalogue() -> list[CatalogueEntry]:
    """The catalogue: every endpoint, its approach, what it does to the loop, and its workload."""
    return list(CATALOGUE)


class FileInfo(BaseModel):
    name: str
    size: int
    sha256: str


# Hashing 64 MiB costs a fraction of a second: once per version of a file.
_checksums: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    checksum = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1024 * 1024):
            checksum.update(block)
    return checksum.hexdigest()


def _list_files(data_dir: Path) -> list[FileInfo]:
    files = []
    for entry in os.scandir(data_dir):
        # Dot files are samples still being written (or not ours).
        if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        info = entry.stat()
        key = (entry.name, info.st_size, info.st_mtime_ns)
        if key not in _checksums:
            _checksums[key] = _sha256(Path(entry.path))
        files.append(FileInfo(name=entry.name, size=info.st_size, sha256=_checksums[key]))
    return sorted(files, key=lambda f: (f.size, f.name))


# ✅ A def route: listing and hashing run in the thread pool.
@router.get("/files")
def list_files(settings: Annotated[Settings, Depends(get_settings)]) -> list[FileInfo]:
    """The files in the data directory, with their sizes and SHA-256."""
    if not settings.data_dir.is_dir():
        return []
    return _list_files(settings.data_dir)


class OpenCounts(BaseModel):
    files: int
    producers: int
    # Every descriptor of the process: sockets, pipes and files alike.
    descriptors: int | None


@router.get("/open")
async def count_open() -> OpenCounts:
    """What the lab's work holds open right now: sample files, producers, descriptors."""
    try:
        descriptors: int | None = len(os.listdir("/proc/self/fd"))
    except OSError:
        descriptors = None
    return OpenCounts(**open_counts(), descriptors=descriptors)
