import hashlib
import os
from pathlib import Path

import pytest

from app.samples import (
    DEFAULT_SIZES,
    KiB,
    MiB,
    ensure_default_samples,
    ensure_sample,
    sample_bytes,
    sample_name,
)


@pytest.mark.parametrize(
    ("size", "name"),
    [
        (4 * KiB, "sample-4KiB.bin"),
        (MiB, "sample-1MiB.bin"),
        (64 * MiB, "sample-64MiB.bin"),
        (256 * MiB, "sample-256MiB.bin"),
        (1536 * KiB, "sample-1536KiB.bin"),
        (1000, "sample-1000B.bin"),
        (0, "sample-0B.bin"),
    ],
)
def test_sample_name_uses_binary_units(size: int, name: str) -> None:
    assert sample_name(size) == name


def test_sample_name_rejects_negative_sizes() -> None:
    with pytest.raises(ValueError, match="negative"):
        sample_name(-1)


def test_sample_content_is_fixed() -> None:
    # The same bytes on every machine: pinned by checksum.
    assert hashlib.sha256(sample_bytes(4 * KiB)).hexdigest() == (
        "e7e8ac328015b9de38f70447861f27f01c42d3573d84aa6a8ebe59b8979f36fa"
    )


def test_smaller_samples_are_prefixes_of_larger_ones() -> None:
    big = sample_bytes(MiB + 5)
    assert sample_bytes(4 * KiB) == big[: 4 * KiB]
    assert len(set(big[MiB:])) > 1


def test_ensure_sample_writes_the_content_once(tmp_path: Path) -> None:
    path = ensure_sample(tmp_path / "data", MiB + 123)
    assert path == tmp_path / "data" / "sample-1048699B.bin"
    assert path.read_bytes() == sample_bytes(MiB + 123)
    mtime = path.stat().st_mtime_ns
    assert ensure_sample(tmp_path / "data", MiB + 123) == path
    assert path.stat().st_mtime_ns == mtime
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_ensure_sample_replaces_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / sample_name(4 * KiB)
    path.write_bytes(b"partial")
    assert ensure_sample(tmp_path, 4 * KiB).read_bytes() == sample_bytes(4 * KiB)


def test_ensure_default_samples_creates_the_three_sizes(tmp_path: Path) -> None:
    paths = ensure_default_samples(tmp_path)
    assert [os.path.getsize(p) for p in paths] == list(DEFAULT_SIZES)
    assert [p.name for p in paths] == ["sample-4KiB.bin", "sample-1MiB.bin", "sample-64MiB.bin"]
