import gc

from fastapi.testclient import TestClient

from app.main import create_app
from looplab.protocol import MonitorSnapshot


def test_startup_freezes_the_heap_and_shutdown_thaws_it() -> None:
    gc.unfreeze()
    with TestClient(create_app()) as client:
        assert gc.get_freeze_count() > 10_000
        assert client.get("/ping").json() == {"ok": True}
    assert gc.get_freeze_count() == 0


def test_the_windows_open_after_the_labs_warm_up(data_dir: object) -> None:
    # The startup collection stalls the loop; the default window a user reads first
    # opens after it, so it does not show the lab's own warm-up.
    with TestClient(create_app()) as client:
        snapshot = MonitorSnapshot.model_validate(client.get("/monitor").json())
    assert not [
        stall
        for stall in snapshot.stalls.recent
        if stall.route == "(startup)" or (stall.blame and stall.blame.file.endswith("main.py"))
    ]
