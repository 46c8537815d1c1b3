"""One measurement: N clients on one server, then broadcast waves and worker → client ticks.

1. the sender (a python-socketio client, alice) connects; then N - 1 swarm clients
   (autograder/swarm.py, bob) connect from a few processes, offering permessage-deflate as
   browsers do, and count once their namespace CONNECT is acknowledged: N connections in all,
   which is exactly gunicorn.conf.py's worker_connections at the largest level;
2. connects per second: clients held / (first connect attempt → last CONNECT ack);
3. the server settles (its CPU goes quiet), then its resident memory is read: steady-state
   RSS per connection is (that - RSS before any client) / clients held;
4. WAVES broadcasts: the sender emits "send_message"; each wave's time runs from just before
   the emit to the moment the last swarm client has the "message";
5. (course servers) a Celery task emits TICKS events through Redis to the sender's sid.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import socketio

from autograder.harness import Harness, StartError
from autograder.paths import COURSE_ROOT
from autograder.services import start_celery_worker, start_redis
from autograder.stages.common import CHAT
from autograder.stages.lesson04 import TOKENS

from .servers import COURSE_SERVERS, STAGE, Server, remove_database, start_server
from .ticks import queue_ticks

CLIENTS_PER_PROCESS = 2500
CONNECT_TIMEOUT = 180.0  # for every client of a level to connect
RECEIVE_TIMEOUT = 30.0  # for one broadcast to reach every client
WAVE_GAP = 1.0  # seconds between two waves
SETTLE_TIMEOUT = 30.0  # for the server's CPU to go quiet after the connects
QUIET_CPU_PERCENT = 10.0
TICKS, TICK_INTERVAL = 300, 0.005
TICK_TIMEOUT = 15.0
QUIET_MACHINE_PERCENT = 40.0  # before each measurement, wait (a while) for others' jobs to settle


@dataclass
class Measurement:
    server: str
    clients: int  # connections asked for: N - 1 swarm clients and the sender
    held: int = 0
    connect_seconds: float = 0.0
    connects_per_second: float = 0.0
    deflate_clients: int = 0  # swarm clients whose deflate offer the server accepted
    rss_before_mb: float = 0.0
    rss_idle_mb: float = 0.0
    kib_per_connection: float | None = None
    waves_ms: list[float] = field(default_factory=list)
    waves_complete: int = 0  # waves that reached every swarm client
    worker_to_client_ms: list[float] = field(default_factory=list)
    load_average: tuple[float, float] = (0.0, 0.0)  # 1-minute load at the start and the end
    busy_before: float | None = None  # the machine's CPU use (%) in the second before it began
    note: str = ""


class Sender:
    """alice on /chat: sends the waves and receives the worker's ticks."""

    def __init__(self, url: str):
        self.client = socketio.Client(reconnection=False)
        self.latencies: list[float] = []
        self.ticks_done = threading.Event()
        self.client.on("tick", self._on_tick, namespace=CHAT)
        self.client.connect(
            url,
            namespaces=[CHAT],
            auth={"token": TOKENS["alice"]},
            transports=["websocket"],
            wait_timeout=RECEIVE_TIMEOUT,
        )

    def _on_tick(self, data):
        self.latencies.append(1000 * (time.time() - data["sent_at"]))
        if len(self.latencies) >= TICKS:
            self.ticks_done.set()

    def send(self, text: str) -> None:
        answer = self.client.call("send_message", {"text": text}, namespace=CHAT, timeout=30)
        if not (isinstance(answer, dict) and answer.get("ok")):
            raise RuntimeError(f"send_message was not acknowledged with ok: {answer!r}")

    def close(self) -> None:
        self.client.disconnect()


class SwarmProcess:
    """One `python -m autograder.swarm` process and its line protocol (JSON out, markers in)."""

    def __init__(self, url: str, count: int):
        self.popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "autograder.swarm",
                *("--url", url, "--origin", url, "--count", str(count)),
                *("--token", TOKENS["bob"], "--connect-timeout", str(CONNECT_TIMEOUT)),
                *("--receive-timeout", str(RECEIVE_TIMEOUT)),
            ],
            cwd=COURSE_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.popen.stdout.readline()
            if line.startswith("{"):
                return json.loads(line)
            if not line and self.popen.poll() is not None:
                break
        raise TimeoutError("a swarm process did not report in time")

    def tell(self, line: str) -> None:
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def stop(self) -> None:
        try:
            self.tell("")
            self.popen.stdin.close()
            self.popen.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            self.popen.kill()
            self.popen.wait()


