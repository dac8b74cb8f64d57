"""Bad input gets a clear 404 or 422, never a 500 and never a byte from elsewhere."""

import os
from pathlib import Path

import httpx
import pytest

from app.samples import ensure_sample, sample_bytes
from looplab.protocol import CatalogueEntry, ParamSpec
from tests.utils.catalogue import entries, over_entries

from .routes.conftest import app_on

pytestmark = pytest.mark.anyio

# Every entry that serves a file from the data directory.
FILE_ENTRIES = entries(where=lambda e: "file" in e.params)

SECRET = b"not for the lab's clients"


@pytest.fixture
def jail(tmp_path: Path) -> Path:
    """A data directory with one sample, next to a secret, with symlinks of every kind."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    data = tmp_path / "data"
    ensure_sample(data, 4096)
    (data / "subdir").mkdir()
    (data / "subdir" / "inner.bin").write_bytes(SECRET)
    os.symlink(tmp_path / "secret.txt", data / "escape.bin")
    os.symlink("../secret.txt", data / "relative-escape.bin")
    os.symlink("/etc/hostname", data / "absolute-escape.bin")
    os.symlink(data / "sample-4KiB.bin", data / "alias.bin")
    os.symlink(data / "missing.bin", data / "dangling.bin")
    os.symlink(data / "loop.bin", data / "loop.bin")
    os.mkfifo(data / "pipe.bin")  # opening it would hang: must be refused first
    return data


@pytest.fixture
async def jail_client(jail: Path) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app_on(jail))
    return httpx.AsyncClient(transport=transport, base_url="http://lab", timeout=10)


# Raw query strings: the client must not re-encode the tricks.
MALFORMED = [
    "..",
    ".",
    "../secret.txt",
    "%2e%2e%2fsecret.txt",
    "%2E%2E/secret.txt",
    "%252e%252e%252fsecret.txt",
    "subdir/inner.bin",
    "subdir%2finner.bin",
    "subdir%5cinner.bin",
    "subdir\\inner.bin",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "sample-4KiB.bin%00.txt",
    "sample-4KiB.bin%00",
    ".hidden",
    "",
    "sample-4KiB.bin%20",
    "a" * 129,
    "a" * 5000,
    "%c0%ae%c0%ae",
]

MISSING = [
    "missing.bin",
    "escape.bin",
    "relative-escape.bin",
    "absolute-escape.bin",
    "dangling.bin",
    "loop.bin",
    "pipe.bin",
    "subdir",
    "a" * 128,
]


@over_entries(FILE_ENTRIES)
@pytest.mark.parametrize("name", MALFORMED)
async def test_malformed_file_names_are_422(
    jail_client: httpx.AsyncClient, entry: CatalogueEntry, name: str
) -> None:
    async with jail_client:
        response = await jail_client.get(f"{entry.path}?file={name}")
    assert response.status_code == 422, response.text
    assert SECRET not in response.content
    assert response.json()["detail"][0]["loc"] == ["query", "file"]


@over_entries(FILE_ENTRIES)
@pytest.mark.parametrize("name", MISSING)
async def test_files_outside_or_not_regular_are_404(
    jail_client: httpx.AsyncClient, entry: CatalogueEntry, name: str
) -> None:
    async with jail_client:
        response = await jail_client.get(entry.path, params={"file": name})
    assert response.status_code == 404, response.text
    assert SECRET not in response.content
    assert "No file named" in response.json()["detail"]


@over_entries(FILE_ENTRIES)
async def test_a_symlink_inside_the_directory_is_served(
    jail_client: httpx.AsyncClient, entry: CatalogueEntry
) -> None:
    async with jail_client:
        response = await jail_client.get(entry.path, params={"file": "alias.bin"})
    assert response.status_code == 200
    if entry.family == "stream":
        assert response.content == sample_bytes(4096)
    else:
        assert response.json()["bytes"] == 4096


def _out_of_bounds(name: str, spec: ParamSpec) -> list[object]:
    """Values of a parameter that its catalogue spec rules out."""
    if spec.choices == [False, True]:
        return ["perhaps"]
    if spec.choices is not None:
        # The file is an open choice (any plain name in the data directory: 404 if
        # missing, tested above); every other choice is a closed set.
        return [] if name == "file" else ["carrier-pigeon"]
    assert spec.min is not None and spec.max is not None, name
    return [spec.min - 1, spec.max + 1, "soon", 1.5, 99_999_999_999_999_999_999]


OUT_OF_BOUNDS = [
    pytest.param(entry, {name: value}, id=f"{entry.id}-{name}={value}")
    for entry in entries()
    for name, spec in entry.params.items()
    for value in _out_of_bounds(name, spec)
]


@pytest.mark.parametrize(("entry", "params"), OUT_OF_BOUNDS)
async def test_out_of_bounds_parameters_are_422(
    jail_client: httpx.AsyncClient, entry: CatalogueEntry, params: dict[str, object]
) -> None:
    # A file that exists: only the bound is wrong.
    query = {"file": "sample-4KiB.bin", **params} if "file" in entry.params else params
    async with jail_client:
        response = await jail_client.get(entry.path, params=query)  # type: ignore[arg-type]
    assert response.status_code == 422, response.text
    (name,) = params
    assert response.json()["detail"][0]["loc"] == ["query", name]
