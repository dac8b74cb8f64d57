"""Deterministic sample files: the same bytes on every machine, so checksums compare.

The content is SHAKE-256 output, one MiB block at a time (block ``i`` is the
digest of ``looplab-sample/i``): incompressible, so no layer can cheat by
compressing it, and every sample is a prefix of any larger one. A sample is
written to a temporary file in the same directory and renamed into place, so a
reader never sees half a file, even with several processes starting at once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = [
    "DEFAULT_SIZES",
    "KiB",
    "MiB",
    "ensure_default_samples",
    "ensure_sample",
    "sample_bytes",
    "sample_name",
]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

DEFAULT_SIZES = (4 * KiB, 1 * MiB, 64 * MiB)


_BLOCK = MiB
_UNITS = (("GiB", GiB), ("MiB", MiB), ("KiB", KiB))


def sample_name(size_bytes: int) -> str:
    """The file name of the sample of ``size_bytes``: ``sample-4KiB.bin``, ``sample-1MiB.bin``."""
    if size_bytes < 0:
        raise ValueError(f"a sample size cannot be negative: {size_bytes}")
    for unit, factor in _UNITS:
        if size_bytes >= factor and size_bytes % factor == 0:
            return f"sample-{size_bytes // factor}{unit}.bin"
    return f"sample-{size_bytes}B.bin"


def _block(index: int) -> bytes:
    return hashlib.shake_256(f"looplab-sample/{index}".encode()).digest(_BLOCK)


def sample_bytes(size_bytes: int) -> bytes:
    """The content of the sample of ``size_bytes``, in memory (for tests and small sizes)."""
    blocks = (_block(i) for i in range(-(-size_bytes // _BLOCK)))
    return b"".join(blocks)[:size_bytes]


def _write_sample(path: Path, size_bytes: int) -> None:
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            written = 0
            index = 0
            while written < size_bytes:
                block = _block(index)[: size_bytes - written]
                out.write(block)
                written += len(block)
                index += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def ensure_sample(data_dir: Path, size_bytes: int) -> Path:
    """Create the ``size_bytes`` sample in ``data_dir`` unless it is there; return its path.

    A file of the right name but the wrong size (an interrupted copy, say) is
    replaced. The directory is created if needed.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / sample_name(size_bytes)
    try:
        if path.stat().st_size == size_bytes:
            return path
    except FileNotFoundError:
        pass
    _write_sample(path, size_bytes)
    return path


def ensure_default_samples(data_dir: Path) -> list[Path]:
    """Create the default samples (4 KiB, 1 MiB, 64 MiB) in ``data_dir``; return their paths."""
    return [ensure_sample(data_dir, size) for size in DEFAULT_SIZES]
