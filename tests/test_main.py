import gc

from fastapi.testclient import TestClient

from app.main import create_app


def test_startup_freezes_the_heap_and_shutdown_thaws_it() -> None:
    gc.unfreeze()
    with TestClient(create_app()) as client:
        assert gc.get_freeze_count() > 10_000
        assert client.get("/ping").json() == {"ok": True}
    assert gc.get_freeze_count() == 0
