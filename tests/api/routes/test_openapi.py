"""The documents a reader parses are described in the OpenAPI schema, not left as ``{}``."""

from typing import Any

import pytest

from app.main import create_app

OPENAPI = create_app().openapi()


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    prefix = "#/components/schemas/"
    assert ref.startswith(prefix), ref
    resolved: dict[str, Any] = OPENAPI["components"]["schemas"][ref.removeprefix(prefix)]
    return resolved


@pytest.mark.parametrize(
    ("path", "model", "fields"),
    [
        ("/lab", "CatalogueEntry", {"id", "path", "expect", "params", "workload", "cost_ms"}),
        ("/monitor", "MonitorSnapshot", {"window", "since", "loop", "threadpool", "stalls"}),
        ("/ping", "Ping", {"ok"}),
    ],
)
def test_json_endpoints_declare_their_response_schema(
    path: str, model: str, fields: set[str]
) -> None:
    responses = OPENAPI["paths"][path]["get"]["responses"]
    schema = responses["200"]["content"]["application/json"]["schema"]
    assert schema, f"GET {path} has an empty response schema"
    if schema.get("type") == "array":
        schema = schema["items"]
    assert schema.get("$ref") == f"#/components/schemas/{model}", schema
    described = _resolve(schema)
    assert described["type"] == "object"
    assert fields <= described["properties"].keys(), described["properties"].keys()
