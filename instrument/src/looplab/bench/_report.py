"""The bench's outputs for people: a table in the terminal, and report.html with its charts.

Everything here reads only the results document, so ``looplab bench --report
results.json`` redraws the same report from a file, on any machine.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from rich.table import Table

from looplab.protocol import BenchResults, Frame, RunRecord

__all__ = ["families", "results_markdown", "results_table", "write_charts", "write_report"]

_VERDICT_COLOURS = {"blocks": "#d62728", "degrades": "#ff7f0e", "responsive": "#2ca02c"}
_RICH_VERDICT = {"blocks": "bold red", "degrades": "yellow", "responsive": "green"}


def families(runs: Sequence[RunRecord]) -> list[str]:
    """Families in the order the catalogue listed them."""
    return list(dict.fromkeys(run.family for run in runs))


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _blocker(frame: Frame | None) -> str:
    if not frame:
        return ""
    return f"{Path(frame.file).name}:{frame.line} {frame.function}"


def _row(run: RunRecord) -> list[str]:
    mb = run.mb_per_s
    return [
        run.approach,
        str(run.concurrency),
        f"{run.throughput_rps:,.1f}",
        f"{mb:,.1f}" if mb >= 0.1 else "",
        _ms(run.work_ms.p99 if run.requests else None),
        _ms(run.probe_ms.p50),
        _ms(run.probe_ms.p99),
        _ms(run.probe_ms.max),
        _ms(run.lag_ms.p99),
        _ms(run.lag_ms.max),
        _blocker(run.top_blocker),
    ]


_LEFT = ("approach", "top blocker", "verdict", "expect")
_HEADERS = [
    "approach",
    "conc",
    "req/s",
    "MB/s",
    "work p99",
    "probe p50",
    "probe p99",
    "probe max",
    "lag p99",
    "lag max",
    "top blocker",
    "verdict",
    "expect",
]


def results_table(results: BenchResults) -> Table:
    """One table, a section per family; times in ms."""
    idle = results.idle.probe_ms
    table = Table(
        title="looplab bench (times in ms)",
        caption=f"idle floor: probe p50 {_ms(idle.p50)} · p99 {_ms(idle.p99)} · "
        f"max {_ms(idle.max)} ms; loop {results.meta.loop}, "
        f"{results.meta.workers} worker(s)",
    )
    table.add_column("family", style="bold")
    for header in _HEADERS:
        numeric = header not in _LEFT
        table.add_column(header, justify="right" if numeric else "left")
    for family in families(results.runs):
        for i, run in enumerate(r for r in results.runs if r.family == family):
            verdict = f"[{_RICH_VERDICT[run.verdict]}]{run.verdict}[/]"
            agrees = f"[green]✓ {run.expect}[/]" if run.agrees else f"[red]✗ {run.expect}[/]"
            table.add_row(family if i == 0 else "", *_row(run), verdict, agrees)
        table.add_section()
    return table


def results_markdown(results: BenchResults) -> str:
    """The same table in Markdown (``summary.md``), for a README or an issue."""
    lines = [
        "| family | " + " | ".join(_HEADERS) + " |",
        "|---|" + "|".join("---" if h in _LEFT else "---:" for h in _HEADERS) + "|",
    ]
    for family in families(results.runs):
        for i, run in enumerate(r for r in results.runs if r.family == family):
            cells = [*_row(run), run.verdict, ("✓ " if run.agrees else "✗ ") + run.expect]
            cells = [c.replace("|", "\\|") for c in cells]
            lines.append(f"| {family if i == 0 else ''} | " + " | ".join(cells) + " |")
    idle = results.idle.probe_ms
    lines.append("")
    lines.append(
        f"Times in ms. Idle floor: /ping p50 {_ms(idle.p50)}, p99 {_ms(idle.p99)}, "
        f"max {_ms(idle.max)}; loop {results.meta.loop}, "
        f"{results.meta.workers} worker(s), {results.meta.cpu_count} CPUs."
    )
    for target in results.targets or []:
        lines.append(f"- `{target.line}`")
    return "\n".join(lines) + "\n"


# -- charts ------------------------------------------------------------------
def _pyplot() -> ModuleType:
    # Imported on first use: matplotlib takes a while to load, and `looplab serve`
    # or a table-only use of this module should not pay for it.
    import matplotlib

    matplotlib.use("Agg")  # no display: charts are written to files, never shown
    import matplotlib.pyplot as plt

    return plt


def _probe_chart(results: BenchResults, path: Path) -> None:
    plt = _pyplot()
    runs = results.runs
    names = families(runs)
    idle_p99 = results.idle.probe_ms.p99
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(5.2 * columns, 3.6 * rows), squeeze=False, sharey=True
    )
    for ax, family in zip(axes.flat, names, strict=False):
        mine = [r for r in runs if r.family == family]
        approaches = list(dict.fromkeys(r.approach for r in mine))
        levels = sorted({r.concurrency for r in mine})
        width = 0.8 / len(levels)
        for j, level in enumerate(levels):
            for i, approach in enumerate(approaches):
                run = next(
                    (r for r in mine if r.approach == approach and r.concurrency == level),
                    None,
                )
                if run is None:
                    continue
                x = i - 0.4 + width * (j + 0.5)
                ax.bar(
                    x,
                    max(run.probe_ms.p99, 0.01),
                    width * 0.9,
                    color=_VERDICT_COLOURS[run.verdict],
                    edgecolor="black" if not run.agrees else "none",
                    hatch="//" if not run.agrees else None,
                )
                if len(levels) > 1:
                    # x in data, y in axes coordinates: just above the bottom edge.
                    ax.text(
                        x,
                        0.02,
                        f"x{level}",
                        ha="center",
                        va="bottom",
                        fontsize=6,
                        transform=ax.get_xaxis_transform(),
                    )
        ax.axhline(idle_p99, color="grey", linestyle="--", linewidth=1)
        ax.text(len(approaches) - 0.5, idle_p99, " idle", va="bottom", ha="right", fontsize=7)
        ax.set_yscale("log")
        ax.set_title(family)
        ax.set_xticks(range(len(approaches)), approaches, rotation=30, ha="right", fontsize=7)
        ax.set_ylabel("probe p99 (ms)")
    # One scale for every family, from under the idle floor to over the worst stall,
    # so a bar's height means the same thing in every panel.
    worst = max(r.probe_ms.p99 for r in runs)
    axes.flat[0].set_ylim(min(0.5, idle_p99 / 2), max(worst, idle_p99) * 2)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in _VERDICT_COLOURS.values()]
    handles.append(plt.Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="black", hatch="//"))
    labels = [*_VERDICT_COLOURS, "verdict ≠ expect"]
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    fig.suptitle("/ping p99 while each approach is under load (log scale; dashed: idle floor)")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _trace_chart(results: BenchResults, family: str, path: Path) -> None:
    plt = _pyplot()
    runs = [r for r in results.runs if r.family == family]
    levels = sorted({r.concurrency for r in runs})
    fig, axes = plt.subplots(1, len(levels), figsize=(5.5 * len(levels), 3.4), squeeze=False)
    idle_p99 = results.idle.probe_ms.p99
    for ax, level in zip(axes.flat, levels, strict=True):
        for run in (r for r in runs if r.concurrency == level):
            trace = run.trace
            ax.plot(trace.t_s, [max(v, 0.01) for v in trace.probe_ms], label=run.approach)
        ax.axhline(idle_p99, color="grey", linestyle="--", linewidth=1)
        ax.set_yscale("log")
        ax.set_xlabel("time in run (s)")
        ax.set_ylabel("worst /ping latency per 50 ms (ms)")
        ax.set_title(f"{family} x {level}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_charts(results: BenchResults, out_dir: Path) -> list[Path]:
    """Write the PNG charts into ``out_dir``; return their paths (none without runs)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if not results.runs:
        return []
    charts = [out_dir / "probe_p99.png"]
    _probe_chart(results, charts[0])
    for family in families(results.runs):
        path = out_dir / f"lag_trace_{family}.png"
        _trace_chart(results, family, path)
        charts.append(path)
    return charts