def shares(total: int) -> list[int]:
    processes = max(1, math.ceil(total / CLIENTS_PER_PROCESS))
    return [total // processes + (1 if i < total % processes else 0) for i in range(processes)]


def settle(server: Server) -> None:
    """Wait until the server's CPU is quiet twice in a row (or SETTLE_TIMEOUT passes)."""
    deadline, quiet = time.monotonic() + SETTLE_TIMEOUT, 0
    server.holder.cpu_percent()
    while quiet < 2 and time.monotonic() < deadline:
        quiet = quiet + 1 if server.holder.cpu_percent(interval=0.5) < QUIET_CPU_PERCENT else 0


def wait_for_quiet_machine(patience: float) -> float:
    """The machine's CPU use (%) over the last second, once under QUIET_MACHINE_PERCENT or
    after ``patience`` seconds: the machine is shared, and a measurement should not start in
    the middle of someone else's job."""
    deadline = time.monotonic() + patience
    busy = psutil.cpu_percent(interval=1.0)
    while busy > QUIET_MACHINE_PERCENT and time.monotonic() < deadline:
        busy = psutil.cpu_percent(interval=1.0)
    return busy


def measure(
    server_name: str, clients: int, waves: int, stage: Path = STAGE, patience: float = 0.0
) -> Measurement:
    busy = wait_for_quiet_machine(patience)
    result = Measurement(server_name, clients, load_average=(os.getloadavg()[0], 0.0))
    result.busy_before = busy
    with Harness() as harness:
        redis = start_redis(harness)
        server = start_server(harness, server_name, redis.url, stage)
        worker = None
        if server_name in COURSE_SERVERS:
            env = {"REDIS_URL": redis.url, "BENCH_STAGE": str(stage)}
            env |= {
                key: server.env[key]
                for key in ("SECRET_KEY", "SOCKETIO_CHANNEL")
                if key in server.env
            }
            worker = start_celery_worker(harness, COURSE_ROOT, "bench.ticks:celery_app", env)
        rss_before = server.holder.memory_info().rss
        swarms: list[SwarmProcess] = []
        sender = None
        try:
            sender = Sender(server.url)
            swarms = [SwarmProcess(server.url, count) for count in shares(clients - 1)]
            connect_phase(result, swarms)
            settle(server)
            rss = server.holder.memory_info().rss
            result.rss_before_mb, result.rss_idle_mb = rss_before / 2**20, rss / 2**20
            if result.held:
                result.kib_per_connection = (rss - rss_before) / 1024 / result.held
            run_waves(result, sender, swarms, waves)
            if worker is not None:
                time.sleep(WAVE_GAP)
                queue_ticks(redis.url, sender.client.get_sid(CHAT), CHAT, TICKS, TICK_INTERVAL)
                sender.ticks_done.wait(TICK_TIMEOUT)
                result.worker_to_client_ms = sorted(sender.latencies)
        except (StartError, TimeoutError, RuntimeError, socketio.exceptions.SocketIOError) as error:
            result.note = f"{type(error).__name__}: {error}"[:200]
        finally:
            for swarm in swarms:
                swarm.stop()
            if sender is not None:
                sender.close()
            if server_name in COURSE_SERVERS:
                remove_database(server)
    result.load_average = (result.load_average[0], os.getloadavg()[0])
    return result


def connect_phase(result: Measurement, swarms: list[SwarmProcess]) -> None:
    reports = [swarm.read(CONNECT_TIMEOUT + 30) for swarm in swarms]
    result.held = 1 + sum(r["connected"] for r in reports)  # the sender is held too
    started = min(r["started"] for r in reports)
    result.connect_seconds = max(r["last_ack"] for r in reports) - started
    result.connects_per_second = (result.held - 1) / max(result.connect_seconds, 1e-6)
    result.deflate_clients = sum(r["deflate"] for r in reports)
    errors = sorted({e for r in reports for e in r["errors"]})
    if errors:
        result.note = "; ".join(errors)[:200]


def run_waves(result: Measurement, sender: Sender, swarms: list[SwarmProcess], waves: int):
    listeners = result.held - 1
    for wave in range(waves):
        marker = f"wave {wave + 1} {uuid.uuid4().hex[:8]}"
        for swarm in swarms:
            swarm.tell(marker)
        started = time.monotonic()
        sender.send(marker)
        times = [t for swarm in swarms for t in swarm.read(RECEIVE_TIMEOUT + 10)["times"]]
        if times:
            result.waves_ms.append(1000 * (max(times) - started))
        result.waves_complete += len(times) == listeners
        time.sleep(WAVE_GAP)


def summary(m: Measurement) -> dict:
    """The figures a table shows, computed from one measurement."""
    waves = m.waves_ms
    ticks = m.worker_to_client_ms
    return {
        "wave_median_ms": statistics.median(waves) if waves else None,
        "wave_min_ms": min(waves, default=None),
        "wave_max_ms": max(waves, default=None),
        "worst_over_median": max(waves) / statistics.median(waves) if waves else None,
        "worker_p50_ms": percentile(ticks, 50),
        "worker_p99_ms": percentile(ticks, 99),
    }


def percentile(values: list[float], percent: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(percent / 100 * len(ordered)) - 1)]
