"""The catalogue as the bench reads it: ``GET /lab`` over HTTP, never the app's internals."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

__all__ = ["CatalogueError", "Entry", "fetch_catalogue", "select"]


class CatalogueError(Exception):
    """The server has no usable catalogue, or a selection names nothing in it."""


@dataclass(frozen=True)
class Entry:
    """One approach of one family: where to call it and what one loaded request costs."""

    id: str
    family: str
    approach: str
    path: str
    expect: str
    load: Mapping[str, Any] = field(default_factory=dict)
    load_cost_ms: float = 0.0
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Entry:
        try:
            return cls(
                id=str(raw["id"]),
                family=str(raw["family"]),
                approach=str(raw["approach"]),
                path=str(raw["path"]),
                expect=str(raw["expect"]),
                load=dict(raw.get("load") or {}),
                load_cost_ms=float(raw.get("load_cost_ms") or 0.0),
                params=dict(raw.get("params") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CatalogueError(f"malformed catalogue entry {raw!r}: {exc}") from None

    def url(self, base: str, **overrides: Any) -> str:
        """The URL of one request with the entry's ``load``, changed by ``overrides``."""
        query = {**self.load, **overrides}
        encoded = urlencode({k: _query_value(v) for k, v in query.items()})
        return f"{base.rstrip('/')}{self.path}" + (f"?{encoded}" if encoded else "")


def _query_value(value: Any) -> str:
    # JSON booleans go out as FastAPI reads them back.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fetch_catalogue(base: str, timeout: float = 10.0) -> list[Entry] | None:
    """The entries at ``base/lab``, or None when the server has no catalogue (404)."""
    try:
        with urllib.request.urlopen(f"{base.rstrip('/')}/lab", timeout=timeout) as response:
            raw = json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise CatalogueError(f"GET /lab answered {exc.code}") from None
    if not isinstance(raw, list):
        raise CatalogueError("GET /lab did not return a JSON list")
    return [Entry.from_json(item) for item in raw]


def _split(values: Sequence[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def select(
    entries: Sequence[Entry], families: Sequence[str] = (), ids: Sequence[str] = ()
) -> list[Entry]:
    """The entries of the ``families`` and ``ids`` asked for (all when neither is given).

    A name that matches nothing is an error, not an empty bench.
    """
    wanted_families, wanted_ids = _split(families), _split(ids)
    known_families = {e.family for e in entries}
    known_ids = {e.id for e in entries}
    unknown = [f for f in wanted_families if f not in known_families]
    if unknown:
        known = ", ".join(sorted(known_families))
        raise CatalogueError(f"unknown family {', '.join(unknown)}; the catalogue has {known}")
    unknown = [i for i in wanted_ids if i not in known_ids]
    if unknown:
        raise CatalogueError(f"unknown id {', '.join(unknown)}; see GET /lab for the ids")
    if not wanted_families and not wanted_ids:
        return list(entries)
    return [e for e in entries if e.family in wanted_families or e.id in wanted_ids]
