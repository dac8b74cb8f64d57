"""Run an ASGI app under uvicorn in a process of its own, for honest latency figures.

A server that shares a process (and so a GIL) with the client that measures it
slows the client exactly when it stalls. Everything in looplab that measures a
server from outside (the bench, the end-to-end tests) starts it here instead.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import get_args

from looplab.protocol import DEFAULT_HTTP, UvicornHttp

__all__ = [
    "DEFAULT_HTTP",
    "GRACEFUL_SHUTDOWN_S",
    "UVICORN_HTTP",
    "UVICORN_LOOPS",
    "ServerProcess",
    "ServerStartError",
]

# How long a server looplab starts waits for requests in flight on SIGTERM before it
# cancels them (uvicorn's --timeout-graceful-shutdown): streams end instead of hanging.
GRACEFUL_SHUTDOWN_S = 5

# What ``--loop`` means wherever looplab starts a server: uvicorn's own choices, except
# that "asyncio" is asyncio's loop made by looplab's factory, whose utilization the
# monitor can read (it is the standard SelectorEventLoop with its select() timed).
UVICORN_LOOPS = {
    "auto": "auto",
    "asyncio": "looplab.monitor:new_event_loop",
    "uvloop": "uvloop",
}

# What ``--http`` takes wherever looplab starts a server (``looplab serve``, the bench):
# uvicorn's HTTP/1.1 implementations, with DEFAULT_HTTP (h11) as the default. Both are
# defined once, in looplab.protocol, where BenchSettings records the choice.
UVICORN_HTTP: tuple[UvicornHttp, ...] = get_args(UvicornHttp)

_BOUND = re.compile(r"Uvicorn running on https?://[^\s:]+:(\d+)")

# uvicorn's own CLI, preceded by whatever the caller wants done first in the
# server process (``gc.disable()`` for the disconnect tests, say).
_LAUNCHER = "import sys; {prelude}; import uvicorn.main; sys.exit(uvicorn.main.main())"


class ServerStartError(RuntimeError):
    """The server exited or never bound its port; the message carries its log."""


class ServerProcess:
    """``uvicorn APP`` on 127.0.0.1 and a free port, in a subprocess.

    ``app`` is uvicorn's ``module:attribute``; ``loop`` is a key of ``UVICORN_LOOPS``
    or any loop factory uvicorn accepts; ``http`` is one of ``UVICORN_HTTP`` (or any
    protocol class uvicorn accepts), ``DEFAULT_HTTP`` unless told.

    Use it as a context manager; ``url`` is known once it has started. The log
    (stdout and stderr) goes to a file, so a chatty server can never fill a pipe
    and block, and it is there to read when the server fails to start.
    """

    def __init__(
        self,
        app: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        workers: int = 1,
        loop: str = "auto",
        http: str = DEFAULT_HTTP,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        prelude: str = "pass",
        ready_path: str = "/openapi.json",
        startup_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.workers = workers
        self.loop = loop
        self.http = http
        self.env = dict(env or {})
        self.args = list(args)
        self.prelude = prelude
        self.ready_path = ready_path
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self.url = ""

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("the server is not running")
        return self._proc.pid

    def log(self) -> str:
        """Everything the server has printed so far."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")

    def start(self) -> ServerProcess:
        fd, name = tempfile.mkstemp(prefix="looplab-server-", suffix=".log")
        self._log_path = Path(name)
        command = [
            sys.executable,
            "-c",
            _LAUNCHER.format(prelude=self.prelude),
            self.app,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--loop",
            UVICORN_LOOPS.get(self.loop, self.loop),
            "--http",
            self.http,
            "--no-access-log",
            "--timeout-graceful-shutdown",
            str(GRACEFUL_SHUTDOWN_S),
            *self.args,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with os.fdopen(fd, "wb") as log_file:
            # A session of its own, so stop() can signal the workers too.
            self._proc = subprocess.Popen(
                command, stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        port: int | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerStartError(
                    f"uvicorn exited with code {self._proc.returncode}:\n{self.log()}"
                )
            if port is None and (match := _BOUND.search(self.log())):
                port = int(match.group(1))
                self.url = f"http://{self.host}:{port}"
            if port is not None and self._answers():
                return
            time.sleep(0.05)
        raise ServerStartError(
            f"uvicorn did not start in {self.startup_timeout:.0f}s:\n{self.log()}"
        )

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its log file."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
