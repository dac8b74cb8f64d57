import sqlite3
from pathlib import Path

import httpx
import pytest

from app.database import DB_DIR, DB_NAME, ROWS, calibrate, connect, ensure_database, steps_for, walk
from looplab.protocol import CatalogueEntry
from tests.utils.catalogue import entries, over_entries

from .conftest import app_on, disconnect_midway

pytestmark = pytest.mark.anyio

DB = over_entries(entries("db"))


@DB
async def test_db_query_runs_for_about_query_ms(
    lab_client: httpx.AsyncClient, entry: CatalogueEntry
) -> None:
    response = await lab_client.get(entry.path, params={"query_ms": 100})
    assert response.status_code == 200
    body = response.json()
    assert body["steps"] > 0
    assert body["total"] > 0
    # Calibrated at startup on a possibly busy machine: the order of magnitude holds.
    assert 30 <= body["query_ms"] < 1500
    assert body["elapsed_ms"] >= body["query_ms"]


@DB
async def test_db_zero_is_quick(lab_client: httpx.AsyncClient, entry: CatalogueEntry) -> None:
    response = await lab_client.get(entry.path, params={"query_ms": 0})
    assert response.status_code == 200
    assert response.json()["steps"] == 0
    assert response.elapsed.total_seconds() < 2


def test_the_database_is_built_once_and_read_only(tmp_path: Path) -> None:
    path = ensure_database(tmp_path)
    # In a directory of its own: no read route can serve it, /lab/files does not list it.
    assert path == tmp_path / DB_DIR / DB_NAME
    built = path.stat().st_mtime_ns
    assert ensure_database(tmp_path).stat().st_mtime_ns == built
    assert [p.name for p in path.parent.iterdir()] == [DB_NAME]  # no scratch file left
    with connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (ROWS,)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM readings")


def test_calibration_makes_the_walk_take_about_the_time_asked(data_dir: Path) -> None:
    path = ensure_database(data_dir)
    rate = calibrate(path)
    assert rate > 0
    with connect(path) as conn:
        result = walk(conn, steps_for(100, rate))
    assert result.steps == steps_for(100, rate)
    # The fastest of a few calibration walks sets the rate: a busy machine is slower.
    assert 50 <= result.query_ms < 1000


@pytest.mark.parametrize("path", ["/lab/db/sqlite-threadpool", "/lab/db/aiosqlite"])
async def test_a_query_stops_when_its_client_leaves(data_dir: Path, path: str) -> None:
    # A 10 s query, abandoned after 0.3 s: SQLite stops it (a progress handler that checks
    # the stop flag, or Connection.interrupt()), so the request ends, its connection
    # closed, within a moment, not when the walk would have finished.
    app = app_on(data_dir)
    async with app.router.lifespan_context(app):
        took = await disconnect_midway(app, path, {"query_ms": 10_000}, after_s=0.3)
    assert took < 3, took
