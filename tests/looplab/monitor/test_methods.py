"""/monitor answers every method truthfully: GET and DELETE, and 405 naming both otherwise."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from looplab.monitor import instrument


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    instrument(app, metrics=False)
    return TestClient(app)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "OPTIONS"])
def test_other_methods_are_405_naming_get_and_delete(client: TestClient, method: str) -> None:
    response = client.request(method, "/monitor")
    assert response.status_code == 405
    assert sorted(m.strip() for m in response.headers["allow"].split(",")) == ["DELETE", "GET"]
    assert response.json() == {"detail": "Method Not Allowed"}


def test_get_and_delete_still_answer(client: TestClient) -> None:
    assert client.get("/monitor", params={"window": "mine"}).status_code == 200
    assert client.delete("/monitor", params={"window": "mine"}).status_code == 204
    missing = client.delete("/monitor", params={"window": "mine"})
    assert (missing.status_code, missing.json()) == (404, {"detail": "no window named 'mine'"})
    assert client.delete("/monitor", params={"window": "default"}).status_code == 409


def test_the_documented_errors_of_delete() -> None:
    app = FastAPI()
    instrument(app, metrics=False)
    responses = app.openapi()["paths"]["/monitor"]["delete"]["responses"]
    assert {"204", "404", "409", "422"} <= set(responses)
    for status in ("404", "409"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Message"}
