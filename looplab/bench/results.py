"""``results.json``: one file a person and a script can both read.

The layout (``SCHEMA_VERSION`` 1)::

    schema_version: 1
    meta:   versions {python, fastapi, starlette, anyio, asyncer, uvicorn}, loop (the one the
            server actually ran), workers, cpu_count, platform, date, settings {the bench's options}
    idle:   probe_ms {p50, p90, p99, max}, lag_ms {p99, max}: the probe alone, this machine's floor
    runs:   one object per entry x concurrency:
            id, family, approach, expect, concurrency, duration_s, requests, errors,
            throughput_rps, mb_per_s, work_ms {p50, p99, max}, probe_ms {p50, p90, p99, max},
            lag_ms {p99, max}, threadpool_peak_borrowed, stalls {count, total_ms},
            top_blocker {file, line, function} | null, verdict, agrees

Server-side figures (``lag_ms`` values, ``threadpool_peak_borrowed``, ``stalls``) are
null when the server has no per-process monitor to ask (``--workers`` > 1, or a
``--url`` server without ``/monitor``); the probe figures are always there.
Beyond the listed keys each run carries ``verdict_source`` (``"server lag"`` or
``"probe"``), ``load_cost_ms`` and ``trace`` (the probe's worst latency per 50 ms:
``{t_s: [...], probe_ms: [...]}``, what the report's lag-over-time charts draw);
``idle`` has its ``trace`` too, and a ``--full`` run adds ``targets``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_VERSION", "load_results", "save_results", "validate"]

SCHEMA_VERSION = 1

# A tiny schema language: a type, a tuple of allowed types, or a dict of nested keys.
_NUM = (int, float)
_OPT_NUM = (int, float, type(None))
_PERCENTILES = {"p50": _NUM, "p90": _NUM, "p99": _NUM, "max": _NUM}
_FRAME = {"file": str, "line": int, "function": str}

_META: dict[str, Any] = {
    "versions": {
        "python": str,
        "fastapi": str,
        "starlette": str,
        "anyio": str,
        "asyncer": str,
        "uvicorn": str,
    },
    "loop": str,
    "workers": int,
    "cpu_count": int,
    "platform": str,
    "date": str,
    "settings": dict,
}
_IDLE: dict[str, Any] = {"probe_ms": _PERCENTILES, "lag_ms": {"p99": _OPT_NUM, "max": _OPT_NUM}}
_RUN: dict[str, Any] = {
    "id": str,
    "family": str,
    "approach": str,
    "expect": str,
    "concurrency": int,
    "duration_s": _NUM,
    "requests": int,
    "errors": int,
    "throughput_rps": _NUM,
    "mb_per_s": _NUM,
    "work_ms": {"p50": _NUM, "p99": _NUM, "max": _NUM},
    "probe_ms": _PERCENTILES,
    "lag_ms": {"p99": _OPT_NUM, "max": _OPT_NUM},
    "threadpool_peak_borrowed": (int, type(None)),
    "stalls": ({"count": int, "total_ms": _NUM}, type(None)),
    "top_blocker": (_FRAME, type(None)),
    "verdict": str,
    "agrees": bool,
}
_VERDICTS = {"blocks", "responsive", "degrades"}


def _check(value: Any, spec: Any, where: str, problems: list[str]) -> None:
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object, got {type(value).__name__}")
            return
        for key, sub in spec.items():
            if key not in value:
                problems.append(f"{where}.{key}: missing")
            else:
                _check(value[key], sub, f"{where}.{key}", problems)
        return
    options = spec if isinstance(spec, tuple) else (spec,)
    for option in options:
        if isinstance(option, dict):
            if isinstance(value, dict):
                _check(value, option, where, problems)
                return
        # bool is an int in Python; a count that says `true` is still wrong.
        elif isinstance(value, option) and not (isinstance(value, bool) and option is not bool):
            return
    names = ", ".join("object" if isinstance(o, dict) else o.__name__ for o in options)
    problems.append(f"{where}: expected {names}, got {type(value).__name__}")


def validate(results: Any) -> list[str]:
    """Every way ``results`` departs from the schema; an empty list when it conforms."""
    problems: list[str] = []
    if not isinstance(results, dict):
        return ["results: expected an object"]
    if results.get("schema_version") != SCHEMA_VERSION:
        problems.append(f"schema_version: expected {SCHEMA_VERSION}")
    _check(results.get("meta"), _META, "meta", problems)
    _check(results.get("idle"), _IDLE, "idle", problems)
    runs = results.get("runs")
    if not isinstance(runs, list):
        problems.append("runs: expected a list")
        return problems
    for i, run in enumerate(runs):
        _check(run, _RUN, f"runs[{i}]", problems)
        if isinstance(run, dict) and run.get("verdict") not in _VERDICTS:
            problems.append(f"runs[{i}].verdict: not one of {sorted(_VERDICTS)}")
    return problems


def save_results(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def load_results(path: Path) -> dict[str, Any]:
    """Read a results file, refusing one that does not follow the schema."""
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    problems = validate(results)
    if problems:
        raise ValueError(f"{path} is not a looplab results file: " + "; ".join(problems[:5]))
    assert isinstance(results, dict)
    return results