# -- the page ------------------------------------------------------------------
_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; }
td.l, th.l { text-align: left; }
tr.family td { background: #f3f3f3; font-weight: bold; text-align: left; }
.blocks { color: #d62728; font-weight: bold; } .degrades { color: #c76000; }
.responsive { color: #2ca02c; } .disagree { background: #fde7e7; }
img { max-width: 100%; border: 1px solid #eee; margin: 1em 0; }
code { background: #f3f3f3; padding: 1px 4px; }
"""


def _html_table(results: BenchResults) -> str:
    head = "".join(f"<th class='l'>{h}</th>" if h in _LEFT else f"<th>{h}</th>" for h in _HEADERS)
    rows = []
    for family in families(results.runs):
        rows.append(
            f"<tr class='family'><td colspan='{len(_HEADERS)}'>{html.escape(family)}</td></tr>"
        )
        for run in (r for r in results.runs if r.family == family):
            cells = _row(run)
            tds = "".join(
                f"<td class='l'>{html.escape(c)}</td>"
                if i in (0, 10)
                else f"<td>{html.escape(c)}</td>"
                for i, c in enumerate(cells)
            )
            verdict = run.verdict
            mark = "✓" if run.agrees else "✗"
            css = "" if run.agrees else " class='disagree'"
            rows.append(
                f"<tr{css}>{tds}<td class='l {verdict}'>{verdict}</td>"
                f"<td class='l'>{mark} {html.escape(run.expect)}</td></tr>"
            )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _targets_html(results: BenchResults) -> str:
    targets = results.targets or []
    if not targets:
        return ""
    marks = {True: "✓", False: "✗", None: ""}
    items = "".join(
        f"<li><code>{html.escape(t.line)}</code> {marks[t.met]}"
        f"<br><small>{html.escape(t.detail)}</small></li>"
        for t in targets
    )
    return f"<h2>Targets</h2><ul>{items}</ul>"


def write_report(results: BenchResults, out_dir: Path) -> Path:
    """Write the charts, ``report.html`` (charts embedded) and ``summary.md`` into ``out_dir``."""
    charts = write_charts(results, out_dir)
    meta, idle = results.meta, results.idle
    images = "".join(
        f"<h3>{html.escape(c.stem.replace('_', ' '))}</h3>"
        f"<img alt='{html.escape(c.stem)}' src='data:image/png;base64,"
        f"{base64.b64encode(c.read_bytes()).decode('ascii')}'>"
        for c in charts
    )
    versions = ", ".join(f"{k} {v}" for k, v in meta.versions.items())
    rate = meta.settings.probe_rate_hz
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>looplab bench</title>
<style>{_CSS}</style></head><body>
<h1>looplab bench</h1>
<p>{html.escape(meta.date)} · {html.escape(meta.platform)} · {meta.cpu_count} CPUs ·
loop {html.escape(meta.loop)} · {meta.workers} worker(s)<br>
<small>{html.escape(versions)}</small></p>
<p>Idle floor (probe alone): /ping p50 {_ms(idle.probe_ms.p50)} ms, p99
{_ms(idle.probe_ms.p99)} ms, max {_ms(idle.probe_ms.max)} ms; server lag p99
{_ms(idle.lag_ms.p99)} ms, max {_ms(idle.lag_ms.max)} ms.
Probe latencies run from each request's intended send time (open loop, {rate} /s).
All times in ms.</p>
{_html_table(results) if results.runs else "<p>No catalogue runs: the probe alone.</p>"}
{_targets_html(results)}
{images}
</body></html>
"""
    path = out_dir / "report.html"
    path.write_text(page)
    (out_dir / "summary.md").write_text(results_markdown(results))
    return path
