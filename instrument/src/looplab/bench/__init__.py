"""The bench: a lab's catalogue under load, measured from outside by an open-loop probe.

``looplab bench`` runs it (the ``bench`` extra). The pieces work on their own:
:func:`probe` (a fixed-rate probe timed from each request's intended send, as
wrk2 does) and :func:`load` (a keep-alive HTTP/1.1 load generator on raw asyncio)
measure any server; :class:`ServerProcess` runs an ASGI app under uvicorn in a
process of its own; :class:`Bench` drives a whole run and returns the
``results.json`` document; a lab registers a :class:`BenchPlugin`.
"""

from looplab.bench._catalogue import CatalogueError, fetch_catalogue, select
from looplab.bench._load import LoadResult, load
from looplab.bench._plugin import PLUGIN_GROUP, BenchPlugin, PluginError, Targets, find_plugin
from looplab.bench._probe import ProbeResult, probe
from looplab.bench._remote import DrainTimeout, Server
from looplab.bench._results import read_results, write_results
from looplab.bench._runner import Bench, Measurement, assign_verdicts
from looplab.bench._server import (
    DEFAULT_HTTP,
    GRACEFUL_SHUTDOWN_S,
    UVICORN_HTTP,
    UVICORN_LOOPS,
    ServerProcess,
    ServerStartError,
)

__all__ = [
    "DEFAULT_HTTP",
    "GRACEFUL_SHUTDOWN_S",
    "PLUGIN_GROUP",
    "UVICORN_HTTP",
    "UVICORN_LOOPS",
    "Bench",
    "BenchPlugin",
    "CatalogueError",
    "DrainTimeout",
    "LoadResult",
    "Measurement",
    "PluginError",
    "ProbeResult",
    "Server",
    "ServerProcess",
    "ServerStartError",
    "Targets",
    "assign_verdicts",
    "fetch_catalogue",
    "find_plugin",
    "load",
    "probe",
    "read_results",
    "select",
    "write_results",
]
