"""`make bench-scale-out`: the ways to scale lesson 04's app (solutions/04_production) out,
side by side, with what each costs, measured on this machine.

  one-worker      gunicorn, one gevent worker per instance (the course's default)
  3-workers       gunicorn, WEB_CONCURRENCY=3 gevent workers on one port, websocket only
  threaded        gunicorn -k gthread -w 1 --threads N+1 (async_mode threading, simple-websocket)
  2-instances     two one-worker instances behind nginx (no ip_hash: websocket only)

For each: N websocket clients connect (autograder/swarm.py, in this process), one message is
broadcast to all of them, and the servers' memory is read (every process of the deployment,
nginx included). Then what long-polling does there: a polling handshake, and for the several-
worker case with the app's refusal bypassed (the app thinks it is alone), how many polling
sessions break with "Invalid session". Loopback only; private Redis; nothing left running.
Results: bench/results/scale_out.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import requests
import socketio

from autograder.client import Probe
from autograder.harness import Harness, free_port, wait_until
from autograder.paths import SOCKETIO_CLIENT_DIST, SOLUTIONS, VENV_BIN
from autograder.production import start_gunicorn, start_nginx
from autograder.readiness import ENGINEIO_HANDSHAKE, engineio_ready
from autograder.services import start_redis
from autograder.stages.common import CHAT
from autograder.stages.lesson04 import TOKENS, origins_for, production_env
from autograder.swarm import Swarm

STAGE = SOLUTIONS / "04_production"
RESULTS = Path(__file__).resolve().parent / "results"
NAME = "scale_out"
CLIENTS, QUICK_CLIENTS = 1000, 200
WORKERS = 3
CONNECT_TIMEOUT, RECEIVE_TIMEOUT = 60.0, 20.0
POLLING_SESSIONS, POLLING_CALLS = 30, 5  # sessions of the "Invalid session" measurement
WAYS = ["one-worker", "3-workers", "threaded", "2-instances"]


@dataclass
class Row:
    way: str
    clients: int
    held: int
    connect_s: float
    broadcast_to_last_ms: float | None
    processes: int
    rss_mib: float
    kib_per_client: float | None
    one_more_client: str  # what client N+1 met
    polling: str  # what a long-polling client meets


def tree_rss(pids: list[int]) -> tuple[int, int]:
    """(processes, resident bytes) of these processes and all their children."""
    seen = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
        except psutil.Error:
            continue
        for process in [root, *root.children(recursive=True)]:
            try:
                seen[process.pid] = process.memory_info().rss
            except psutil.Error:
                pass
    return len(seen), sum(seen.values())


def deploy(harness: Harness, way: str, clients: int) -> tuple[str, list[int]]:
    """Start ``way``; (the URL clients use, the pids whose trees hold the deployment)."""
    redis = start_redis(harness)
    ports = [free_port() for _ in range(3)]
    database = tempfile.mkdtemp(prefix="scale-out-", dir=harness.work_dir)
    env = production_env(
        harness,
        redis.url,
        origins_for(*ports),
        DATABASE_URL=f"sqlite:///{database}/chat.sqlite3",
        PING_INTERVAL="25",
        WORKER_CONNECTIONS=str(clients + 100),
        SOCKETIO_CLIENT_DIST=str(SOCKETIO_CLIENT_DIST),
    )
    if way == "one-worker":
        url, web = start_gunicorn(harness, STAGE, env, port=ports[0], name=way)
        return url, [web.pid]
    if way == "3-workers":
        env.update(WEB_CONCURRENCY=str(WORKERS), SOCKETIO_TRANSPORTS="websocket")
        url, web = start_gunicorn(harness, STAGE, env, port=ports[0], name=way)
        return url, [web.pid]
    if way == "threaded":
        env["GUNICORN_WORKER_CLASS"] = "gthread"
        command = [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{ports[0]}"]
        # One thread per client, and one for the sender: client N+2 then finds none free.
        command += ["--threads", str(clients + 1), "--no-control-socket", "wsgi:app"]
        web = harness.start(way, command, STAGE, env)
        url = f"http://127.0.0.1:{ports[0]}"
        wait_until(engineio_ready(url), web, f"answer on {url}")
        return url, [web.pid]
    webs = [
        start_gunicorn(harness, STAGE, env, port=p, name=f"web{i}") for i, p in enumerate(ports[:2])
    ]
    url, nginx = start_nginx(harness, STAGE, [u for u, _ in webs], sticky=False, port=ports[2])
    return url, [nginx.pid, *(web.pid for _, web in webs)]


def polling_outcome(url: str) -> str:
    answer = requests.get(url + ENGINEIO_HANDSHAKE, timeout=5)
    if answer.status_code == 200:
        return "served"
    return f"refused: HTTP {answer.status_code} {answer.text.strip()[:30]}"


async def swarm_run(url: str, clients: int) -> tuple[int, float, float | None, str]:
    """(held, connect seconds, send → last client ms, what client N+1 met)."""
    swarm = Swarm(url, CHAT, {"token": TOKENS["bob"]}, url, "message")
    try:
        connect_s = await swarm.connect(clients, CONNECT_TIMEOUT)
        held = len(swarm.clients)
        loop = asyncio.get_running_loop()
        sender = Probe(url, namespaces=[CHAT], auth={"token": TOKENS["alice"]})
        marker = f"scale-out {time.time()}"
        try:
            await loop.run_in_executor(None, lambda: sender.connect(timeout=RECEIVE_TIMEOUT))
            extra = Swarm(url, CHAT, {"token": TOKENS["bob"]}, url, "message")
            try:  # client N+2, past the N clients and the sender
                await extra.connect(1, 5.0)
                one_more = "connects" if extra.clients else "waits (none within 5 s)"
            finally:
                await extra.close()
            started = time.monotonic()
            await loop.run_in_executor(
                None,
                lambda: sender.call(
                    "send_message", {"text": marker}, namespace=CHAT, timeout=RECEIVE_TIMEOUT
                ),
            )
            times = await swarm.wait_for(marker, RECEIVE_TIMEOUT)
        except Exception as error:  # a server too busy to let the sender in or answer it
            return held, connect_s, None, f"{one_more}; sender: {type(error).__name__}"
        finally:
            sender.disconnect()
        if len(times) < held:
            return held, connect_s, None, f"{one_more}; {len(times)} of {held} got the broadcast"
        return held, connect_s, round(1000 * (max(times) - started), 1), one_more
    finally:
        await swarm.close()


def measure(way: str, clients: int) -> Row:
    with Harness(contain=False) as harness:
        url, pids = deploy(harness, way, clients)
        with Probe(url, namespaces=[CHAT], auth={"token": TOKENS["alice"]}):
            pass  # one client first, so the baseline has the app's lazy imports loaded
        _, idle = tree_rss(pids)
        held, connect_s, last_ms, one_more = asyncio.run(swarm_run(url, clients))
        processes, rss = tree_rss(pids)
        polling = polling_outcome(url)
    per_client = round((rss - idle) / 1024 / held, 1) if held else None
    return Row(
        way,
        clients,
        held,
        round(connect_s, 1),
        last_ms,
        processes,
        round(rss / 2**20, 1),
        per_client,
        one_more,
        polling,
    )


def polling_on_several_workers() -> str:
    """Several workers serving long-polling, the app's refusal bypassed (it is not told how many
    workers there are): how many polling sessions of POLLING_CALLS calls each break."""
    with Harness(contain=False) as harness:
        redis = start_redis(harness)
        port = free_port()
        env = production_env(harness, redis.url, origins_for(port), PING_INTERVAL="25")
        empty_config = harness.work_dir / "gunicorn-empty.conf.py"
        empty_config.write_text("")  # no on_starting: WEB_CONCURRENCY stays unset
        command = [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "-w", str(WORKERS)]
        command += ["-k", "geventwebsocket.gunicorn.workers.GeventWebSocketWorker"]
        command += ["-c", str(empty_config), "--no-control-socket", "wsgi:app"]
        web = harness.start("polling-3-workers", command, STAGE, env)
        url = f"http://127.0.0.1:{port}"
        wait_until(engineio_ready(url), web, f"answer on {url}")
        broken = 0
        for _ in range(POLLING_SESSIONS):
            client = socketio.Client(reconnection=False)
            try:
                client.connect(
                    url,
                    namespaces=[CHAT],
                    auth={"token": TOKENS["alice"]},
                    transports=["polling"],
                    wait_timeout=5,
                )
                for _ in range(POLLING_CALLS):
                    client.call("get_history", {"limit": 1}, namespace=CHAT, timeout=5)
            except Exception:
                broken += 1
            finally:
                client.disconnect()
        said = "Invalid session" in web.log_tail(400)  # logged once, then below WARNING
    answered = ' (the servers answered 400 "Invalid session")' if said else ""
    return (
        f"{broken} of {POLLING_SESSIONS} polling sessions ({POLLING_CALLS} calls each) broke on "
        f"{WORKERS} workers{answered}"
    )


def write(rows: list[Row], polling_note: str, clients: int) -> None:
    RESULTS.mkdir(exist_ok=True)
    data = {"rows": [asdict(r) for r in rows], "polling_on_several_workers": polling_note}
    (RESULTS / f"{NAME}.json").write_text(json.dumps(data, indent=2) + "\n")
    lines = [
        f"# Lesson 04: the ways to scale out, measured ({time.strftime('%Y-%m-%d')})",
        "",
        f"Machine: {os.cpu_count()} cores (shared), "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}; "
        f"{clients} websocket clients from this process on loopback, one broadcast. Made by "
        "`make bench-scale-out` (bench/scale_out.py).",
        "",
        "| way | clients | held | connect s | send → last client ms | processes | RSS MiB "
        "| KiB / client | client N+1 | a long-polling client |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.way} | {r.clients} | {r.held} | {r.connect_s} | {r.broadcast_to_last_ms} | "
            f"{r.processes} | {r.rss_mib} | {r.kib_per_client} | {r.one_more_client} | "
            f"{r.polling} |"
        )
    lines += [
        "",
        f"Long-polling on {WORKERS} workers of one instance, the app's refusal bypassed: "
        f"{polling_note}.",
        "",
        "Columns: *processes* and *RSS* count every process of the deployment (gunicorn's "
        "master and workers, nginx's), not Redis; *KiB / client* is the RSS with the clients "
        "connected less the RSS before they came (after one client), divided by the clients; "
        "*client N+1* is one more client after the N and the sender (threaded: the threads are "
        "N + 1). The clients share the machine's cores with the servers, so the times are upper "
        "bounds.",
    ]
    (RESULTS / f"{NAME}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / NAME}.md and .json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CLIENTS} clients")
    parser.add_argument("--ways", default=",".join(WAYS))
    args = parser.parse_args(argv)
    clients = QUICK_CLIENTS if args.quick else CLIENTS
    rows = []
    for way in args.ways.split(","):
        print(f"==> {way}: {clients} clients", flush=True)
        rows.append(measure(way, clients))
        print(f"    {asdict(rows[-1])}", flush=True)
    print("==> long-polling on several workers", flush=True)
    note = polling_on_several_workers()
    print(f"    {note}", flush=True)
    write(rows, note, clients)
    return 0


if __name__ == "__main__":
    sys.exit(main())
