"""results.json: a conforming document round-trips; a departure is refused, naming the field."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from looplab.bench import read_results, write_results
from looplab.protocol import SCHEMA_VERSION, BenchResults, BenchSettings, Frame, TargetRecord

TRACE: dict[str, Any] = {"t_s": [0.0, 0.05], "probe_ms": [1.2, 900.0]}
RUN: dict[str, Any] = {
    "id": "read.inline",
    "family": "read",
    "approach": "inline",
    "expect": "blocks",
    "concurrency": 8,
    "duration_s": 2.0,
    "requests": 6,
    "errors": 0,
    "throughput_rps": 3.0,
    "mb_per_s": 3.1,
    "work_ms": {"p50": 900.0, "p99": 1800.0, "max": 1800.0},
    "probe_ms": {"p50": 900.0, "p90": 1500.0, "p99": 1800.0, "max": 1810.0},
    "lag_ms": {"p99": 1790.0, "max": 1805.0},
    "threadpool_peak_borrowed": 0,
    "stalls": {"count": 6, "total_ms": 1800.0},
    "top_blocker": {"file": "app/work.py", "line": 12, "function": "read"},
    "verdict": "blocks",
    "agrees": True,
    "verdict_source": "server lag",
    "cost_ms": 300.0,
    "trace": TRACE,
}
RESULTS: dict[str, Any] = {
    "schema_version": SCHEMA_VERSION,
    "meta": {
        "versions": dict.fromkeys(
            ["python", "fastapi", "starlette", "anyio", "asyncer", "uvicorn"], "1"
        ),
        "loop": "uvloop",
        "workers": 1,
        "cpu_count": 2,
        "platform": "Linux",
        "date": "2026-11-24T23:00:00+00:00",
        "settings": {},
        "server": "app.main:app",
        "monitor": True,
    },
    "idle": {
        "probe_ms": {"p50": 1.0, "p90": 1.5, "p99": 2.0, "max": 3.0},
        "lag_ms": {"p99": None, "max": None},
        "trace": TRACE,
    },
    "runs": [RUN],
}


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    return path


def test_a_conforming_document_passes(tmp_path: Path) -> None:
    results = read_results(write(tmp_path, RESULTS))
    assert results.schema_version == SCHEMA_VERSION == 3
    assert results.meta.settings == BenchSettings()
    (run,) = results.runs
    assert (run.id, run.probe_ms.p99, run.work_ms.max) == ("read.inline", 1800.0, 1800.0)
    assert run.top_blocker == Frame(file="app/work.py", line=12, function="read")
    assert results.targets is None


def test_results_round_trip_through_write_and_read(tmp_path: Path) -> None:
    results = BenchResults.model_validate(RESULTS).with_targets(
        [TargetRecord(name="sendfile", value="1.0 GB/s", target=">= 0.5 GB/s", met=True, detail="")]
    )
    path = tmp_path / "deep" / "results.json"
    write_results(results, path)
    again = read_results(path)
    assert again == results
    # The file is plain JSON with the wire names, and the targets carry their line.
    written = json.loads(path.read_text())
    assert written["schema_version"] == SCHEMA_VERSION
    assert written["runs"][0]["top_blocker"] == RUN["top_blocker"]
    assert written["targets"][0]["line"] == "sendfile: 1.0 GB/s (>= 0.5 GB/s)"


def test_server_figures_may_be_null() -> None:
    results = copy.deepcopy(RESULTS)
    run = results["runs"][0]
    run.update(lag_ms={"p99": None, "max": None}, threadpool_peak_borrowed=None, stalls=None)
    run["top_blocker"] = None
    run["verdict_source"] = "probe"
    parsed = BenchResults.model_validate(results).runs[0]
    assert (parsed.lag_ms.p99, parsed.stalls, parsed.top_blocker) == (None, None, None)


@pytest.mark.parametrize(
    ("spoil", "fields", "complaint"),
    [
        (lambda r: r["runs"][0]["probe_ms"].pop("p99"), ["runs.0.probe_ms.p99"], "Field required"),
        (lambda r: r["runs"][0].update(requests="many"), ["runs.0.requests"], "integer"),
        (lambda r: r["runs"][0].update(verdict="slow"), ["runs.0.verdict"], "'blocks'"),
        (
            lambda r: r["runs"][0].update(top_blocker={"file": "x"}),
            ["runs.0.top_blocker.line", "runs.0.top_blocker.function"],
            "Field required",
        ),
        (lambda r: r["meta"].pop("server"), ["meta.server"], "Field required"),
        (lambda r: r["idle"].pop("trace"), ["idle.trace"], "Field required"),
        (lambda r: r.update(schema_version=1), ["schema_version"], str(SCHEMA_VERSION)),
        (lambda r: r.update(schema_version=99), ["schema_version"], str(SCHEMA_VERSION)),
        (lambda r: r.update(runs="no"), ["runs"], "valid array"),
    ],
)
def test_each_departure_is_refused_naming_the_field(
    tmp_path: Path, spoil: Any, fields: list[str], complaint: str
) -> None:
    results = copy.deepcopy(RESULTS)
    spoil(results)
    with pytest.raises(ValidationError) as invalid:
        BenchResults.model_validate(results)
    # Exactly the departures are named, nothing else in the document.
    assert [".".join(map(str, e["loc"])) for e in invalid.value.errors()] == fields
    with pytest.raises(ValueError, match="not a looplab results file") as refused:
        read_results(write(tmp_path, results))
    message = str(refused.value)
    assert all(f"{field}: " in message for field in fields)
    assert complaint in message


def test_not_an_object(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a looplab results file"):
        read_results(write(tmp_path, []))


def test_not_json_or_missing(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a looplab results file"):
        read_results(path)
    with pytest.raises(ValueError, match="cannot read"):
        read_results(tmp_path / "absent.json")


def test_readers_accept_fields_from_newer_writers_and_refuse_changes() -> None:
    results = copy.deepcopy(RESULTS)
    results["runs"][0]["added_later"] = 1  # additive changes do not break older readers
    parsed = BenchResults.model_validate(results)
    with pytest.raises(ValidationError, match="frozen"):
        parsed.runs[0].agrees = False
