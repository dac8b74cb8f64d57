"""What a lab route takes from its catalogue entry: its docs, its cost budget, its responses.

Every lab route is declared ``@router.get(path, **catalogued("family.approach"))``,
so the catalogue stays the one source of a route's summary and description, and
every route checks its request against the cost budget before any work starts.

The budget: a request's injected cost, by its family's formula (``delay_ms`` per
read call, ``items`` times ``item_delay_ms``, ``cpu_ms``...), may not exceed
``LOOPLAB_COST_BUDGET_MS`` (30 s by default). Beyond it the answer is a 422 that
names the budget, in FastAPI's validation-error shape, so the OpenAPI document's
422 describes it too.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypedDict

from fastapi import Depends
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends as DependsParam

from app.api.params import QUERY_TYPES, Sample, SampleFile
from app.catalogue import by_id, family_of
from app.core.config import COST_BUDGET_ENV, get_settings
from looplab.protocol import CatalogueEntry, Message

__all__ = ["RouteOptions", "catalogued", "over_budget"]


class RouteOptions(TypedDict):
    summary: str
    description: str
    dependencies: list[DependsParam]
    responses: dict[int | str, dict[str, Any]]


def over_budget(cost_ms: float, budget_ms: int) -> RequestValidationError:
    """The 422 for a request whose parameters add up to more than the budget."""
    return RequestValidationError(
        [
            {
                "type": "cost_budget",
                "loc": ("query",),
                "msg": (
                    f"this request would inject {cost_ms:,.0f} ms of waiting or work, over the "
                    f"lab's cost budget of {budget_ms:,} ms per request ({COST_BUDGET_ENV})"
                ),
                "input": cost_ms,
            }
        ]
    )


def _budget_guard(entry: CatalogueEntry) -> Callable[..., Any] | None:
    family = family_of(entry)
    if not any(name in QUERY_TYPES for name in entry.params):
        return None  # nothing a query can make expensive

    # The guard declares the entry's own query parameters (validated as the route
    # validates them; OpenAPI lists each once) and shares the route's cached
    # SampleFile dependency for the file's size. It is async: no thread hop.
    async def within_budget(**query: Any) -> None:
        sample: Sample | None = query.pop("sample", None)
        cost = family.cost(query, sample.size if sample is not None else 0)
        budget = get_settings().cost_budget_ms
        if cost > budget:
            raise over_budget(cost, budget)

    parameters = [
        inspect.Parameter("sample", inspect.Parameter.KEYWORD_ONLY, annotation=SampleFile)
        if name == "file"
        else inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=QUERY_TYPES[name],
            default=family.params[name].default,
        )
        for name in entry.params
    ]
    within_budget.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return within_budget


_MESSAGE_SCHEMA = Message.model_json_schema()


def catalogued(entry_id: str) -> RouteOptions:
    """The route decorator's keywords for the catalogue entry ``entry_id``."""
    entry = by_id(entry_id)
    guard = _budget_guard(entry)
    responses: dict[int | str, dict[str, Any]] = {}
    if "file" in entry.params:
        # JSON whatever the route streams on success, so the content type is spelt out.
        responses[404] = {
            "description": "No such file in the data directory (GET /lab/files lists them).",
            "content": {"application/json": {"schema": _MESSAGE_SCHEMA}},
        }
    return RouteOptions(
        summary=entry.summary,
        description=entry.lesson,
        dependencies=[Depends(guard)] if guard is not None else [],
        responses=responses,
    )
