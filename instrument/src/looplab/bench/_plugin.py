"""How a lab plugs into the bench: the app it serves by default, and its ``--full`` targets.

The instrument never imports a lab. A lab that wants ``looplab bench`` to start it
when no ``--url`` is given registers a :class:`BenchPlugin` under the entry-point
group ``looplab.bench``; looplab's own lab does so in its ``pyproject.toml``::

    [project.entry-points."looplab.bench"]
    lab = "app.bench:PLUGIN"
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from looplab.protocol import BenchResults, TargetRecord

if TYPE_CHECKING:
    from looplab.bench._runner import Bench

__all__ = ["PLUGIN_GROUP", "BenchPlugin", "PluginError", "Targets", "find_plugin"]

PLUGIN_GROUP = "looplab.bench"


class PluginError(RuntimeError):
    """The installed bench plugins cannot be used (several, or one that fails to load)."""


class Targets(Protocol):
    """Extra measurements of a ``--full`` bench, made after the runs, inside ``bench.started()``."""

    def steps(self, bench: Bench) -> int:
        """How many progress steps :meth:`measure` will take (0 when it measures nothing)."""
        ...

    def measure(self, bench: Bench, results: BenchResults) -> list[TargetRecord]: ...


@dataclass(frozen=True)
class BenchPlugin:
    """What a lab gives the bench."""

    # uvicorn's module:attribute of the app to serve when no --url or --app is given.
    app: str
    # Environment for the server the bench starts (a data directory, say), read at start.
    server_env: Callable[[], Mapping[str, str]] = field(default=dict)
    targets: Targets | None = None
    # Distributions whose versions results.json records besides the bench's own list.
    versions: tuple[str, ...] = ()


def find_plugin() -> BenchPlugin | None:
    """The bench plugin installed in this environment, or None."""
    found = importlib.metadata.entry_points(group=PLUGIN_GROUP)
    if not found:
        return None
    if len(found) > 1:
        names = ", ".join(sorted(f"{ep.name} ({ep.value})" for ep in found))
        raise PluginError(f"several bench plugins are installed: {names}; keep one")
    (entry_point,) = found
    try:
        plugin = entry_point.load()
    except Exception as exc:
        raise PluginError(f"the bench plugin {entry_point.value} failed to load: {exc}") from exc
    if not isinstance(plugin, BenchPlugin):
        raise PluginError(f"{entry_point.value} is not a looplab.bench.BenchPlugin")
    return plugin
