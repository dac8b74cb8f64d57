import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.api.routes.image import IMAGE_PATH
from app.api.routes.story import story_lines
from looplab.bench import fetch_catalogue

LOOPLAB = [sys.executable, "-m", "looplab._cli"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LOOPLAB, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["serve", "--port", "http"], "--port"),
        (["serve", "--port", "70000"], "--port"),
        (["serve", "--workers", "0"], "--workers"),
        (["serve", "--loop", "trio"], "--loop"),
        (["serve", "--reload", "--workers", "2"], "--workers"),
        (["serve", "--colour"], "--colour"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_cli_rejects_bad_options(args: list[str], complaint: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Usage:" in result.stderr
    assert complaint in result.stderr


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*LOOPLAB, "serve", "--port", "0"], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while not (match := re.search(r"running on (http://\S+:\d+)", log_path.read_text())):
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        assert "looplab: docs at http://127.0.0.1:0/docs" in log_path.read_text()
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.server
def test_serve_streams_every_seed_endpoint(served: str) -> None:
    # The seed endpoints as the served catalogue lists them.
    catalogue = fetch_catalogue(served) or []
    story = [entry.path for entry in catalogue if entry.family == "story"]
    image = [entry.path for entry in catalogue if entry.family == "image"]
    assert len(story) == 8 and len(image) == 5
    # The docs' example yields the story's lines without their line breaks.
    expected_story = "".join(story_lines()).encode("utf-8")
    with httpx.Client(base_url=served) as http:
        assert http.get("/docs").status_code == 200
        for path in story:
            response = http.get(path)
            assert response.content == expected_story, path
            assert response.headers["transfer-encoding"] == "chunked"
        for path in image:
            response = http.get(path)
            assert response.headers["content-type"] == "image/png"
            assert response.content.startswith(b"\x89PNG\r\n\x1a\n"), path
            assert response.content == IMAGE_PATH.read_bytes(), path
