"""`make bench`: how many websocket clients one server process holds, and how fast a broadcast
reaches all of them, on three servers of lesson 04's app (solutions/04_production):

  threading         python run.py: Werkzeug's dev server, one thread per client
  gevent-websocket  gunicorn, GeventWebSocketWorker, one worker (.venv)
  simple-websocket  gunicorn -k gevent, one worker (.venv-simple-websocket)

For each server and each client count it starts a fresh server (with a private Redis), opens
the clients from a few swarm processes (autograder/swarm.py: raw websocket,
one asyncio task per client), sends one chat message, and records: clients held, time from the
send to the last client's receipt, and the server's memory per connection. Loopback only; every
step has a time limit; nothing is left running. Results: bench/results/lesson04_connections.*
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from autograder.client import Probe
from autograder.harness import Harness, StartError, free_port, wait_until
from autograder.paths import COURSE_ROOT, SOCKETIO_CLIENT_DIST, SOLUTIONS
from autograder.production import GEVENT_WEBSOCKET_WORKER, start_gunicorn
from autograder.readiness import engineio_ready
from autograder.services import start_redis
from autograder.stages.common import CHAT, TOKENS
from autograder.stages.lesson04 import origins_for, production_env
from autograder.venvs import simple_websocket_venv

STAGE = SOLUTIONS / "04_production"
RESULTS = Path(__file__).resolve().parent / "results"
NAME = "lesson04_connections"
CLIENTS_PER_PROCESS = 2500
CONNECT_TIMEOUT = 120.0  # per level, for every client to connect
RECEIVE_TIMEOUT = 30.0  # for the broadcast to reach every client
LEVELS = [1000, 2500, 5000, 10000]
QUICK_LEVELS = [200, 500]
SERVERS = ["threading", "gevent-websocket", "simple-websocket"]
TARGET = 10_000
WORKER_CONNECTIONS_MARGIN = 100  # the sender, the readiness check, a few to spare


@dataclass
class Row:
    server: str
    wanted: int
    held: int
    connect_seconds: float
    received: int
    broadcast_to_last_ms: float | None
    server_rss_mb: float
    kib_per_connection: float | None
    note: str = ""


def start_server(harness: Harness, server: str, env: dict, port: int):
    """(url, the psutil.Process that holds the connections)."""
    if server == "threading":
        env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
        process = harness.start(server, [sys.executable, "run.py"], STAGE, env)
        url = f"http://127.0.0.1:{port}"
        wait_until(engineio_ready(url), process, "answer")
        return url, psutil.Process(process.pid)
    if server == "gevent-websocket":
        url, process = start_gunicorn(
            harness, STAGE, env, worker_class=GEVENT_WEBSOCKET_WORKER, port=port, name=server
        )
    else:
        venv_bin = simple_websocket_venv()
        url, process = start_gunicorn(
            harness, STAGE, env, worker_class="gevent", venv_bin=venv_bin, port=port, name=server
        )
    workers = psutil.Process(process.pid).children()
    return url, workers[0]


def start_swarms(url: str, count: int) -> list[subprocess.Popen]:
    processes = math.ceil(count / CLIENTS_PER_PROCESS)
    sizes = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "autograder.swarm",
                "--url",
                url,
                "--origin",
                url,
                "--count",
                str(size),
                "--token",
                TOKENS["bob"],
                "--connect-timeout",
                str(CONNECT_TIMEOUT),
                "--receive-timeout",
                str(RECEIVE_TIMEOUT),
            ],
            cwd=COURSE_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for size in sizes
    ]


def read_json(process: subprocess.Popen, timeout: float) -> dict:
    """The swarm's next JSON line (its protocol: one line per step)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("{"):
            return json.loads(line)
        if not line and process.poll() is not None:
            break
    raise TimeoutError("a swarm process did not report in time")


def measure(server: str, count: int) -> Row:
    with Harness(contain=False) as harness:
        redis = start_redis(harness)
        port = free_port()
        database = Path("/dev/shm") if Path("/dev/shm").is_dir() else harness.work_dir
        env = production_env(
            harness,
            redis.url,
            origins_for(port),
            DATABASE_URL=f"sqlite:///{database}/bench-{os.getpid()}-{port}.sqlite3",
            PING_INTERVAL="25",
            SOCKETIO_CLIENT_DIST=str(SOCKETIO_CLIENT_DIST),
            # Raised to match: at exactly `count`, the sender would wait in the listen queue.
            WORKER_CONNECTIONS=str(count + WORKER_CONNECTIONS_MARGIN),
        )
        url, holder = start_server(harness, server, env, port)
        baseline = holder.memory_info().rss
        swarms = start_swarms(url, count)
        sender = Probe(url, namespaces=[CHAT], auth={"token": TOKENS["alice"]})
        try:
            reports = [read_json(s, CONNECT_TIMEOUT + 10) for s in swarms]
            held = sum(r["connected"] for r in reports)
            connect_seconds = max(r["seconds"] for r in reports)
            rss = holder.memory_info().rss
            errors = sorted({e for r in reports for e in r["errors"]})
            marker = f"bench {count} {time.time()}"
            started, times = time.monotonic(), []
            try:
                sender.connect(timeout=RECEIVE_TIMEOUT)  # after the storm: its pings get answers
                started = time.monotonic()
                sender.call(
                    "send_message", {"text": marker}, namespace=CHAT, timeout=RECEIVE_TIMEOUT
                )
            except AssertionError as failure:  # CheckFailed: the server is too busy to answer
                errors.append(f"the sender got no answer: {failure}")
            for swarm in swarms:
                swarm.stdin.write(marker + "\n")
                swarm.stdin.flush()
            for swarm in swarms:
                times += read_json(swarm, RECEIVE_TIMEOUT + 10)["times"]
        finally:
            for swarm in swarms:
                with_timeout_close(swarm)
            sender.disconnect()
            if database != harness.work_dir:
                for leftover in database.glob(f"bench-{os.getpid()}-{port}.sqlite3*"):
                    leftover.unlink()
    return Row(
        server,
        count,
        held,
        round(connect_seconds, 1),
        len(times),
        round(1000 * (max(times) - started), 1) if times else None,
        round(rss / 2**20, 1),
        round((rss - baseline) / 1024 / held, 1) if held else None,
        "; ".join(errors)[:160],
    )


