"""The catalogue as the bench reads it: ``GET /lab`` over HTTP, never the lab's internals."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Sequence

from pydantic import TypeAdapter, ValidationError

from looplab.protocol import CatalogueEntry

__all__ = ["CatalogueError", "fetch_catalogue", "select"]

_CATALOGUE = TypeAdapter(list[CatalogueEntry])


class CatalogueError(Exception):
    """The server has no usable catalogue, or a selection names nothing in it."""


def fetch_catalogue(base: str, timeout: float = 10.0) -> list[CatalogueEntry] | None:
    """The entries at ``base/lab``, or None when the server has no catalogue (404)."""
    try:
        with urllib.request.urlopen(f"{base.rstrip('/')}/lab", timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise CatalogueError(f"GET /lab answered {exc.code}") from None
    try:
        return _CATALOGUE.validate_json(body)
    except ValidationError as exc:
        raise CatalogueError(f"GET /lab is not a looplab catalogue: {exc}") from None


def _split(values: Sequence[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def select(
    entries: Sequence[CatalogueEntry], families: Sequence[str] = (), ids: Sequence[str] = ()
) -> list[CatalogueEntry]:
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
