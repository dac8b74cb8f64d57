"""A stall names the request being served, wherever the blocking call sits, and who waited.

Against a real uvicorn: each request blocks the loop once, outside its endpoint
function (a dependency, a stream body, a background task, a task the handler
starts, a middleware, a mounted app), and the stall still carries its route.
"""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from looplab.bench import ServerProcess
from looplab.protocol import MonitorSnapshot, Stall

pytestmark = [pytest.mark.server, pytest.mark.timing]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess("tests.looplab.monitor.route_app:app") as running:
        yield running


def read(server: ServerProcess, window: str, reset: bool = False) -> MonitorSnapshot:
    params = {"window": window, "reset": str(reset).lower()}
    response = httpx.get(server.url + "/monitor", params=params, timeout=30)
    return MonitorSnapshot.model_validate_json(response.content)


def stall_of(server: ServerProcess, path: str) -> Stall:
    window = "route-" + path.strip("/").replace("/", "-")
    read(server, window, reset=True)
    httpx.get(server.url + path, timeout=30)
    deadline = time.monotonic() + 5
    while not (stalls := read(server, window).stalls.recent) and time.monotonic() < deadline:
        time.sleep(0.05)  # a background task blocks after the response
    assert len(stalls) == 1, stalls
    return stalls[0]


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/in-dependency/7", "/in-dependency/{item_id}"),
        ("/in-stream", "/in-stream"),
        ("/in-background", "/in-background"),
        ("/in-task", "/in-task"),
        ("/sub/in-mounted/x", "/sub/in-mounted/{name}"),
        # Before routing there is no template yet: the raw path.
        ("/in-middleware", "/in-middleware"),
        ("/in-late-middleware", "/in-late-middleware"),
    ],
)
def test_the_stall_names_the_request_being_served(
    server: ServerProcess, path: str, route: str
) -> None:
    stall = stall_of(server, path)
    assert stall.route == route
    assert stall.duration_ms >= 100
    assert stall.kind == "wait"
    assert stall.blame is not None and stall.blame.function == "block"


def test_a_stall_lists_the_requests_it_held_up(server: ServerProcess) -> None:
    read(server, "waiting", reset=True)
    with ThreadPoolExecutor(5) as pool:
        slow = [
            pool.submit(httpx.get, server.url + "/await-slowly?seconds=2", timeout=30)
            for _ in range(5)
        ]
        time.sleep(0.7)  # all five are in flight, awaiting
        httpx.get(server.url + "/in-endpoint", timeout=30)
        assert all(future.result().status_code == 200 for future in slow)
    (stall,) = read(server, "waiting").stalls.recent
    assert stall.route == "/in-endpoint"
    assert stall.waiting.count == 5
    assert stall.waiting.by_route == {"/await-slowly": 5}
    assert "held 5 request(s): /await-slowly ×5" in stall.describe()  # noqa: RUF001 (as printed)


def test_no_request_no_route_and_nobody_waiting(server: ServerProcess) -> None:
    stall = stall_of(server, "/in-endpoint")
    assert stall.waiting.count == 0
    snapshot = read(server, "route-in-endpoint")
    assert snapshot.stalls.top[0].kind == "wait"
