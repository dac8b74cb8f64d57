"""Choosing catalogue entries for a test: the catalogue decides what a test runs over."""

from collections.abc import Callable, Iterable

import pytest

from app.catalogue import CATALOGUE
from looplab.protocol import CatalogueEntry

__all__ = ["entries", "over_entries"]


def entries(
    *families: str, where: Callable[[CatalogueEntry], bool] = lambda _: True
) -> list[CatalogueEntry]:
    """The catalogue's entries of these families (every family when none is named)."""
    return [e for e in CATALOGUE if (not families or e.family in families) and where(e)]


def over_entries(
    selection: Iterable[CatalogueEntry], argname: str = "entry"
) -> pytest.MarkDecorator:
    """Parametrize a test over catalogue entries, one test per entry id.

    An empty selection is an error, not a silently skipped test: a test that
    selects by family or parameter must select something.
    """
    chosen = list(selection)
    if not chosen:
        raise ValueError(f"no catalogue entry selected for {argname!r}")
    return pytest.mark.parametrize(argname, chosen, ids=[e.id for e in chosen])
