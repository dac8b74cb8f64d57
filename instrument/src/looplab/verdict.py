"""One rule that turns measured event-loop lag into a verdict.

The pytest timing tests and the bench both judge an approach with these two
functions, so a result can never mean one thing in CI and another in a chart.
Lag is compared with the cost injected per request (``cost_ms``: the seconds of
waiting or work one request asks for), never with a fixed number alone: a
300 ms stall is damning for 300 ms of work and noise for 30 s of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from looplab.protocol import Verdict

__all__ = [
    "BLOCKS_FRACTION",
    "DEGRADES_MARGIN",
    "RESPONSIVE_CEILING_MS",
    "RESPONSIVE_FRACTION",
    "Lag",
    "Verdict",
    "family_verdicts",
    "verdict",
]


# The loop stalled for most of a request's cost: the work ran on the loop.
BLOCKS_FRACTION = 0.6
# The loop stayed free for the whole request: p99 lag is a small share of the
# cost and small in absolute terms (a person notices 100 ms; a probe times out).
RESPONSIVE_FRACTION = 0.25
RESPONSIVE_CEILING_MS = 60.0
# Within a family, an approach "degrades" when its worst stall, relative to its
# cost, is at most this share of the blocking approach's: clearly better than
# blocking, yet not responsive.
DEGRADES_MARGIN = 0.75


@dataclass(frozen=True)
class Lag:
    """Event-loop lag measured while requests ran: the raw maximum and the corrected p99."""

    max_ms: float
    p99_ms: float


def _responsive_limit_ms(cost_ms: float) -> float:
    # An entry with no injected cost (a cheap seed endpoint) can only be judged
    # against the absolute ceiling.
    if cost_ms <= 0:
        return RESPONSIVE_CEILING_MS
    return min(RESPONSIVE_FRACTION * cost_ms, RESPONSIVE_CEILING_MS)


def verdict(lag: Lag, cost_ms: float) -> Verdict:
    """Judge one entry measured alone, by the absolute rule.

    ``blocks`` if the worst stall reached 60% of the per-request cost;
    ``responsive`` if the corrected p99 stayed within 25% of it and within 60 ms;
    ``degrades`` otherwise. With no injected cost (``cost_ms <= 0``) nothing can
    be said to block, so only the 60 ms ceiling applies.
    """
    if cost_ms > 0 and lag.max_ms >= BLOCKS_FRACTION * cost_ms:
        return "blocks"
    if lag.p99_ms <= _responsive_limit_ms(cost_ms):
        return "responsive"
    return "degrades"


def _stall_ratio(lag: Lag, cost_ms: float) -> float:
    return lag.max_ms / cost_ms if cost_ms > 0 else 0.0


def family_verdicts(lags: Mapping[str, Lag], cost_ms: Mapping[str, float]) -> dict[str, Verdict]:
    """Judge the entries of one family, measured at the same concurrency, together.

    Responsive entries are judged by the absolute rule. The others are ordered by
    their worst stall relative to their cost: the worst of them that blocks by the
    absolute rule is the family's blocking reference, and an entry ``degrades``
    when it stalls clearly less than that reference (at most ``DEGRADES_MARGIN`` of
    its ratio) — worse than the responsive approaches, better than the blocking
    one. Under concurrency a degrading approach can stall for a whole request's
    cost (the GIL), so an absolute threshold could not tell it from blocking.
    """
    if lags.keys() != cost_ms.keys():
        raise ValueError("lags and cost_ms must name the same entries")
    alone = {name: verdict(lag, cost_ms[name]) for name, lag in lags.items()}
    blocking = [name for name, v in alone.items() if v == "blocks"]
    if not blocking:
        return alone
    worst = max(_stall_ratio(lags[name], cost_ms[name]) for name in blocking)
    judged: dict[str, Verdict] = {}
    for name, v in alone.items():
        if v == "blocks" and _stall_ratio(lags[name], cost_ms[name]) <= DEGRADES_MARGIN * worst:
            judged[name] = "degrades"
        else:
            judged[name] = v
    return judged
