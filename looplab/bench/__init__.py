"""The bench: every catalogue approach under load, measured from outside by an open-loop probe.

``looplab bench`` runs it; the pieces are reusable on their own: ``probe`` (a
fixed-rate probe timed from each request's intended send, as wrk2 does) and
``load`` (a keep-alive HTTP/1.1 load generator on raw asyncio) measure any
server, ``Bench`` drives a whole run and returns the ``results.json`` document.
"""

from looplab.bench.load import LoadResult, load
from looplab.bench.probe import ProbeResult, probe
from looplab.bench.results import SCHEMA_VERSION, load_results, validate
from looplab.bench.runner import Bench, BenchSettings

__all__ = [
    "SCHEMA_VERSION",
    "Bench",
    "BenchSettings",
    "LoadResult",
    "ProbeResult",
    "load",
    "load_results",
    "probe",
    "validate",
]
