"""The ``db`` family's database: a sqlite file the lab builds, and one query that takes a while.

The database holds ``ROWS`` readings linked into one random cycle (each row names
the next). The query walks that chain with a recursive CTE, one indexed lookup per
step, and sums what it passes: CPU work inside SQLite's C code, during which the
``sqlite3`` module releases the GIL. Its cost is set in milliseconds: at startup
:func:`calibrate` times short walks and keeps the fastest rate (noise only slows a
walk down), and :func:`steps_for` turns ``query_ms`` into a number of steps. Every
answer also reports the time the query really took.

A running query stops in two ways, both SQLite's own: a progress handler that
SQLite calls every few thousand instructions of its virtual machine (it checks the
request's stop flag, in the thread running the query), and
``sqlite3.Connection.interrupt()``, which any other thread may call.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from app.disconnect import Disconnected, checkpoint

__all__ = [
    "DB_DIR",
    "DB_NAME",
    "ROWS",
    "ConnectionPool",
    "WalkResult",
    "calibrate",
    "connect",
    "database_uri",
    "ensure_database",
    "steps_for",
    "stop_on_disconnect",
    "walk",
    "walk_async",
]

# In a directory of its own inside the data directory: the read family serves, and
# GET /lab/files lists, the data directory's plain files only.
DB_DIR = "db"
DB_NAME = "lab.sqlite3"
ROWS = 50_000
# Bumped whenever the schema or its contents change: an older file is rebuilt.
_VERSION = 1

WALK_SQL = """
WITH RECURSIVE chain(step, id, total) AS (
    SELECT 0, 1, 0.0
    UNION ALL
    SELECT chain.step + 1, readings.next_id, chain.total + readings.value
    FROM chain JOIN readings ON readings.id = chain.id
    WHERE chain.step < :steps
)
SELECT count(*) - 1, max(total) FROM chain
"""

# SQLite virtual-machine instructions between two calls of the progress handler
# (a few ms of walking here): the handler takes the GIL, so not too often.
_PROGRESS_EVERY = 100_000


def ensure_database(data_dir: Path) -> Path:
    """Build the database under ``data_dir`` unless it is there; return its path.

    Built under a temporary name and renamed, so concurrent workers never see half a file.
    """
    directory = data_dir / DB_DIR
    path = directory / DB_NAME
    if path.exists():
        with contextlib.closing(sqlite3.connect(path)) as conn:
            if conn.execute("PRAGMA user_version").fetchone()[0] == _VERSION:
                return path
    directory.mkdir(parents=True, exist_ok=True)
    scratch = directory / f".{DB_NAME}.{os.getpid()}.tmp"
    scratch.unlink(missing_ok=True)
    order = list(range(1, ROWS + 1))
    random.Random(12).shuffle(order)
    successor = {here: order[(i + 1) % ROWS] for i, here in enumerate(order)}
    values = random.Random(34)
    with contextlib.closing(sqlite3.connect(scratch)) as conn:
        conn.execute(
            "CREATE TABLE readings (id INTEGER PRIMARY KEY, next_id INTEGER NOT NULL,"
            " value REAL NOT NULL)"
        )
        conn.executemany(
            "INSERT INTO readings VALUES (?, ?, ?)",
            ((i, successor[i], values.random()) for i in range(1, ROWS + 1)),
        )
        conn.execute(f"PRAGMA user_version = {_VERSION}")
        conn.commit()
    os.replace(scratch, path)
    return path


def database_uri(path: Path) -> str:
    """The read-only URI of the database (``sqlite3.connect(uri, uri=True)``)."""
    return f"{path.resolve().as_uri()}?mode=ro"


def connect(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A read-only connection to the lab's database."""
    return sqlite3.connect(database_uri(path), uri=True, check_same_thread=check_same_thread)


@dataclass(frozen=True)
class WalkResult:
    steps: int
    total: float
    query_ms: float


def walk(conn: sqlite3.Connection, steps: int) -> WalkResult:
    """Walk ``steps`` links of the chain: one blocking call of about ``steps`` lookups."""
    started = time.perf_counter()
    walked, total = conn.execute(WALK_SQL, {"steps": steps}).fetchone()
    return WalkResult(walked, total or 0.0, (time.perf_counter() - started) * 1000)


async def walk_async(conn: aiosqlite.Connection, steps: int) -> WalkResult:
    """:func:`walk` through aiosqlite: the query runs in the connection's own thread."""
    started = time.perf_counter()
    async with conn.execute(WALK_SQL, {"steps": steps}) as cursor:
        row = await cursor.fetchone()
    assert row is not None  # an aggregate always has its row
    walked, total = row
    return WalkResult(walked, total or 0.0, (time.perf_counter() - started) * 1000)


def calibrate(path: Path, *, target_ms: float = 25, tries: int = 5) -> float:
    """Steps walked per ms on this machine: the fastest of a few short walks."""
    with contextlib.closing(connect(path)) as conn:
        steps = 2_000
        # Grow the walk until it is long enough to time, then time it a few times.
        while (elapsed := walk(conn, steps).query_ms) < target_ms / 4:
            steps *= 4
        steps = max(int(steps * target_ms / max(elapsed, 0.001)), 1)
        best_ms = min(walk(conn, steps).query_ms for _ in range(tries))
    return steps / max(best_ms, 0.001)


def steps_for(query_ms: int, steps_per_ms: float) -> int:
    """The walk that takes about ``query_ms`` here."""
    return round(query_ms * steps_per_ms)


def _stop_requested() -> int:
    # SQLite's progress handler: a nonzero answer aborts the query ("interrupted").
    try:
        checkpoint()
    except Disconnected:
        return 1
    return 0


@contextlib.contextmanager
def stop_on_disconnect(conn: sqlite3.Connection) -> Iterator[None]:
    """While the block runs, a query on ``conn`` stops when this request's client leaves.

    The progress handler runs in the thread that runs the query, with that thread's
    context: it sees the stop flag of a ``def`` route's request. The query then raises
    ``OperationalError("interrupted")``, which becomes :class:`Disconnected`.
    """
    conn.set_progress_handler(_stop_requested, _PROGRESS_EVERY)
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "interrupt" in str(exc):
            raise Disconnected from exc
        raise
    finally:
        conn.set_progress_handler(None, 0)


class ConnectionPool:
    """``size`` connections shared by worker threads, one request at a time each."""

    def __init__(self, path: Path, size: int) -> None:
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._all = [connect(path, check_same_thread=False) for _ in range(size)]
        for conn in self._all:
            self._idle.put(conn)

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """Borrow a connection (waiting, in this thread, for one to be free)."""
        conn = self._idle.get()
        try:
            yield conn
        finally:
            self._idle.put(conn)

    def close(self) -> None:
        for conn in self._all:
            conn.interrupt()  # a query still running in some thread ends now
            with contextlib.suppress(sqlite3.Error):
                conn.close()
