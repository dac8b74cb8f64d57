"""The catalogue is the one list: the app serves exactly it, with its bounds and docs.

Nothing here restates the catalogue: each test checks a property every entry
(or family) must have, so adding an approach needs no change here.
"""

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from app.api.routes import lab
from app.catalogue import (
    CATALOGUE,
    FAMILIES,
    approaches_table,
    by_id,
    family_of,
    long_workload,
)
from app.core.config import Settings
from app.main import create_app
from app.samples import DEFAULT_SIZES, sample_name
from looplab.monitor import instrument
from looplab.protocol import CatalogueEntry, ParamSpec, QueryValue
from tests.utils.catalogue import entries, over_entries

APP = create_app()
OPENAPI = APP.openapi()
EVERY_ENTRY = over_entries(CATALOGUE)
SAMPLE_SIZES = {sample_name(size): size for size in DEFAULT_SIZES}


def _operation(entry: CatalogueEntry) -> dict[str, Any]:
    operation: dict[str, Any] = OPENAPI["paths"][entry.path][entry.method.lower()]
    return operation


def _routes(routes: Iterable[BaseRoute]) -> set[tuple[str, str]]:
    return {
        (method, context.path)
        for context in iter_route_contexts(list(routes))
        for method in context.methods or ()
    }


# -- the entries ----------------------------------------------------------------------------


def test_ids_and_paths_are_unique() -> None:
    assert len({e.id for e in CATALOGUE}) == len(CATALOGUE)
    assert len({(e.method, e.path) for e in CATALOGUE}) == len(CATALOGUE)


@EVERY_ENTRY
def test_an_entry_is_its_familys_approach(entry: CatalogueEntry) -> None:
    assert entry.id == f"{entry.family}.{entry.approach}"
    assert by_id(entry.id) is entry
    assert family_of(entry).name == entry.family
    # Served under its family, one path segment per approach.
    assert entry.path.startswith("/")
    assert entry.path.endswith(f"/{entry.approach}")
    # The route's OpenAPI summary and description.
    assert entry.summary.strip()
    assert entry.lesson.strip()


def test_every_family_has_entries() -> None:
    assert len({f.name for f in FAMILIES}) == len(FAMILIES)
    assert {f.name for f in FAMILIES} == {e.family for e in CATALOGUE}


@pytest.mark.parametrize("family", [f.name for f in FAMILIES])
def test_each_family_has_an_approach_to_recommend(family: str) -> None:
    # A family shows what to do, not only what not to: an approach that keeps the
    # loop responsive and is no anti-pattern.
    assert [e for e in entries(family) if e.expect == "responsive" and not e.antipattern]


@pytest.mark.parametrize("family", [f.name for f in FAMILIES])
def test_a_degrading_approach_has_a_blocking_reference(family: str) -> None:
    # The degrades rule (looplab.verdict.family_verdicts) compares an entry with its
    # family's blocking approach: without one, "degrades" could not be measured.
    expected = {e.expect for e in entries(family)}
    assert "degrades" not in expected or "blocks" in expected


@pytest.mark.parametrize("family", [f.name for f in FAMILIES])
def test_a_family_shows_its_antipattern_unless_all_is_responsive(family: str) -> None:
    # Either the family is a responsive baseline (the docs' seed examples, say), or
    # it shows the anti-pattern its other approaches are the answer to.
    approaches = entries(family)
    assert any(e.antipattern for e in approaches) or all(
        e.expect == "responsive" for e in approaches
    )


@EVERY_ENTRY
def test_blocking_is_always_an_antipattern(entry: CatalogueEntry) -> None:
    assert entry.expect != "blocks" or entry.antipattern


# -- the routes -----------------------------------------------------------------------------


def test_every_route_served_is_catalogued_and_vice_versa() -> None:
    # What the app serves beyond the catalogue: the instrument's routes (and
    # FastAPI's docs), and the lab's own /lab router (the catalogue, its files).
    bare = FastAPI()
    instrument(bare)
    not_catalogued = _routes(bare.routes) | _routes(lab.router.routes)
    catalogued = {(e.method, e.path) for e in CATALOGUE}
    assert _routes(APP.routes) - not_catalogued == catalogued
    assert not catalogued & not_catalogued


@EVERY_ENTRY
def test_route_docs_come_from_the_catalogue(entry: CatalogueEntry) -> None:
    operation = _operation(entry)
    assert operation["summary"] == entry.summary
    assert operation["description"] == entry.lesson


def test_catalogued_endpoints_carry_no_docstring() -> None:
    # One source for a route's texts: the catalogue. A docstring would be a second
    # one, silently shadowed in the OpenAPI by the catalogue's description.
    catalogued = {(e.method, e.path): e.id for e in CATALOGUE}
    checked = set()
    for context in iter_route_contexts(list(APP.routes)):
        if not isinstance(context.original_route, APIRoute):
            continue
        for method in context.methods or ():
            if (method, context.path) in catalogued:
                assert context.endpoint is not None
                assert context.endpoint.__doc__ is None, (context.path, context.endpoint.__doc__)
                checked.add((method, context.path))
    assert checked == catalogued.keys()