def with_timeout_close(swarm: subprocess.Popen) -> None:
    try:
        swarm.stdin.write("\n")
        swarm.stdin.close()
        swarm.wait(timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        swarm.kill()
        swarm.wait()


def merged(rows: list[Row], path: Path) -> list[Row]:
    """Earlier results with these rows replacing the same (server, clients): re-run a part."""
    known = {}
    if path.is_file():
        known = {(r["server"], r["wanted"]): Row(**r) for r in json.loads(path.read_text())}
    known.update({(r.server, r.wanted): r for r in rows})
    return sorted(known.values(), key=lambda r: (SERVERS.index(r.server), r.wanted))


def write_results(rows: list[Row], quick: bool) -> None:
    RESULTS.mkdir(exist_ok=True)
    name = NAME + ("_quick" if quick else "")
    rows = merged(rows, RESULTS / f"{name}.json")
    (RESULTS / f"{name}.json").write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    lines = [
        f"# Lesson 04: websocket clients held by one server process ({time.strftime('%Y-%m-%d')})",
        "",
        f"Machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.system()}; clients and server on the "
        "same machine (loopback). Made by `make bench` (bench/run_all.py).",
        "",
        "| server | clients asked | held | connect s | got broadcast | send → last client ms "
        "| server RSS MB | KiB / connection | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.server} | {r.wanted} | {r.held} | {r.connect_seconds} | {r.received} | "
            f"{r.broadcast_to_last_ms} | {r.server_rss_mb} | {r.kib_per_connection} | {r.note} |"
        )
    lines += ["", *summary(rows)]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    plot(rows, RESULTS / f"{name}.png")
    print(f"wrote {RESULTS / name}.md, .json and .png")


def summary(rows: list[Row]) -> list[str]:
    """The target, and what was reached: computed from the rows, never written by hand."""

    def best(server: str) -> int:
        return max((r.held for r in rows if r.server == server and r.received == r.held), default=0)

    lines = [
        f"Target: {TARGET:,} concurrent websocket clients held by one gevent worker, all "
        "receiving one broadcast.",
        "",
    ]
    for server in SERVERS:
        reached = best(server)
        verdict = "reached" if reached >= TARGET else "not reached"
        lines.append(
            f"- {server}: at most {reached:,} clients held, all of them receiving the "
            f"broadcast ({verdict} here)."
        )
    lines += [
        "",
        "Columns: *held* clients connected at once; *connect s* until the last one was in (200 "
        "handshakes in flight per swarm process); *send → last client* from the sender's "
        '"send_message" until the last client had the message; *KiB / connection* the growth of '
        "the server's resident memory divided by the clients held. The swarm processes share the "
        "machine's cores with the server, so the times are upper bounds.",
    ]
    return lines


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (held, latency) = plt.subplots(1, 2, figsize=(11, 4))
    for server in SERVERS:
        mine = [r for r in rows if r.server == server]
        if not mine:
            continue
        held.plot([r.wanted for r in mine], [r.received for r in mine], "o-", label=server)
        done = [r for r in mine if r.broadcast_to_last_ms is not None]
        latency.plot(
            [r.held for r in done], [r.broadcast_to_last_ms for r in done], "o-", label=server
        )
    held.set(xlabel="clients asked for", ylabel="clients", title="Held and received the broadcast")
    latency.set(
        xlabel="clients held",
        ylabel="ms (log scale)",
        yscale="log",
        title="Broadcast: send → last client receives",
    )
    for axes in (held, latency):
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"only {QUICK_LEVELS} clients")
    parser.add_argument("--servers", nargs="+", default=SERVERS, choices=SERVERS)
    parser.add_argument("--levels", nargs="+", type=int, help="client counts to try")
    parser.add_argument("--report-only", action="store_true", help="rewrite .md/.png from .json")
    args = parser.parse_args(argv)
    if args.report_only:
        write_results([], args.quick)
        return 0
    levels = args.levels or (QUICK_LEVELS if args.quick else LEVELS)
    rows = []
    for server in args.servers:
        for count in levels:
            print(f"{server}: {count} clients ...", end=" ", flush=True)
            try:
                row = measure(server, count)
            except (StartError, TimeoutError, AssertionError) as error:  # CheckFailed too
                row = Row(server, count, 0, 0.0, 0, None, 0.0, None, str(error)[:160])
            rows.append(row)
            print(
                f"held {row.held}, {row.received} got the broadcast, "
                f"last after {row.broadcast_to_last_ms} ms, {row.kib_per_connection} KiB each",
                flush=True,
            )
            if row.held < count or row.received < row.held:
                break  # this server's limit is reached: larger counts would only be slower
    write_results(rows, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
