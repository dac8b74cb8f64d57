"""Locust load for looplab: the lab's approaches under load, plus a paced ``/ping``.

Nothing here names an endpoint of the lab: when a test starts, the catalogue is read
from ``GET /lab`` and every chosen entry becomes one task that calls the entry's
path with its ``workload`` query parameters, grouped in the statistics under its id.
``/lab`` is read and the entries chosen as ``looplab bench`` does it, by
:func:`looplab.bench.fetch_catalogue` and :func:`looplab.bench.select`.

    locust -f benchmarks/locustfile.py --headless -u 9 -r 9 -t 30s \\
        --host http://127.0.0.1:8000 --lab-family read

Choose entries with ``--lab-ids read.inline,read.asyncify`` and/or ``--lab-family
read,cpu`` (an entry is chosen when its id or its family is listed; neither option
means the whole catalogue). ``--lab-query delay_ms=5,cpu_ms=5`` changes the workload
of every chosen entry that takes the parameter (checked against the catalogue's
bounds), and ``--lab-wait 0.1`` makes each ``LabUser`` wait between its requests:
light, paced load for a soak (``benchmarks/soak.py``) instead of back-to-back calls.

``ProbeUser`` is one extra user (``-u`` counts it) that calls ``/ping`` at
``--probe-rate`` per second; to run the lab's entries alone, name the class:
``locust -f benchmarks/locustfile.py LabUser ...``. A failed request, or a run that
recorded none, makes locust exit 1.

Locust's users are closed-loop: a user waits for its response before it sends
again, so while the server's event loop is stalled they send nothing and the
stall is under-counted in the percentiles (coordinated omission). Locust shows
how much an app serves and what errors it gives; the open-loop probe of
``looplab bench`` says how long the loop stalls. ``benchmarks/locust_vs_probe.py``
measures both on the same stall.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import gevent
from locust import FastHttpUser, constant_throughput, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from looplab.bench import CatalogueError, fetch_catalogue, select
from looplab.protocol import CatalogueEntry, ParamSpec, QueryValue

__all__ = ["LabUser", "ProbeUser"]

logger = logging.getLogger("looplab.locust")

LabTask = Callable[["LabUser"], None]


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    # Custom arguments show in the web UI's start form too, and the master passes
    # them on to its workers before test_start fires there.
    parser.add_argument(
        "--lab-ids",
        default="",
        help="Comma-separated catalogue ids to load, e.g. read.inline,read.asyncify",
    )
    parser.add_argument(
        "--lab-family",
        default="",
        help="Comma-separated catalogue families to load, e.g. read,cpu",
    )
    parser.add_argument(
        "--lab-query",
        default="",
        help="Comma-separated name=value workload overrides, e.g. delay_ms=5,cpu_ms=5",
    )
    parser.add_argument(
        "--lab-wait",
        type=float,
        default=0.0,
        help="Seconds a LabUser waits between its requests (0: back to back)",
    )
    parser.add_argument(
        "--probe-rate",
        type=float,
        default=20.0,
        help="Calls per second of the ProbeUser to /ping",
    )


def lab_task(entry: CatalogueEntry, overrides: Mapping[str, QueryValue] | None = None) -> LabTask:
    """One task: a call to the entry's path with its ``workload``, named after its id."""
    # A path and query relative to the host: locust's client prefixes --host.
    url = entry.url("", **(overrides or {}))
    method, name = entry.method, entry.id

    def call_entry(user: LabUser) -> None:
        user.client.request(method, url, name=name)

    call_entry.__name__ = f"call_{name}"
    return call_entry


def parse_query(text: str) -> dict[str, QueryValue]:
    """``"delay_ms=5,file=sample-4KiB.bin"`` as overrides; values stay as the URL carries them."""
    overrides: dict[str, QueryValue] = {}
    for pair in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CatalogueError(f"--lab-query takes name=value pairs, not {pair!r}")
        overrides[name.strip()] = value.strip()
    return overrides


def _accepts(spec: ParamSpec, value: QueryValue) -> bool:
    if spec.choices is not None:
        return str(value).lower() in {str(c).lower() for c in spec.choices}
    try:
        number = int(value)
    except ValueError:
        return False
    return (spec.min is None or number >= spec.min) and (spec.max is None or number <= spec.max)


def _overrides_for(
    entry: CatalogueEntry, overrides: Mapping[str, QueryValue]
) -> dict[str, QueryValue]:
    chosen = {name: value for name, value in overrides.items() if name in entry.params}
    for name, value in chosen.items():
        if not _accepts(entry.params[name], value):
            raise CatalogueError(f"{entry.id} does not accept {name}={value} (see GET /lab)")
    return chosen


