"""An HTTP/1.0 client on the streaming endpoints, under each of uvicorn's ``--http`` choices.

HTTP/1.0 has no chunked transfer coding: a body of unknown length ends when the
server closes the connection. h11 (looplab's default, ``DEFAULT_HTTP``) answers
that way; httptools, and so uvicorn's "auto" wherever httptools is installed,
sends the chunk framing anyway, which an HTTP/1.0 client keeps as part of the
body (a corrupt PNG). A response with a ``content-length`` is unaffected.

Each request goes over a raw socket, so no client library can decode what an
HTTP/1.0 client would not.
"""

import importlib.util
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.api.routes.image import IMAGE_PATH
from app.api.routes.story import story_lines
from app.cli import APP
from app.core.config import DATA_DIR_ENV
from app.samples import KiB, ensure_sample, sample_bytes
from looplab.bench import DEFAULT_HTTP, UVICORN_HTTP, ServerProcess

pytestmark = pytest.mark.server

SAMPLE = "/lab/stream/threadpool?file=sample-4KiB.bin"
# What "auto" picks: httptools when it is installed (uvicorn[standard]), h11 otherwise.
AUTO = "httptools" if importlib.util.find_spec("httptools") else "h11"


def _chunked_by(http: str) -> bool:
    return (AUTO if http == "auto" else http) == "httptools"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("looplab-data")
    ensure_sample(directory, 4 * KiB)
    return directory


# None: ServerProcess's own default, which is looplab serve's.
@pytest.fixture(scope="module", params=[None, *UVICORN_HTTP], ids=lambda h: h or "default")
def server(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[tuple[str, ServerProcess]]:
    http: str | None = request.param
    options = {} if http is None else {"http": http}
    with ServerProcess(APP, env={DATA_DIR_ENV: str(data_dir)}, **options) as running:
        yield http or DEFAULT_HTTP, running


def http10_get(url: str, target: str) -> tuple[dict[str, str], bytes]:
    """GET ``target`` as an HTTP/1.0 client: one request, then read until the server closes."""
    address = urlsplit(url)
    assert address.hostname is not None and address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(f"GET {target} HTTP/1.0\r\nHost: {address.hostname}\r\n\r\n".encode())
        received = b""
        while data := conn.recv(65536):
            received += data
    head, separator, body = received.partition(b"\r\n\r\n")
    assert separator, f"no complete head in {received[:200]!r}"
    status, *lines = head.decode("latin-1").split("\r\n")
    assert status.split()[1] == "200", status
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers, body


def dechunk(body: bytes) -> bytes:
    """Decode a chunked body (no trailers), as an HTTP/1.1 client would."""
    decoded = b""
    while True:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            assert rest == b"\r\n", rest
            return decoded
        decoded += rest[:size]
        assert rest[size : size + 2] == b"\r\n"
        body = rest[size + 2 :]


def test_the_default_is_h11() -> None:
    assert DEFAULT_HTTP == "h11"
    assert not _chunked_by(DEFAULT_HTTP)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/image/stream", IMAGE_PATH.read_bytes()),
        ("/story/stream", "".join(story_lines()).encode()),
    ],
    ids=["image", "story"],
)
def test_a_stream_of_unknown_length(
    server: tuple[str, ServerProcess], target: str, expected: bytes
) -> None:
    http, running = server
    headers, body = http10_get(running.url, target)
    assert "content-length" not in headers
    if _chunked_by(http):
        # httptools frames the body in chunks the HTTP/1.0 client cannot decode: what it
        # saves is not the file, though the chunks themselves hold the right bytes.
        assert headers.get("transfer-encoding") == "chunked"
        assert body != expected
        assert dechunk(body) == expected
    else:
        # h11 sends the bytes as they are and ends the body by closing the connection.
        assert "transfer-encoding" not in headers
        assert headers.get("connection", "").lower() == "close"
        assert body == expected
    if target == "/image/stream":
        assert headers["content-type"] == "image/png"
        assert body.startswith(b"\x89PNG\r\n\x1a\n") is not _chunked_by(http)


def test_a_stream_with_a_content_length_is_never_chunked(
    server: tuple[str, ServerProcess], data_dir: Path
) -> None:
    _, running = server
    headers, body = http10_get(running.url, SAMPLE)
    assert "transfer-encoding" not in headers
    assert headers["content-length"] == str(4 * KiB)
    assert body == sample_bytes(4 * KiB) == (data_dir / "sample-4KiB.bin").read_bytes()