def _schema(parameter: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = parameter["schema"]
    return schema


@EVERY_ENTRY
def test_route_parameters_are_the_catalogue_params(entry: CatalogueEntry) -> None:
    parameters = {p["name"]: p for p in _operation(entry).get("parameters", [])}
    assert parameters.keys() == entry.params.keys()
    for name, spec in entry.params.items():
        schema = _schema(parameters[name])
        assert parameters[name]["in"] == "query"
        assert parameters[name].get("required", False) is False, name
        assert schema["default"] == spec.default, name
        if spec.choices == [False, True]:
            assert schema["type"] == "boolean", name
        elif spec.choices is not None:
            assert schema["type"] == "string", name
            if "enum" in schema:
                assert schema["enum"] == spec.choices, name
            else:
                # An open choice (the file): every listed value is accepted.
                assert name == "file"
                for choice in map(str, spec.choices):
                    assert re.fullmatch(schema["pattern"], choice), choice
                    assert schema["minLength"] <= len(choice) <= schema["maxLength"], choice
        else:
            assert (schema["type"], schema["minimum"], schema["maximum"]) == (
                "integer",
                spec.min,
                spec.max,
            ), name


# -- the workloads --------------------------------------------------------------------------


def _within(spec: ParamSpec, value: QueryValue) -> bool:
    if spec.choices is not None:
        return value in spec.choices and type(value) is type(spec.default)
    assert spec.min is not None and spec.max is not None
    return type(value) is int and spec.min <= value <= spec.max


@EVERY_ENTRY
def test_workloads_are_within_the_params(entry: CatalogueEntry) -> None:
    for name, value in {**entry.workload, **long_workload(entry)}.items():
        assert name in entry.params, name
        assert _within(entry.params[name], value), (name, value)
    for name, spec in entry.params.items():
        assert _within(spec, spec.default), name


def _injected_ms(entry: CatalogueEntry, query: dict[str, QueryValue]) -> float:
    """The waiting or work one request with ``query`` asks for, from the lab's knobs.

    ``delay_ms`` is paid in every read call: one for the whole file, or one per
    chunk; ``item_delay_ms`` before each token; ``cpu_ms`` is thread CPU time;
    ``upstream_ms`` is the upstream's wait; ``query_ms`` one calibrated sqlite query.
    """
    values = {name: spec.default for name, spec in entry.params.items()} | query

    def number(name: str) -> int:
        value = values.get(name, 0)
        assert isinstance(value, int)
        return value

    reads = 1
    if "chunk_size" in values:
        file = values["file"]
        assert isinstance(file, str)
        reads = math.ceil(SAMPLE_SIZES[file] / number("chunk_size"))
    items = number("items") if "item_delay_ms" in values else 0
    calls = number("cpu_ms") + number("upstream_ms") + number("query_ms")
    return reads * number("delay_ms") + items * number("item_delay_ms") + calls


@EVERY_ENTRY
def test_the_workload_costs_what_the_entry_says(entry: CatalogueEntry) -> None:
    assert entry.cost_ms == _injected_ms(entry, entry.workload)
    assert entry.cost_ms >= 0


@pytest.mark.parametrize("family", [f.name for f in FAMILIES])
def test_a_familys_costed_approaches_cost_the_same(family: str) -> None:
    # Compared side by side, the approaches of a family do the same work per request.
    costs = {e.cost_ms for e in entries(family) if e.cost_ms > 0}
    assert len(costs) <= 1, costs


@EVERY_ENTRY
def test_a_long_workload_runs_for_much_longer(entry: CatalogueEntry) -> None:
    # A family with a long workload keeps one for each of its entries (only the
    # knobs the entry has), and it outlasts the workload by far.
    long = long_workload(entry)
    if not family_of(entry).long_workload:
        assert long == {}
        return
    assert long
    assert long.keys() <= entry.params.keys()
    long_ms = _injected_ms(entry, long)
    if entry.cost_ms == 0:
        # Nothing to inject (FileResponse has no slowness knobs): its length is the
        # file's, so it streams the largest sample there is.
        assert long.get("file") == sample_name(max(DEFAULT_SIZES)), long
    else:
        assert long_ms >= 20 * entry.cost_ms, (long_ms, entry.cost_ms)
    # ...and still fits the default cost budget, or the lab would refuse it.
    assert long_ms <= Settings().cost_budget_ms


def test_readme_shows_the_approaches_table() -> None:
    # The README's "The approaches" table is generated from the catalogue:
    # python -c "from app.catalogue import approaches_table; print(approaches_table())"
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    table = approaches_table()
    assert table in readme
    # A row per lab entry, the seed endpoints (outside /lab/) left out.
    rows = {row.split("`")[1]: row for row in table.splitlines()[2:]}
    assert list(rows) == [e.id for e in CATALOGUE if e.path.startswith("/lab/")]
    for entry_id, row in rows.items():
        entry = by_id(entry_id)
        assert f"| {entry.expect}" in row
        assert entry.summary in row
        assert ("🚨" in row) == entry.antipattern
