"""``results.json``: one file a person and a script can both read.

Its layout is :class:`looplab.protocol.BenchResults` (``schema_version`` 3):
``meta`` (versions, the loop the server really ran, settings), ``idle`` (the
probe alone: this machine's floor) and one ``runs`` record per entry and
concurrency, plus ``targets`` after ``--full``. Server-side figures are null when
the server has no per-process monitor to ask (``--workers`` > 1, or a ``--url``
server without ``/monitor``); the probe figures are always there.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from looplab.protocol import SCHEMA_VERSION, BenchResults

__all__ = ["read_results", "write_results"]


def write_results(results: BenchResults, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(results.model_dump_json(indent=2) + "\n")


def read_results(path: Path) -> BenchResults:
    """Read a results file, refusing one that does not follow the schema (ValueError)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    try:
        return BenchResults.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'results'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise ValueError(
            f"{path} is not a looplab results file (schema_version {SCHEMA_VERSION}): {problems}"
        ) from None