def build_tasks(
    entries: Iterable[CatalogueEntry], overrides: Mapping[str, QueryValue] | None = None
) -> list[LabTask]:
    """One task per entry; ``overrides`` change the workload of the entries that take them.

    An override that no entry takes, or a value outside an entry's bounds, is an error:
    it would otherwise leave the load heavier than asked, or answer 422 on every call.
    """
    chosen, wanted = list(entries), dict(overrides or {})
    unused = [name for name in wanted if not any(name in e.params for e in chosen)]
    if unused:
        raise CatalogueError(f"no chosen entry takes {', '.join(unused)}")
    return [lab_task(entry, _overrides_for(entry, wanted)) for entry in chosen]


def _catalogue_not_loaded(user: LabUser) -> None:
    # Reached only when test_start could not read /lab (already reported, and the
    # run is being stopped): stand the user down instead of raising per task.
    raise StopUser()


class LabUser(FastHttpUser):
    """One keep-alive connection calling the chosen catalogue entries back to back."""

    # Replaced by _load_catalogue when a test starts.
    tasks = [_catalogue_not_loaded]  # noqa: RUF012 (locust reads the class attribute)

    def wait_time(self) -> float:
        # No think time unless --lab-wait says so: like the bench's load, each user is
        # then one busy connection.
        options = self.environment.parsed_options
        return float(options.lab_wait) if options is not None else 0.0


class ProbeUser(FastHttpUser):
    """A single user calling ``/ping`` at ``--probe-rate`` per second (closed-loop)."""

    fixed_count = 1

    def wait_time(self) -> float:
        # constant_throughput keeps its pacing state on the user, so building the
        # function per call from the (possibly web-UI-edited) rate is exact.
        rate = self.environment.parsed_options.probe_rate
        pace: Callable[[ProbeUser], float] = constant_throughput(rate)
        return pace(self)

    @task
    def call_ping(self) -> None:
        self.client.get("/ping")


def _stop_run(environment: Environment, message: str) -> None:
    logger.error("looplab: %s", message)
    runner = environment.runner
    assert runner is not None
    # Stopping from inside test_start would cut the runner's own greenlet: do it
    # right after. A headless run ends, failing; in the web UI the form comes
    # back, to fix the host or the ids and start again.
    if environment.parsed_options is not None and environment.parsed_options.headless:
        environment.process_exit_code = 1
        gevent.spawn(runner.quit)
    else:
        gevent.spawn(runner.stop)


@events.test_start.add_listener
def _load_catalogue(environment: Environment, **_kwargs: Any) -> None:
    # Runs on the master too, so a wrong id is reported once, where the run began.
    LabUser.tasks = [_catalogue_not_loaded]
    options = environment.parsed_options
    if options is None or LabUser not in environment.user_classes:
        return
    if not environment.host:
        _stop_run(environment, "no host: pass --host http://127.0.0.1:8000")
        return
    try:
        catalogue = fetch_catalogue(environment.host)
        if catalogue is None:
            _stop_run(environment, f"{environment.host} has no catalogue: GET /lab answered 404")
            return
        # Comma-separated lists, split by select: "read,cpu".
        entries = select(catalogue, families=[options.lab_family], ids=[options.lab_ids])
        if not entries:
            _stop_run(environment, "the catalogue at /lab is empty")
            return
        tasks = build_tasks(entries, parse_query(options.lab_query))
    # OSError covers urllib's errors (no server there); CatalogueError a /lab that is
    # not a catalogue, a --lab-ids or --lab-family that names nothing in it, or a
    # --lab-query that no chosen entry takes.
    except (OSError, CatalogueError) as exc:
        _stop_run(environment, f"cannot build the lab tasks from {environment.host}/lab: {exc}")
        return
    LabUser.tasks = list(tasks)
    if not isinstance(environment.runner, MasterRunner):
        logger.info("looplab: loading %s", ", ".join(entry.id for entry in entries))


@events.quitting.add_listener
def _fail_on_errors(environment: Environment, **_kwargs: Any) -> None:
    # Locust already exits non-zero on failed requests by default; this also makes
    # a run that recorded nothing fail, and keeps an earlier failing code. Workers
    # hand their figures to the master as they go: the master decides.
    if isinstance(environment.runner, WorkerRunner):
        return
    total = environment.stats.total
    if total.num_requests == 0:
        logger.error("looplab: no requests were recorded")
        environment.process_exit_code = 1
    elif total.num_failures > 0:
        logger.error("looplab: %d of %d requests failed", total.num_failures, total.num_requests)
        environment.process_exit_code = 1
