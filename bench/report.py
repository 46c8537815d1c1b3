"""The results of one run as JSON and a markdown table, with the goals checked from the rows."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

import psutil

from .load import Measurement, summary
from .servers import COURSE_SERVERS, SERVERS

GOAL_LEVELS = (5000, 10000)  # where the fan-out goals apply (every level of a smaller run)
FANOUT_VS_NODE, WORST_VS_MEDIAN, KIB_PER_CONNECTION = 1.5, 2.0, 55.0
CONNECTS_PER_SECOND, SIMPLE_VS_GEVENT, WORKER_P99_MS = 800.0, 1.2, 10.0


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def write_json(path: Path, rows: list[Measurement], started: str, argv: list[str]) -> None:
    document = {
        "started": started,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine(),
        "command": "python -m bench " + " ".join(argv),
        "rows": [{**asdict(row), **summary(row)} for row in rows],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def read_json(path: Path) -> tuple[dict, list[Measurement]]:
    document = json.loads(path.read_text())
    fields = Measurement.__dataclass_fields__
    rows = [
        Measurement(**{k: v for k, v in row.items() if k in fields}) for row in document["rows"]
    ]
    return document, rows


def number(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def ratio(mine: float | None, reference: float | None) -> str:
    return "—" if not mine or not reference else f"{mine / reference:.2f}"


MEASURES = [
    # (label, how to read it from a row's summary, digits)
    ("clients held (of asked)", lambda r, s: r.held, 0),
    ("connects per second", lambda r, s: r.connects_per_second, 0),
    ("KiB per idle connection", lambda r, s: r.kib_per_connection, 1),
    ("server RSS when idle, MiB", lambda r, s: r.rss_idle_mb, 0),
    ("send → last client, median ms", lambda r, s: s["wave_median_ms"], 0),
    ("send → last client, min ms", lambda r, s: s["wave_min_ms"], 0),
    ("send → last client, max ms", lambda r, s: s["wave_max_ms"], 0),
    ("worst wave / median", lambda r, s: s["worst_over_median"], 2),
    ("worker → client p50 ms", lambda r, s: s["worker_p50_ms"], 1),
    ("worker → client p99 ms", lambda r, s: s["worker_p99_ms"], 1),
    ("clients with deflate", lambda r, s: r.deflate_clients, 0),
]


def table(rows: list[Measurement]) -> list[str]:
    by_key = {(r.server, r.clients): r for r in rows}
    servers = [s for s in SERVERS if any(r.server == s for r in rows)]
    header = ["clients", "measure", *servers]
    ratios = [(c, "node") for c in COURSE_SERVERS if c in servers and "node" in servers]
    if set(COURSE_SERVERS) <= set(servers):
        ratios.append(("simple-websocket", "gevent-websocket"))
    header += [f"{a} / {b}" for a, b in ratios]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    for clients in sorted({r.clients for r in rows}):
        here = {s: by_key.get((s, clients)) for s in servers}
        figures = {s: (r, summary(r)) for s, r in here.items() if r is not None}
        for label, read, digits in MEASURES:
            values = {s: read(*figures[s]) if s in figures else None for s in servers}
            cells = [number(values[s], digits) for s in servers]
            if label == "clients held (of asked)":
                cells = [f"{c} ({clients:,})" for c in cells]
            cells += [ratio(values[a], values[b]) for a, b in ratios]
            lines.append(f"| {clients:,} | {label} | " + " | ".join(cells) + " |")
    return lines


def goals(rows: list[Measurement]) -> list[str]:
    """Each goal of issue 12, checked against this run's rows: met, missed, or not measured."""
    levels = sorted({r.clients for r in rows})
    fanout_levels = [c for c in levels if c in GOAL_LEVELS] or levels
    by_key = {(r.server, r.clients): (r, summary(r)) for r in rows}
    lines = []

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("met" if ok else "**missed**")

    for server in COURSE_SERVERS:
        for clients in fanout_levels:
            mine, node = by_key.get((server, clients)), by_key.get(("node", clients))
            if mine is None:
                continue
            median = mine[1]["wave_median_ms"]
            vs_node = median / node[1]["wave_median_ms"] if node and median else None
            worst = mine[1]["worst_over_median"]
            lines.append(
                f"- {server}, {clients:,} clients: fan-out {number(vs_node, 2)}× Node "
                f"(goal ≤ {FANOUT_VS_NODE}: {verdict(vs_node and vs_node <= FANOUT_VS_NODE)}), "
                f"worst wave {number(worst, 2)}× its median (goal ≤ {WORST_VS_MEDIAN}: "
                f"{verdict(worst and worst <= WORST_VS_MEDIAN)})"
            )
        mine = [by_key[(server, c)][0] for c in levels if (server, c) in by_key]
        kib = max((r.kib_per_connection or 0 for r in mine), default=None)
        rate = min((r.connects_per_second for r in mine if r.held > 1), default=None)
        p99 = max((by_key[(server, r.clients)][1]["worker_p99_ms"] or 0 for r in mine), default=0)
        lines.append(
            f"- {server}, every level: at most {number(kib, 1)} KiB per idle connection "
            f"(goal ≤ {KIB_PER_CONNECTION:.0f}: {verdict(kib and kib <= KIB_PER_CONNECTION)}), "
            f"at least {number(rate)} connects/s (goal ≥ {CONNECTS_PER_SECOND:.0f}: "
            f"{verdict(rate and rate >= CONNECTS_PER_SECOND)}), worker → client p99 at most "
            f"{number(p99 or None, 1)} ms (goal ≤ {WORKER_P99_MS:.0f}: "
            f"{verdict(p99 and p99 <= WORKER_P99_MS)})"
        )
    for clients in fanout_levels:
        simple = by_key.get(("simple-websocket", clients))
        gevent = by_key.get(("gevent-websocket", clients))
        if simple and gevent and gevent[1]["wave_median_ms"]:
            vs = simple[1]["wave_median_ms"] / gevent[1]["wave_median_ms"]
            lines.append(
                f"- simple-websocket / gevent-websocket fan-out at {clients:,}: {vs:.2f}× "
                f"(goal ≤ {SIMPLE_VS_GEVENT}: {verdict(vs <= SIMPLE_VS_GEVENT)})"
            )
    return lines


def write_markdown(path: Path, document: dict, rows: list[Measurement], plot_name: str) -> None:
    loads = ", ".join(
        f"{r.server} {r.clients:,}: {r.load_average[0]:.1f}→{r.load_average[1]:.1f}"
        + ("" if r.busy_before is None else f" ({r.busy_before:.0f} %)")
        for r in rows
    )
    notes = [f"- {r.server}, {r.clients:,}: {r.note}" for r in rows if r.note]
    lines = [
        "# Lesson 04 against Node socket.io: one run",
        "",
        f"Run {document['started']} – {document['finished']} on {document['machine']}; "
        f"`{document['command']}` (bench/README.md says what each figure means). Clients, "
        "servers, Redis and the Celery worker share the machine, so compare servers within "
        "this run (the ratios), not with other machines.",
        "",
        *table(rows),
        "",
        "## Goals (issue 12), checked against this run",
        "",
        *goals(rows),
        "",
        "Load average (1 min) at the start → end of each measurement and, in brackets, the "
        f"machine's CPU use in the second before it began (bench/README.md): {loads}.",
        *(["", "Notes:", *notes] if notes else []),
        "",
        f"![fan-out, memory and connects per second]({plot_name})",
    ]
    path.write_text("\n".join(lines) + "\n")
