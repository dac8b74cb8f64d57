"""The catalogue is the one list: the app serves exactly it, with its bounds and docs."""

from pathlib import Path
from typing import Any

import pytest

from app.catalogue import (
    CATALOGUE,
    ChoiceParam,
    Entry,
    FlagParam,
    NumberParam,
    approaches_table,
    entry,
)
from app.main import create_app

OPENAPI = create_app().openapi()
LAB = [e for e in CATALOGUE if e.family not in ("story", "image")]


def _operation(found: Entry) -> dict[str, Any]:
    operation: dict[str, Any] = OPENAPI["paths"][found.path][found.method.lower()]
    return operation


def test_ids_are_unique_and_families_complete() -> None:
    ids = [e.id for e in CATALOGUE]
    assert len(ids) == len(set(ids))
    assert {e.family for e in CATALOGUE} == {
        "read",
        "stream",
        "produce",
        "produce-stream",
        "cpu",
        "story",
        "image",
    }
    assert entry("read.asyncify").path == "/lab/read/asyncify"
    assert entry("story.stream-no-async").path == "/story/stream-no-async"


def test_the_approaches_of_each_family() -> None:
    by_family: dict[str, list[str]] = {}
    for found in LAB:
        by_family.setdefault(found.family, []).append(found.approach)
    assert by_family == {
        "read": ["inline", "threadpool", "asyncify", "anyio"],
        "stream": ["inline", "threadpool", "asyncify", "fileresponse"],
        "produce": ["async", "syncify", "asyncio-run"],
        "produce-stream": ["async", "syncify"],
        "cpu": ["inline", "asyncify", "process"],
    }
    assert {e.id for e in CATALOGUE if e.antipattern} == {
        "read.inline",
        "stream.inline",
        "produce.asyncio-run",
        "cpu.inline",
    }


@pytest.mark.parametrize("found", CATALOGUE, ids=[e.id for e in CATALOGUE])
def test_route_docs_come_from_the_catalogue(found: Entry) -> None:
    operation = _operation(found)
    assert operation["summary"] == found.summary
    assert operation["description"] == found.lesson


def test_every_lab_and_seed_route_is_catalogued() -> None:
    catalogued = {e.path for e in CATALOGUE}
    families = ("/lab/read/", "/lab/stream/", "/lab/produce", "/lab/cpu/", "/story/", "/image/")
    served = {path for path in OPENAPI["paths"] if path.startswith(families)}
    assert served == catalogued


def _schema(parameter: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = parameter["schema"]
    return schema


@pytest.mark.parametrize("found", LAB, ids=[e.id for e in LAB])
def test_route_parameters_are_the_catalogue_params(found: Entry) -> None:
    parameters = {p["name"]: p for p in _operation(found).get("parameters", [])}
    assert set(parameters) == set(found.params)
    for name, param in found.params.items():
        schema = _schema(parameters[name])
        assert parameters[name]["in"] == "query"
        assert schema["default"] == param.default, name
        if isinstance(param, NumberParam):
            assert (schema["type"], schema["minimum"], schema["maximum"]) == (
                "integer",
                param.min,
                param.max,
            )
        elif isinstance(param, FlagParam):
            assert schema["type"] == "boolean"
        elif name == "source":
            assert tuple(schema["enum"]) == param.choices


@pytest.mark.parametrize("found", CATALOGUE, ids=[e.id for e in CATALOGUE])
def test_load_is_within_the_params(found: Entry) -> None:
    for name, value in found.load.items():
        param = found.params[name]
        if isinstance(param, NumberParam):
            assert param.min <= value <= param.max
        elif isinstance(param, ChoiceParam):
            assert value in param.choices
        else:
            assert isinstance(value, bool)
    if found.family in ("story", "image"):
        assert (found.load, found.load_cost_ms, found.expect) == ({}, 0, "responsive")
    elif found.id != "stream.fileresponse":
        assert found.load_cost_ms == 300


def test_load_costs_add_up() -> None:
    read = entry("read.inline").load
    assert read["delay_ms"] == 300
    stream = entry("stream.inline").load
    chunks = -(-1024 * 1024 // stream["chunk_size"])
    assert chunks * stream["delay_ms"] == 300
    produce = entry("produce.async").load
    assert produce["items"] * produce["item_delay_ms"] == 300
    assert entry("cpu.inline").load == {"cpu_ms": 300}


def test_readme_shows_the_approaches_table() -> None:
    # The README's "The approaches" table is generated from the catalogue:
    # python -c "from app.catalogue import approaches_table; print(approaches_table())"
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert approaches_table() in readme
