"""``looplab serve``: the lab's command, added to the ``looplab`` command by an entry point.

The instrument owns the ``looplab`` console script; the lab registers this
function under the entry-point group ``looplab.commands`` (see pyproject.toml).
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from looplab.bench import DEFAULT_HTTP, GRACEFUL_SHUTDOWN_S, UVICORN_HTTP, UVICORN_LOOPS
from looplab.cli import LoopName, parse_http
from looplab.monitor import prepare_multiprocess_dir
from looplab.protocol import UvicornHttp

__all__ = ["APP", "serve"]

APP = "app.main:app"
_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def _multiprocess_metrics() -> Iterator[None]:
    # prometheus-client's multiprocess mode: every worker writes its metrics to files in
    # one directory, which must exist, empty, before the workers fork, and go afterwards.
    given = os.environ.get(_MULTIPROC_ENV)
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="looplab-metrics-"))
    prepare_multiprocess_dir(path)
    os.environ[_MULTIPROC_ENV] = str(path)
    try:
        yield
    finally:
        shutil.rmtree(path, ignore_errors=True)
        if not given:
            del os.environ[_MULTIPROC_ENV]


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    loop: Annotated[LoopName, typer.Option(help="Event loop implementation.")] = LoopName.auto,
    # h11 by default (DEFAULT_HTTP, shared with the bench), not uvicorn's "auto" (httptools
    # beside uvicorn[standard]): httptools answers an HTTP/1.0 client's stream with a chunked
    # body that client cannot decode (a corrupt PNG); h11 ends it by closing the connection.
    # Measured side by side (README, "HTTP/1.0 and --http"), h11 costs throughput only: about
    # 0.6-0.75x httptools' req/s on /ping and the image and story streams at saturation, with
    # the probe's p99 within noise. A lab that measures loop lag, not peak req/s, takes the
    # correct bytes; h11 is also uvicorn's own dependency, so it is there wherever uvicorn is.
    http: Annotated[
        UvicornHttp,
        typer.Option(
            parser=parse_http,
            metavar=f"<{'|'.join(UVICORN_HTTP)}>",
            help="HTTP implementation (the bench's --http).",
        ),
    ] = DEFAULT_HTTP,
    reload: Annotated[bool, typer.Option(help="Restart when the code changes.")] = False,
) -> None:
    """Serve the lab app with uvicorn."""
    if reload and workers > 1:
        raise typer.BadParameter("--reload runs a single process", param_hint="--workers")
    typer.echo(f"looplab: docs at http://{host}:{port}/docs")
    options = {
        "host": host,
        "port": port,
        "workers": workers,
        "loop": UVICORN_LOOPS[loop.value],
        "http": http,
        # SIGTERM or Ctrl-C waits this long for requests in flight, then cancels them:
        # the process ends within it plus the longest call nothing can interrupt.
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
    }
    if workers > 1:
        with _multiprocess_metrics():
            uvicorn.run(APP, **options)  # type: ignore[arg-type]
        return
    uvicorn.run(APP, reload=reload, **options)  # type: ignore[arg-type]
