"""`make bench` = `python -m bench`: lesson 04's two deployments against Node socket.io 4.8.

For each client count, each server in turn gets a fresh private Redis, is started as it ships,
and is measured by bench/load.py with the same load client. One run writes
bench/results/lesson04_vs_node.{json,md,png} (--quick: lesson04_vs_node_quick.*).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .load import measure, summary
from .plot import plot
from .reference import ensure_installed
from .report import read_json, write_json, write_markdown
from .servers import SERVERS, STAGE

RESULTS = Path(__file__).resolve().parent / "results"
NAME = "lesson04_vs_node"
LEVELS, QUICK_LEVELS = [1000, 5000, 10000], [300, 1000]
WAVES = 7
PATIENCE, QUICK_PATIENCE = 90.0, 5.0  # seconds each measurement may wait for a quiet machine


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_LEVELS} clients only")
    parser.add_argument("--levels", nargs="+", type=int, help="client counts (default: all)")
    parser.add_argument("--servers", nargs="+", default=SERVERS, choices=SERVERS)
    parser.add_argument("--waves", type=int, default=WAVES, help="broadcasts per level")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the results")
    parser.add_argument("--stage", type=Path, default=STAGE, help="the course app to measure")
    parser.add_argument("--no-plot", action="store_true", help="the table only")
    parser.add_argument("--report-only", action="store_true", help="rewrite .md/.png from .json")
    args = parser.parse_args(argv)
    name = NAME + ("_quick" if args.quick else "")
    args.out.mkdir(parents=True, exist_ok=True)
    paths = {suffix: args.out / f"{name}.{suffix}" for suffix in ("json", "md", "png")}
    if args.report_only:
        document, rows = read_json(paths["json"])
    else:
        if "node" in args.servers:
            ensure_installed()
        levels = args.levels or (QUICK_LEVELS if args.quick else LEVELS)
        started, rows = time.strftime("%Y-%m-%d %H:%M:%S"), []
        for clients in levels:
            for server in args.servers:
                print(f"{server}, {clients} clients ...", end=" ", flush=True)
                patience = QUICK_PATIENCE if args.quick else PATIENCE
                row = measure(server, clients, args.waves, args.stage.resolve(), patience)
                rows.append(row)
                figures = summary(row)
                print(
                    f"held {row.held}, {row.connects_per_second:.0f} connects/s, "
                    f"{row.kib_per_connection or 0:.1f} KiB each, waves median "
                    f"{figures['wave_median_ms'] or 0:.0f} ms [{figures['wave_min_ms'] or 0:.0f}"
                    f"–{figures['wave_max_ms'] or 0:.0f}], worker p99 "
                    f"{figures['worker_p99_ms'] or 0:.1f} ms {row.note}",
                    flush=True,
                )
        write_json(paths["json"], rows, started, argv)
        document, rows = read_json(paths["json"])
    write_markdown(paths["md"], document, rows, paths["png"].name)
    if not args.no_plot:
        plot(rows, paths["png"])
    print(f"wrote {paths['md']}" + ("" if args.no_plot else f" and {paths['png'].name}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
