"""The run's PNG: fan-out (median with min–max), memory per connection, connects per second,
worker → client latency, per server and client count."""

from __future__ import annotations

from pathlib import Path

from .load import Measurement, summary
from .servers import SERVERS

COLOURS = {"node": "tab:green", "gevent-websocket": "tab:blue", "simple-websocket": "tab:orange"}


def plot(rows: list[Measurement], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ((fanout, memory), (rate, worker)) = plt.subplots(2, 2, figsize=(11, 8))
    for server in SERVERS:
        mine = sorted((r for r in rows if r.server == server), key=lambda r: r.clients)
        if not mine:
            continue
        style = {"color": COLOURS[server], "label": server, "marker": "o"}
        waved = [(r, summary(r)) for r in mine if r.waves_ms]
        if waved:
            medians = [s["wave_median_ms"] for _, s in waved]
            errors = [
                [m - s["wave_min_ms"] for (_, s), m in zip(waved, medians, strict=True)],
                [s["wave_max_ms"] - m for (_, s), m in zip(waved, medians, strict=True)],
            ]
            fanout.errorbar([r.clients for r, _ in waved], medians, yerr=errors, capsize=4, **style)
        memory.plot([r.clients for r in mine], [r.kib_per_connection for r in mine], **style)
        rate.plot([r.clients for r in mine], [r.connects_per_second for r in mine], **style)
        ticked = [(r, summary(r)) for r in mine if r.worker_to_client_ms]
        if ticked:
            worker.plot(
                [r.clients for r, _ in ticked], [s["worker_p99_ms"] for _, s in ticked], **style
            )
            worker.plot(
                [r.clients for r, _ in ticked],
                [s["worker_p50_ms"] for _, s in ticked],
                color=COLOURS[server],
                marker="x",
                linestyle=":",
            )
    fanout.set(title="Broadcast: send → last client (median, min–max)", ylabel="ms")
    memory.set(title="Memory per idle connection (steady-state RSS)", ylabel="KiB")
    rate.set(title="Connects per second (until CONNECT ack)", ylabel="connects / s")
    worker.set(title="Celery worker → client (p99 solid, p50 dotted)", ylabel="ms")
    for axes in (fanout, memory, rate, worker):
        axes.set(xlabel="clients")
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
