"""Bad input gets a clear 404 or 422, never a 500 and never a byte from elsewhere."""

import os
from pathlib import Path

import httpx
import pytest

from looplab.samples import ensure_sample, sample_bytes

from .routes.conftest import app_on

pytestmark = pytest.mark.anyio

FILE_PATHS = [
    "/lab/read/inline",
    "/lab/read/threadpool",
    "/lab/read/asyncify",
    "/lab/read/anyio",
    "/lab/stream/inline",
    "/lab/stream/threadpool",
    "/lab/stream/asyncify",
    "/lab/stream/fileresponse",
]

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


@pytest.mark.parametrize("path", FILE_PATHS)
@pytest.mark.parametrize("name", MALFORMED)
async def test_malformed_file_names_are_422(
    jail_client: httpx.AsyncClient, path: str, name: str
) -> None:
    async with jail_client:
        response = await jail_client.get(f"{path}?file={name}")
    assert response.status_code == 422, response.text
    assert SECRET not in response.content
    assert response.json()["detail"][0]["loc"] == ["query", "file"]


@pytest.mark.parametrize("path", FILE_PATHS)
@pytest.mark.parametrize("name", MISSING)
async def test_files_outside_or_not_regular_are_404(
    jail_client: httpx.AsyncClient, path: str, name: str
) -> None:
    async with jail_client:
        response = await jail_client.get(path, params={"file": name})
    assert response.status_code == 404, response.text
    assert SECRET not in response.content
    assert "No file named" in response.json()["detail"]


@pytest.mark.parametrize("path", FILE_PATHS)
async def test_a_symlink_inside_the_directory_is_served(
    jail_client: httpx.AsyncClient, path: str
) -> None:
    async with jail_client:
        response = await jail_client.get(path, params={"file": "alias.bin"})
    assert response.status_code == 200
    if "stream" in path:
        assert response.content == sample_bytes(4096)
    else:
        assert response.json()["bytes"] == 4096


OUT_OF_BOUNDS = [
    ("/lab/read/inline", {"delay_ms": -1}),
    ("/lab/read/threadpool", {"delay_ms": 10_001}),
    ("/lab/read/asyncify", {"delay_ms": "soon"}),
    ("/lab/read/anyio", {"cold": "perhaps"}),
    ("/lab/stream/inline", {"chunk_size": 1023}),
    ("/lab/stream/threadpool", {"chunk_size": 8 * 1024 * 1024 + 1}),
    ("/lab/stream/asyncify", {"chunk_size": 0}),
    ("/lab/stream/asyncify", {"delay_ms": 99_999_999_999_999_999_999}),
    ("/lab/produce/async", {"items": 0}),
    ("/lab/produce/syncify", {"items": 100_001}),
    ("/lab/produce/asyncio-run", {"item_delay_ms": -5}),
    ("/lab/produce/async", {"source": "carrier-pigeon"}),
    ("/lab/produce-stream/async", {"item_delay_ms": 10_001}),
    ("/lab/produce-stream/syncify", {"items": -1}),
    ("/lab/cpu/inline", {"cpu_ms": 10_001}),
    ("/lab/cpu/asyncify", {"cpu_ms": -1}),
    ("/lab/cpu/process", {"cpu_ms": 1.5}),
]


@pytest.mark.parametrize(("path", "params"), OUT_OF_BOUNDS)
async def test_out_of_bounds_parameters_are_422(
    jail_client: httpx.AsyncClient, path: str, params: dict[str, object]
) -> None:
    # A file that exists: only the bound is wrong.
    query = {"file": "sample-4KiB.bin", **params} if path in FILE_PATHS else params
    async with jail_client:
        response = await jail_client.get(path, params=query)  # type: ignore[arg-type]
    assert response.status_code == 422, response.text
    (name,) = params
    assert response.json()["detail"][0]["loc"] == ["query", name]
