"""The ``db`` family: one slow sqlite query, in three approaches.

The work is ``app.database.walk``: a recursive CTE that walks a chain of rows for
about ``query_ms`` (the steps per ms are measured when the router's lifespan
starts). The lifespan builds the database in the data directory if needed and
makes the connections; the routes differ in the driver and where it waits.
"""

import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, cast

import aiosqlite
import anyio
import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel

from app.api.catalogued import catalogued
from app.api.params import QueryMs
from app.catalogue import QUERY_MS
from app.core.config import Settings, get_settings
from app.database import (
    ConnectionPool,
    WalkResult,
    calibrate,
    connect,
    database_uri,
    ensure_database,
    steps_for,
    stop_on_disconnect,
    walk,
    walk_async,
)

__all__ = ["QUERY_SLOTS", "Database", "DbResponse", "router"]

logger = logging.getLogger("uvicorn.error")

# Queries at once, in the threadpool's pool and through aiosqlite: one per core but one,
# so the cores never saturate and the loop's thread always finds one free (on 2 cores:
# one query at a time). More would only share the same cores, each query slower.
QUERY_SLOTS = max((os.cpu_count() or 1) - 1, 1)


@dataclass(frozen=True)
class Database:
    """The lab's database, this machine's walking rate, and the connections to it."""

    path: Path
    steps_per_ms: float
    # Made on the loop's thread and used there only, by the inline approach.
    inline: sqlite3.Connection
    pool: ConnectionPool
    limiter: anyio.CapacityLimiter

    def steps(self, query_ms: int) -> int:
        return steps_for(query_ms, self.steps_per_ms)


# Steps per ms by database file: timed once per process, at its first start-up (an app
# made again in the same process, as tests do, reuses the figure).
_calibrated: dict[Path, float] = {}


def _prepare(data_dir: Path) -> tuple[Path, float]:
    path = ensure_database(data_dir)
    if path not in _calibrated:
        _calibrated[path] = calibrate(path)
    return path, _calibrated[path]


class _LazyDatabase:
    """Builds, times and opens the database on the family's first request.

    Not at startup: an app that never calls the db family (a test of another family,
    a worker that only serves reads) neither builds the file nor times a query.
    """

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._lock = anyio.Lock()
        self.opened: Database | None = None

    async def get(self) -> Database:
        async with self._lock:
            if self.opened is None:
                self.opened = await self._open()
        return self.opened

    async def _open(self) -> Database:
        # Building the file (once) and timing a few walks: ~0.1-0.3 s, not on the loop.
        path, steps_per_ms = await anyio.to_thread.run_sync(_prepare, self._data_dir)
        logger.info("looplab: the db family's query walks %.0f steps per ms here", steps_per_ms)
        pool = await anyio.to_thread.run_sync(ConnectionPool, path, QUERY_SLOTS)
        inline = connect(path)
        return Database(path, steps_per_ms, inline, pool, anyio.CapacityLimiter(QUERY_SLOTS))

    def close(self) -> None:
        if self.opened is not None:
            self.opened.inline.close()
            self.opened.pool.close()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The data directory the app's requests see (a test may override the settings).
    settings: Settings = app.dependency_overrides.get(get_settings, get_settings)()
    database = _LazyDatabase(settings.data_dir)
    app.state.database = database
    try:
        yield
    finally:
        del app.state.database
        database.close()


router = APIRouter(prefix="/lab/db", tags=["db"], lifespan=lifespan)


class _NoLifespan:
    """What an app driven without its lifespan gets: a clear error on use, not a 500 first."""

    async def get(self) -> Database:
        raise RuntimeError("the db family's database is opened in the app's lifespan")


async def _database(request: Request) -> _LazyDatabase:
    # The holder, not the database: a request that fails validation opens nothing.
    holder = getattr(request.app.state, "database", None)
    return cast(_LazyDatabase, _NoLifespan() if holder is None else holder)


LabDatabase = Annotated[_LazyDatabase, Depends(_database)]


class DbResponse(BaseModel):
    steps: int
    total: float
    # The time the query itself took, measured: the cost a request really paid.
    query_ms: float
    elapsed_ms: float


def _respond(result: WalkResult, started: float) -> DbResponse:
    return DbResponse(
        steps=result.steps,
        total=result.total,
        query_ms=result.query_ms,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


# 🚨 Don't use this: sqlite3 is synchronous, so the loop waits for the whole query.
@router.get("/sqlite-inline", **catalogued("db.sqlite-inline"))
async def query_sqlite_inline(
    lazy: LabDatabase, query_ms: QueryMs = QUERY_MS.default
) -> DbResponse:
    db = await lazy.get()
    started = time.perf_counter()
    return _respond(walk(db.inline, db.steps(query_ms)), started)


# ✅ A def route: the query runs in a worker thread on a pooled connection, and stops
# when the client leaves (SQLite's progress handler checks the request's stop flag).
@router.get("/sqlite-threadpool", **catalogued("db.sqlite-threadpool"))
def query_sqlite_threadpool(lazy: LabDatabase, query_ms: QueryMs = QUERY_MS.default) -> DbResponse:
    db = anyio.from_thread.run(lazy.get)
    started = time.perf_counter()
    with db.pool.connection() as conn, stop_on_disconnect(conn):
        result = walk(conn, db.steps(query_ms))
    return _respond(result, started)


# ✅ aiosqlite: the query runs in the connection's own thread; on a disconnect the
# route interrupts it, since cancelling the await alone would leave SQLite walking.
@router.get("/aiosqlite", **catalogued("db.aiosqlite"))
async def query_aiosqlite(lazy: LabDatabase, query_ms: QueryMs = QUERY_MS.default) -> DbResponse:
    db = await lazy.get()
    started = time.perf_counter()
    async with db.limiter:
        conn = await aiosqlite.connect(database_uri(db.path), uri=True)
        try:
            result = await walk_async(conn, db.steps(query_ms))
        except anyio.get_cancelled_exc_class():
            # sqlite3.Connection.interrupt(), called from this (the loop's) thread at once:
            # aiosqlite does not queue it behind the query it is meant to stop.
            await conn.interrupt()
            raise
        finally:
            # Closing waits for the connection's thread: shielded, so a cancelled
            # request still ends its thread and its file handle.
            with anyio.CancelScope(shield=True):
                await conn.close()
    return _respond(result, started)
