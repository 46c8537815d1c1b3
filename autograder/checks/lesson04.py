"""Lesson 04 checks: two gunicorn instances on gevent behind nginx, a Celery worker, Redis.

Everything runs for real, as a deployment would: `gunicorn wsgi:app` in the stage folder (it
reads the stage's gunicorn.conf.py), the stage's own nginx site file, `celery ... worker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import requests

from .. import settings
from ..browser import expect_text, page_sleep
from ..client import Probe
from ..context import CheckContext
from ..failures import CheckFailed, StartError
from ..harness import ManagedProcess, free_port
from ..paths import SOCKETIO_CLIENT_DIST, VENV_BIN
from ..production import NGINX_SITE, site_timeouts, start_nginx
from ..queue_listener import Expected, wait_for_event
from ..readiness import ENGINEIO_HANDSHAKE, engineio_ready
from ..stages import ProductionStack
from ..stages.common import CHAT, NOTIFICATIONS, REPORTS, private_database
from ..stages.lesson04 import (
    REPORT_STEP_SECONDS,
    REPORT_STEPS,
    TOKENS,
    origins_for,
    start_instance,
    start_workers_instance,
)
from ..swarm import Swarm
from ..waiting import poll_until
from . import CheckSet

CHECKS = CheckSet("04")
Context = CheckContext[ProductionStack]

REPORT_TIMEOUT = REPORT_STEPS * REPORT_STEP_SECONDS + 8
# Clients held at once by one instance (bench/ goes to thousands). Above gunicorn's default
# worker_connections (1000) would take about 25 s on a busy 2-core machine: the check reads
# gunicorn's effective worker_connections instead (gunicorn --print-config).
SWARM_SIZE = 500
DEFAULT_WORKER_CONNECTIONS = 1000
SWARM_CONNECT_TIMEOUT = 30.0
BROADCAST_TIMEOUT = 10.0


# -- helpers ----------------------------------------------------------------------------
def instance_log(ctx: Context, index: int = 0) -> str:
    return ctx.stack.instances[index].process.log_tail(8)


def client(ctx: Context, user: str, url: str, namespaces: list[str], name: str) -> Probe:
    probe = ctx.client(name, url=url, namespaces=namespaces, auth={"token": TOKENS[user]})
    try:
        return probe.connect()
    except CheckFailed:
        raise
    except Exception as error:  # e.g. an empty open packet: the server refused the upgrade
        raise CheckFailed(
            f"{name} could not connect",
            sent=f"connect to {url} namespaces={namespaces} over websocket",
            expected="the connection to be accepted",
            received=f"{type(error).__name__}: {error}",
        ) from error


def start_site_nginx(
    scope, stage_dir: Path, upstreams: list, name: str, sent: str, speedup: float = 1.0
) -> str:
    """nginx with the student's own site file (sticky as written): its URL, or a failure."""
    try:
        url, _ = start_nginx(scope, stage_dir, upstreams, True, name, speedup=speedup)
    except StartError as error:
        raise CheckFailed(
            "nginx did not start with the site file as written",
            sent=sent,
            expected="nginx serves",
            received=str(error),
        ) from error
    return url


@contextlib.contextmanager
def paused_worker(master: ManagedProcess, reported_pid: str):
    """SIGSTOP the gunicorn worker whose pid a client was told, for the block; only a child of
    the master we started (the pid comes from the student's app)."""
    workers = {child.pid: child for child in psutil.Process(master.pid).children()}
    worker = workers.get(int(reported_pid)) if reported_pid.isdigit() else None
    if worker is None:
        yield
        return
    worker.suspend()
    try:
        yield
    finally:
        with contextlib.suppress(psutil.Error):
            worker.resume()


def served_by(probe: Probe, sent: str) -> dict:
    return probe.expect(
        "welcome", namespace=NOTIFICATIONS, sent=sent, expected='"welcome" on /notifications'
    )


def run_async(coroutine, timeout: float):
    """Run a coroutine on a private event loop (a check runs in a plain thread)."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


# -- 4.1 gevent under gunicorn ------------------------------------------------------------
@CHECKS.check(
    "4.1",
    "under gunicorn's gevent-websocket worker a client connects over websocket",
    hint=(
        'In factory.async_mode_for: return "gevent" when gevent has patched the socket '
        'module (socket_is_patched()), else "threading".'
    ),
)
def clients_use_websocket_under_gunicorn(ctx: Context) -> None:
    web1 = ctx.stack.instances[0].url
    sent = f"a python-socketio client connects to {web1} (gunicorn) with transports=['websocket']"
    try:
        probe = client(ctx, "alice", web1, [CHAT], "alice (websocket only)")
    except CheckFailed as failure:
        failure.sent = sent
        failure.expected = "the websocket handshake to succeed (101 Switching Protocols)"
        failure.received = f"{failure.received}\ngunicorn's last output:\n{instance_log(ctx)}"
        raise
    transport = probe.sio.transport()
    if transport != "websocket":
        raise CheckFailed(
            "the client is not on websocket",
            sent=sent,
            expected="transport websocket",
            received=f"transport {transport}",
        )
    answer = requests.get(f"{web1}{ENGINEIO_HANDSHAKE}", timeout=5)
    if answer.status_code != 200 or not answer.text.startswith("0{"):
        raise CheckFailed(
            "the Engine.IO handshake over HTTP failed",
            sent=f"GET {web1}{ENGINEIO_HANDSHAKE}",
            expected="HTTP 200 with the open packet 0{...}",
            received=f"HTTP {answer.status_code}: {answer.text[:200]}",
        )


def effective_worker_connections(ctx: Context) -> Callable[[], int | None]:
    """Ask gunicorn (--print-config, which imports the app too) in the stack's environment;
    the answer: worker_connections as gunicorn reads it from the stage's gunicorn.conf.py (and
    the environment), or None if gunicorn could not say."""
    command = [str(VENV_BIN / "gunicorn"), "--print-config", "wsgi:app"]
    process = ctx.side_processes().start(
        "gunicorn-print-config", command, ctx.stage_dir, ctx.stack.env
    )

    def answer() -> int | None:
        poll_until(lambda: process.exited() is not None, settings.APP_START_TIMEOUT, 0.05)
        found = re.findall(r"^worker_connections\s*=\s*(\d+)", process.log_tail(400), re.M)
        return int(found[-1]) if found else None

    return answer


@CHECKS.check(
    "4.1",
    f"one gunicorn worker holds {SWARM_SIZE} websocket clients and all get one broadcast",
    hint=(
        "Only async_mode gevent serves many websockets from one worker: each client is a "
        "greenlet, not a thread. gunicorn.conf.py raises worker_connections above 1000."
    ),
)
def many_clients_receive_one_broadcast(ctx: Context) -> None:
    web1 = ctx.stack.instances[0].url
    marker = f"to all {SWARM_SIZE} of you {uuid.uuid4().hex[:6]}"
    sent = (
        f"{SWARM_SIZE} websocket clients connect to {web1} /chat as bob; alice sends "
        f'"send_message" {{"text": "{marker}"}}'
    )
    asked = effective_worker_connections(ctx)
    sender = client(ctx, "alice", web1, [CHAT], "alice")  # while gunicorn answers
    connections = asked()
    if connections is not None and connections <= DEFAULT_WORKER_CONNECTIONS:
        raise CheckFailed(
            f"gunicorn's worker_connections is {connections}: the next client waits, silently",
            sent="gunicorn --print-config wsgi:app in the stage folder (the effective settings)",
            expected=f"worker_connections above gunicorn's default of "
            f"{DEFAULT_WORKER_CONNECTIONS} (gunicorn.conf.py): one gevent worker holds thousands",
            received=f"worker_connections = {connections}",
        )

    async def scenario() -> tuple[int, list[str], list[float], float]:
        swarm = Swarm(web1, CHAT, {"token": TOKENS["bob"]}, web1, "message")
        try:
            await swarm.connect(SWARM_SIZE, SWARM_CONNECT_TIMEOUT)
            if len(swarm.clients) < SWARM_SIZE:
                return len(swarm.clients), swarm.errors, [], 0.0
            loop = asyncio.get_running_loop()
            started = time.monotonic()
            await loop.run_in_executor(
                None, lambda: sender.call("send_message", {"text": marker}, namespace=CHAT)
            )
            times = await swarm.wait_for(marker, BROADCAST_TIMEOUT)
            return len(swarm.clients), swarm.errors, times, started
        finally:
            await swarm.close()

    connected, errors, times, started = run_async(
        scenario(), SWARM_CONNECT_TIMEOUT + BROADCAST_TIMEOUT + 10
    )
    if connected < SWARM_SIZE:
        raise CheckFailed(
            f"only {connected} of {SWARM_SIZE} websocket clients could connect",
            sent=sent,
            expected=f"{SWARM_SIZE} websocket connections held at once",
            received=f"errors (first of {len(errors)}): {sorted(set(errors))[:3]}\n"
            f"gunicorn's last output:\n{instance_log(ctx)}",
        )
    if len(times) < SWARM_SIZE:
        raise CheckFailed(
            f"only {len(times)} of {SWARM_SIZE} clients received the broadcast",
            sent=sent,
            expected=f'"message" with text {marker!r} at every client within '
            f"{BROADCAST_TIMEOUT:.0f} s",
            received=f"{len(times)} received it",
        )


@CHECKS.check(
    "4.1",
    "behind nginx, clients on two instances get each other's messages and the worker's progress",
    hint=(
        "Both instances subscribe to the same REDIS_URL; each must run on gevent so nginx can "
        "pass the websocket upgrade through (deploy/nginx/socketio.conf)."
    ),
)
def instances_behind_nginx_share_rooms(ctx: Context) -> None:
    nginx = ctx.url
    namespaces = [CHAT, NOTIFICATIONS, REPORTS]
    sent = f"alice connects twice through nginx ({nginx}), websocket only"
    seen: dict[str, Probe] = {}
    failures: list[CheckFailed] = []
    for attempt in range(6):  # nginx takes turns: two connects land on two instances
        try:
            probe = client(ctx, "alice", nginx, namespaces, f"alice's client {attempt + 1}")
        except CheckFailed as failure:  # once may be a busy machine; every time is not
            failures.append(failure)
            if len(failures) < 3:
                continue
            failure.sent = sent
            failure.received = (
                f"{failure.received} ({len(failures)} of {attempt + 1} connects failed)\n"
                "nginx passes the upgrade on only if the instance speaks websocket.\n"
                f"web1's last output:\n{instance_log(ctx)}\nweb2's:\n{instance_log(ctx, 1)}"
            )
            raise
        welcome = served_by(probe, sent)
        seen.setdefault(str(welcome.get("pid")), probe)
        if len(seen) == 2:
            break
    if len(seen) < 2:
        raise CheckFailed(
            "all clients landed on one instance",
            sent=sent,
            expected="clients on both instances (the welcome's pid differs)",
            received=f"pids {sorted(seen)}"
            + (f"; {len(failures)} connects failed: {failures[0].received}" if failures else ""),
        )
    first, second = seen.values()
    text = f"across instances {uuid.uuid4().hex[:6]}"
    first.call("send_message", {"text": text}, namespace=CHAT)
    second.expect(
        "message",
        namespace=CHAT,
        where=lambda data: isinstance(data, dict) and data.get("text") == text,
        sent=f"{first.name} (one instance) sends {text!r}",
        expected=f"{second.name} on the other instance receives it (through Redis)",
    )
    since = ctx.stack.listener.mark() if ctx.stack.listener is not None else None
    ack = first.call("start_report", {"title": "across instances"}, namespace=REPORTS)
    report = ack.get("report") if isinstance(ack, dict) else None
    if not isinstance(report, dict):
        raise CheckFailed(
            "start_report failed", sent="start_report", expected="{'ok': True, ...}", received=ack
        )
    report_id = report["report_id"]
    sent = f"{first.name} starts report {report_id}; {second.name} (other instance) watches it"
    watched = second.call("watch", {"report_id": report_id}, namespace=REPORTS)
    if not isinstance(watched, dict) or watched.get("ok") is not True:
        raise CheckFailed("watch was refused", sent=sent, expected="{'ok': True}", received=watched)
    of_report = lambda data: isinstance(data, dict) and data.get("report_id") == report_id  # noqa: E731
    result = wait_for_event(
        second,
        Expected("result", REPORTS, f"report:alice:{report_id}", of_report),
        ctx.stack.listener,
        REPORT_TIMEOUT,
        sent=sent,
        expectation="the worker's progress events, then the result",
        worker=ctx.stack.worker,
        processes=ctx.stack.exited,
        since=since,
    )
    worker_pid = ctx.stack.worker.pid
    if (result.get("worker") or {}).get("pid") != worker_pid:
        raise CheckFailed(
            "the result did not come from the Celery worker",
            sent=sent,
            expected=f"worker.pid == {worker_pid}",
            received=result,
        )


ASYNC_MODE_LINE = re.compile(r"async_mode=(\w+)")
LOG_HEAD_BYTES = 256 * 1024  # where a process's start-up lines are, however much it logs later


def async_mode_logged(process: ManagedProcess) -> str | None:
    """The async_mode the app logged when it was ready ("app ready: async_mode=..."): the
    latest in its last lines, else in the start of its log."""
    found = ASYNC_MODE_LINE.findall(process.log_tail(200))
    if not found:
        with contextlib.suppress(OSError), open(process.log_path, "rb") as log:
            found = ASYNC_MODE_LINE.findall(log.read(LOG_HEAD_BYTES).decode(errors="replace"))
    return found[-1] if found else None


@CHECKS.check(
    "4.1",
    "under gunicorn the app really runs on gevent (async_mode gevent)",
    hint=(
        'In factory.async_mode_for: return "gevent" when gevent has patched the socket module '
        '(socket_is_patched()); a hard-coded "threading" runs greenlets as if they were '
        "threads, and auto-detection depends on what is installed."
    ),
)
def gunicorn_runs_the_app_on_gevent(ctx: Context) -> None:
    web2 = ctx.stack.instances[-1]  # the stack starts it with LOG_LEVEL=INFO
    sent = (
        f"gunicorn wsgi:app (the stage's gunicorn.conf.py) with LOG_LEVEL=INFO at {web2.url} "
        "(web2, behind nginx)"
    )
    mode = poll_until(lambda: async_mode_logged(web2.process), 1.0, interval=0.05)
    if mode != "gevent":
        raise CheckFailed(
            f"under gunicorn's gevent worker the app runs async_mode {mode or '(not logged)'}",
            sent=sent,
            expected='"app ready: async_mode=gevent" (gunicorn\'s gevent worker has patched '
            "the socket module before the app was imported)",
            received=web2.process.log_tail(10),
        )


@CHECKS.check(
    "4.1",
    "python run_gevent.py serves websocket clients on gevent, through the Redis queue",
    hint=(
        "run_gevent.py must call monkey.patch_all() before anything else is imported, so that "
        "async_mode_for() sees a patched socket module and the Redis queue works on gevent."
    ),
    time_scale=2.0,  # it starts a server of its own
)
def run_gevent_serves_on_gevent(ctx: Context) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **ctx.stack.env,
        "CORS_ALLOWED_ORIGINS": ",".join(
            [ctx.stack.env["CORS_ALLOWED_ORIGINS"], *origins_for(port)]
        ),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "INFO",
        "SOCKETIO_CLIENT_DIST": str(SOCKETIO_CLIENT_DIST),
    }
    process = ctx.side_processes().start(
        "run-gevent", [sys.executable, "run_gevent.py"], ctx.stage_dir, env
    )
    sent = f"python run_gevent.py (PORT={port}, the production environment, LOG_LEVEL=INFO)"
    outcome = wait_exit_or_ready(process, url)
    if outcome != "ready":
        raise CheckFailed(
            "python run_gevent.py did not serve",
            sent=sent,
            expected=f"Engine.IO answers on {url}",
            received=f"it {'exited' if outcome == 'exited' else 'hung'}. Its output:\n"
            + process.log_tail(20),
        )
    mode = async_mode_logged(process)
    if mode is not None and mode != "gevent":
        raise CheckFailed(
            f"run_gevent.py runs the app on {mode}, not gevent",
            sent=sent,
            expected='"app ready: async_mode=gevent": monkey.patch_all() before any other import',
            received=process.log_tail(10),
        )
    text = f"from run_gevent.py {uuid.uuid4().hex[:6]}"
    sent += f"; alice connects to it over websocket, bob to web1 (gunicorn); alice sends {text!r}"
    try:
        alice = client(ctx, "alice", url, [CHAT], "alice on run_gevent.py")
        bob = client(ctx, "bob", ctx.stack.instances[0].url, [CHAT], "bob on web1")
        alice.call("send_message", {"text": text}, namespace=CHAT)
        bob.expect(
            "message",
            namespace=CHAT,
            where=lambda data: isinstance(data, dict) and data.get("text") == text,
            sent=sent,
            expected="bob, on another server, receives it through Redis",
        )
    except CheckFailed as failure:
        failure.sent = sent
        failure.received = f"{failure.received}\nrun_gevent.py's output:\n{process.log_tail(12)}"
        raise
    except Exception as error:  # e.g. an empty Engine.IO open packet: the server broke
        raise CheckFailed(
            "a client could not talk to python run_gevent.py",
            sent=sent,
            expected="a websocket connection and the message through Redis",
            received=f"{type(error).__name__}: {error}\nrun_gevent.py's output:\n"
            + process.log_tail(12),
        ) from error


@CHECKS.check(
    "4.1",
    "behind the site's own nginx config (ip_hash on), long-polling clients keep their session",
    hint=(
        "In deploy/nginx/socketio.conf the upstream block needs ip_hash;: a long-polling session "
        "is many requests, and each must reach the instance that opened it."
    ),
    own_processes=True,
)
def sticky_site_keeps_polling_sessions(ctx: Context) -> None:
    upstreams = [instance.url for instance in ctx.stack.instances]
    url = start_site_nginx(
        ctx.side_processes(),
        ctx.stage_dir,
        upstreams,
        "nginx-sticky",
        "nginx with deploy/nginx/socketio.conf (ip_hash as written), two instances",
    )
    sent = (
        f"3 clients with the default transports (long-polling, then the upgrade to websocket) "
        f"connect through nginx ({url}, the site as written, two instances)"
    )
    for attempt in range(3):
        probe = ctx.client(
            f"polling client {attempt + 1}",
            url=url,
            namespaces=[CHAT],
            auth={"token": TOKENS["bob"]},
            transports=["polling", "websocket"],
        )
        # the upgrade's Origin: nginx's own one is allowed, this side nginx's is not
        probe.sio.eio.websocket_extra_options = {"origin": ctx.url}
        try:
            probe.connect()
            text = f"polling {attempt} {uuid.uuid4().hex[:6]}"
            probe.call("send_message", {"text": text}, namespace=CHAT)
            probe.expect(
                "message",
                namespace=CHAT,
                where=lambda data, text=text: isinstance(data, dict) and data.get("text") == text,
                sent=sent,
                expected="its own message back",
            )
        except Exception as failure:  # CheckFailed, or the client choking on an error reply
            what = (
                f"{failure.summary}: {failure.received}"
                if isinstance(failure, CheckFailed)
                else f"{type(failure).__name__}: {failure}"
            )
            raise CheckFailed(
                "a long-polling client lost its session behind nginx: no sticky sessions",
                sent=sent,
                expected="every request of one polling session reaches one instance (ip_hash in "
                "the upstream block of deploy/nginx/socketio.conf)",
                received=what,
            ) from failure
        if not poll_until(lambda probe=probe: probe.sio.transport() == "websocket", 5.0):
            raise CheckFailed(
                "a client that started on long-polling never upgraded to websocket",
                sent=sent,
                expected="the upgrade to websocket within 5 s: the instance runs on gevent "
                "(async_mode_for) and nginx passes Upgrade and Connection on",
                received=f"transport {probe.sio.transport()}\nweb1's last output:\n"
                + instance_log(ctx),
            )


# -- 4.2 startup refusals ----------------------------------------------------------------
# Each unsafe setting a production config must refuse: (what, the change, the variable named).
REFUSALS = [
    ("SECRET_KEY missing", {"SECRET_KEY": ""}, "SECRET_KEY"),
    ("SECRET_KEY the development default", {"SECRET_KEY": "dev-only-not-a-secret"}, "SECRET_KEY"),
    ("SECRET_KEY too short", {"SECRET_KEY": "0123456789abcde"}, "SECRET_KEY"),
    ("CORS_ALLOWED_ORIGINS missing", {"CORS_ALLOWED_ORIGINS": ""}, "CORS_ALLOWED_ORIGINS"),
    ("CORS_ALLOWED_ORIGINS '*'", {"CORS_ALLOWED_ORIGINS": "*"}, "CORS_ALLOWED_ORIGINS"),
    ("REDIS_URL missing", {"REDIS_URL": ""}, "REDIS_URL"),
    ("DATABASE_URL missing", {"DATABASE_URL": ""}, "DATABASE_URL"),
    ("CHAT_TOKENS missing", {"CHAT_TOKENS": ""}, "CHAT_TOKENS"),
    (
        "CHAT_TOKENS with a development token",
        {"CHAT_TOKENS": f"alice-dev-token:alice,{TOKENS['bob']}:bob"},
        "CHAT_TOKENS",
    ),
    ("CHAT_TOKENS with a short token", {"CHAT_TOKENS": "0123456789abcde:alice"}, "CHAT_TOKENS"),
]
REFUSAL_PHRASE = "refusing to start"


@CHECKS.check(
    "4.2",
    "production config refuses each missing or development secret, token, origin list, Redis "
    "URL and database",
    hint=(
        "In config.production_problems: one sentence per problem, naming the variable "
        "(REQUIRED_ENVIRONMENT unset, a short or default SECRET_KEY, '*' in the origins, "
        "short or development CHAT_TOKENS)."
    ),
    time_scale=2.0,
    own_processes=True,
)
def production_config_refuses_unsafe_settings(ctx: Context) -> None:
    attempts = []
    for what, change, name in REFUSALS:
        url, process = start_instance(
            ctx.side_processes(), ctx.stack, f"refusal-{name}", wait=False, **change
        )
        attempts.append((what, change, name, url, process))
    for what, change, name, url, process in attempts:
        sent = f"gunicorn wsgi:app with APP_CONFIG=production and {what} ({change})"
        outcome = wait_exit_or_ready(process, url)
        output = process.log_tail(40)
        if outcome == "ready":
            raise CheckFailed(
                "the app started with an unsafe production config",
                sent=sent,
                expected=f"it refuses to start and says why ({name})",
                received=f"it serves on {url}. Its output:\n{output}",
            )
        if outcome == "hung":
            raise CheckFailed(
                "the app neither started nor stopped",
                sent=sent,
                expected="it exits at once, saying why",
                received=f"still running after {2 * settings.APP_START_TIMEOUT:.0f} s",
            )
        if REFUSAL_PHRASE not in output.lower() or name not in output:
            raise CheckFailed(
                "the app stopped without saying clearly why",
                sent=sent,
                expected=f'"Refusing to start in production config" and a reason naming {name}',
                received=output,
            )


def wait_exit_or_ready(process: ManagedProcess, url: str) -> str:
    ready = engineio_ready(url)

    def outcome() -> str | None:
        if process.exited() is not None:
            return "exited"
        return "ready" if ready() else None

    # Generous: several instances start at once here, on a machine that may be busy.
    return poll_until(outcome, 2 * settings.APP_START_TIMEOUT) or "hung"


# -- 4.3 /healthz ----------------------------------------------------------------------------
def get_health(url: str, sent: str) -> tuple[int, dict]:
    answer = requests.get(url + "/healthz", timeout=5)
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise CheckFailed(
            "/healthz did not answer JSON",
            sent=sent,
            expected='a JSON object like {"status": "ok", "database": true, "redis": true}',
            received=f"HTTP {answer.status_code}: {answer.text[:200]}",
        )
    return answer.status_code, body


@CHECKS.check(
    "4.3",
    "/healthz says 200 ok when all answers, 503 naming Redis when Redis is down",
    hint=(
        'In routes.healthz: {"status": "ok"|"unavailable", "database": bool, "redis": bool} '
        "from database_answers() and redis_answers(...), with 200 or 503."
    ),
    own_processes=True,
)
def healthz_reports_database_and_redis(ctx: Context) -> None:
    for url in (ctx.stack.instances[0].url, ctx.url):
        sent = f"GET {url}/healthz with the database and Redis running"
        code, body = get_health(url, sent)
        wanted = {"status": "ok", "database": True, "redis": True}
        if code != 200 or {k: body.get(k) for k in wanted} != wanted:
            raise CheckFailed(
                "/healthz does not report a healthy instance",
                sent=sent,
                expected=f"HTTP 200 with {wanted}",
                received=f"HTTP {code}: {body}",
            )
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    url, _ = start_instance(
        ctx.side_processes(), ctx.stack, "web-without-redis", REDIS_URL=dead_redis
    )
    sent = f"GET {url}/healthz on an instance whose REDIS_URL ({dead_redis}) does not answer"
    code, body = get_health(url, sent)
    if code != 503 or body.get("redis") is not False or body.get("status") == "ok":
        raise CheckFailed(
            "/healthz does not report the missing Redis",
            sent=sent,
            expected='HTTP 503 with "status": "unavailable", "redis": false',
            received=f"HTTP {code}: {body}",
        )


BROKEN_DATABASE = b"this is no longer a database " * 256


@CHECKS.check(
    "4.3",
    "/healthz says 503 naming the database when the database does not answer",
    hint=(
        'In routes.healthz: "database": database_answers(), and the status 503 unless every '
        "check answered; never a fixed True."
    ),
    own_processes=True,
)
def healthz_reports_the_database_down(ctx: Context) -> None:
    scope = ctx.side_processes()
    database_url = private_database(scope, "04")
    url, _ = start_instance(scope, ctx.stack, "web-own-database", DATABASE_URL=database_url)
    database = Path(database_url.removeprefix("sqlite:///"))
    with open(database, "r+b") as broken:  # the same file, so open connections see it too
        broken.write(BROKEN_DATABASE)
    sent = f"GET {url}/healthz after its SQLite database ({database.name}) was overwritten"
    code, body = get_health(url, sent)
    if code != 503 or body.get("database") is not False or body.get("status") == "ok":
        raise CheckFailed(
            "/healthz does not report the broken database",
            sent=sent,
            expected='HTTP 503 with "status": "unavailable", "database": false',
            received=f"HTTP {code}: {body}",
        )


# -- 4.4 the browser ----------------------------------------------------------------------------
@CHECKS.check(
    "4.4",
    "through nginx the page connects with websocket only and shows the worker's progress",
    browser=True,
    hint=(
        'In static/app.js, connectionOptions() returns { transports: ["websocket"] } for the '
        "Manager."
    ),
)
def page_uses_websocket_only(ctx: Context) -> None:
    page = ctx.browser().new_page()
    engine_requests: list[str] = []
    # Playwright reports a websocket as a "websocket" event, polling as "request"s.
    page.on("request", lambda r: "/socket.io/" in r.url and engine_requests.append(r.url))
    page.on("websocket", lambda ws: engine_requests.append(ws.url))
    page.goto(ctx.url + "/")
    page.fill("#token", TOKENS["carol"])
    page.click("#login-form button")
    sent = f"open {ctx.url}/ (nginx, two instances) and sign in as carol"
    poll_until(lambda: engine_requests, settings.BROWSER_TIMEOUT, 0.05, page_sleep(page))
    polling = [url for url in engine_requests if "transport=polling" in url]
    if not engine_requests or polling:
        raise CheckFailed(
            "the page did not connect with websocket only",
            sent=sent,
            expected="its first and only Engine.IO request: /socket.io/?...transport=websocket",
            received=f"requests: {engine_requests[:4] or 'none'}",
        )
    expect_text(page, "#status", "connected", sent=sent)
    expect_text(page, "#transport", "websocket", sent=sent)
    page.click("#start-report")
    sent += ' and click "Build a report"'
    expect_text(page, "#report-percent", "100%", sent=sent, timeout=REPORT_TIMEOUT)
    expect_text(page, "#report-state", "done", sent=sent)


# -- 4.5 several workers per instance ----------------------------------------------------------
WORKERS = 3  # gunicorn workers sharing one instance's port
MAX_CLIENTS_TO_SPREAD = 8  # connects until two workers hold a client; then one is paused
POLLING_ATTEMPTS = 10
WEBSOCKET_ONLY = {"WEB_CONCURRENCY": str(WORKERS), "SOCKETIO_TRANSPORTS": "websocket"}
WORKERS_HINT = (
    "In factory.served_transports return the SOCKETIO_TRANSPORTS of the config, and raise "
    "RefusedToStart naming WEB_CONCURRENCY and SOCKETIO_TRANSPORTS when WEB_CONCURRENCY > 1 "
    'and "polling" is among them; create_app passes the result to init_app(transports=...).'
)


@CHECKS.check(
    "4.5",
    f"{WORKERS} gunicorn workers on one port serve websocket clients through Redis, and refuse "
    "long-polling with a clear 400",
    hint=WORKERS_HINT,
)
def several_workers_serve_websocket_only(ctx: Context) -> None:
    listener = ctx.stack.listener
    subscribed_before = listener.subscribers() if listener is not None else None
    url, process = start_workers_instance(
        ctx.side_processes(), ctx.stack, "web-3", **WEBSOCKET_ONLY
    )
    sent = (
        f"gunicorn wsgi:app with WEB_CONCURRENCY={WORKERS} SOCKETIO_TRANSPORTS=websocket at {url}; "
        "alice's websocket clients connect one after another"
    )
    by_worker: dict[str, Probe] = {}
    for attempt in range(MAX_CLIENTS_TO_SPREAD):
        try:
            probe = client(ctx, "alice", url, [CHAT, NOTIFICATIONS], f"client {attempt + 1}")
        except CheckFailed as failure:
            failure.sent = sent
            failure.received = f"{failure.received}\ngunicorn's output:\n{process.log_tail(10)}"
            raise
        by_worker.setdefault(str(served_by(probe, sent).get("pid")), probe)
        if len(by_worker) == 2:
            break
    if len(by_worker) == 1:
        # An idle worker may win every accept (often so on a busy machine): paused for a
        # moment, it cannot, and the next client has to land on another worker.
        with paused_worker(process, next(iter(by_worker))):
            with contextlib.suppress(CheckFailed):  # no other worker: failed just below
                probe = client(ctx, "alice", url, [CHAT, NOTIFICATIONS], "client beside a pause")
                by_worker.setdefault(str(served_by(probe, sent).get("pid")), probe)
    if len(by_worker) < 2:
        raise CheckFailed(
            "every client landed on the same worker",
            sent=sent,
            expected=f"clients on two of the {WORKERS} workers (their welcomes' pids differ)",
            received=f"{MAX_CLIENTS_TO_SPREAD} clients, all served by pid {sorted(by_worker)}",
        )
    first, second = by_worker.values()
    if subscribed_before is not None:
        # A worker subscribes to the queue after its first client, in the background; a
        # message published before that is lost for it (pub/sub keeps nothing).
        poll_until(lambda: (listener.subscribers() or 0) >= subscribed_before + 2, 5.0)
    text = f"across workers {uuid.uuid4().hex[:6]}"
    first.call("send_message", {"text": text}, namespace=CHAT)
    second.expect(
        "message",
        namespace=CHAT,
        where=lambda data: isinstance(data, dict) and data.get("text") == text,
        # two hops through Redis from a worker that just started: slow on a busy machine
        timeout=2 * settings.EVENT_TIMEOUT,
        sent=f"{first.name} (one worker) sends {text!r}",
        expected=f"{second.name}, on another worker of the same instance, receives it (Redis)",
    )
    handshake = f"{url}{ENGINEIO_HANDSHAKE}"
    answers = []
    for _ in range(POLLING_ATTEMPTS):
        answer = requests.get(handshake, timeout=5)
        answers.append(f"HTTP {answer.status_code} {answer.text[:40]}")
    refused = [a for a in answers if a.startswith("HTTP 400") and "Invalid transport" in a]
    if len(refused) < POLLING_ATTEMPTS:
        raise CheckFailed(
            "a long-polling client was not refused clearly",
            sent=f"GET {handshake}, {POLLING_ATTEMPTS} times (a long-polling handshake)",
            expected='every one answered HTTP 400 "Invalid transport": served, its next request '
            'could reach another worker and get "Invalid session"',
            received=sorted(set(answers)),
        )


@CHECKS.check(
    "4.5",
    f"{WORKERS} workers with long-polling still on refuse to start, saying what to set",
    hint=WORKERS_HINT,
    own_processes=True,
)
def several_workers_with_polling_refuse_to_start(ctx: Context) -> None:
    url, process = start_workers_instance(
        ctx.side_processes(), ctx.stack, "web-3-polling", wait=False, WEB_CONCURRENCY=str(WORKERS)
    )
    sent = f"gunicorn wsgi:app with WEB_CONCURRENCY={WORKERS} and the default SOCKETIO_TRANSPORTS"
    outcome = wait_exit_or_ready(process, url)
    output = process.log_tail(40)
    if outcome == "ready":
        raise CheckFailed(
            "the app served long-polling from several workers",
            sent=sent,
            expected="it refuses to start: polling sessions would break at random",
            received=f"it serves on {url}. Its output:\n{output}",
        )
    if outcome == "hung":
        raise CheckFailed(
            "the app neither started nor stopped",
            sent=sent,
            expected="it exits at once, saying why",
            received=f"still running after {2 * settings.APP_START_TIMEOUT:.0f} s",
        )
    if REFUSAL_PHRASE not in output.lower() or "SOCKETIO_TRANSPORTS" not in output:
        raise CheckFailed(
            "the app stopped without saying clearly why",
            sent=sent,
            expected='"Refusing to start" and what to set: SOCKETIO_TRANSPORTS=websocket',
            received=output,
        )


# -- 4.6 don't block the hub (issue 10: one contiguous block, kept at the end) ------------
HUB_ANSWER_LIMIT = 0.100  # s: what another client may wait for an acknowledgement
HUB_MIN_CALLS = 3  # calls answered while the slow work ran, for a fair median
HUB_HINT = (
    "In hub.let_others_run: socketio.sleep(0). Pure-Python work never waits, so gevent's hub "
    "never switches to another client's greenlet until the handler returns."
)


@CHECKS.check(
    "4.6",
    "while one client's slow statistics run, another client's acknowledgements come back "
    "within 100 ms",
    hint=HUB_HINT,
)
def slow_work_leaves_other_clients_served(ctx: Context) -> None:
    import threading

    web1 = ctx.stack.instances[0].url  # both clients on one gevent worker: one hub
    slow = client(ctx, "alice", web1, [CHAT], "alice (statistics)")
    quick = client(ctx, "bob", web1, [CHAT], "bob (history)")
    outcome: dict = {}

    def run_statistics() -> None:
        try:
            outcome["reply"] = slow.call("statistics", namespace=CHAT, timeout=30)
        except CheckFailed as failure:
            outcome["failure"] = failure

    worker = threading.Thread(target=run_statistics, daemon=True)
    started = time.monotonic()
    worker.start()
    time.sleep(0.2)  # the statistics have started on the server
    waits = []
    while worker.is_alive() and time.monotonic() - started < 30:
        sent_at = time.monotonic()
        quick.call("get_history", {"limit": 1}, namespace=CHAT, timeout=30)
        waits.append(time.monotonic() - sent_at)
        time.sleep(0.05)
    worker.join(timeout=30)
    sent = (
        "alice emits statistics on /chat (CPU work for STATISTICS_SECONDS); meanwhile bob emits "
        "get_history {limit: 1} again and again, on the same gunicorn worker"
    )
    reply = outcome.get("reply")
    if "failure" in outcome or not (isinstance(reply, dict) and reply.get("ok")):
        raise CheckFailed(
            "the statistics did not answer",
            sent=sent,
            expected='alice gets {"ok": true, "messages": ..., "top_words": ...}',
            received=str(outcome.get("failure") or reply),
        )
    shown = ", ".join(f"{wait * 1000:.0f} ms" for wait in waits[:10])
    median = sorted(waits)[len(waits) // 2] if waits else float("inf")
    if len(waits) < HUB_MIN_CALLS or median > HUB_ANSWER_LIMIT:
        raise CheckFailed(
            "one client's CPU work stalled another client",
            sent=sent,
            expected=f"bob's acknowledgements within {HUB_ANSWER_LIMIT * 1000:.0f} ms while "
            f"the statistics run (median of at least {HUB_MIN_CALLS})",
            received=f"{len(waits)} answered during the work, waiting {shown or 'nothing'}: "
            "the worker served nobody else until the statistics were done",
        )


# -- 4.7 bug hunt: the stage is handed out with one defect (course/bugs/04_production.patch) --
PRODUCTION_PING_INTERVAL = 25  # config.py's default: what make run and a deployment use
IDLE_SECONDS = 28.0  # a quiet chat: longer than a ping interval, far below nginx's default 60 s


def ping_interval_of(url: str) -> float:
    """The ping interval (s) an instance announces in its Engine.IO open packet."""
    answer = requests.get(f"{url}{ENGINEIO_HANDSHAKE}", timeout=5)
    packet = {}
    with contextlib.suppress(ValueError):
        packet = json.loads(answer.text[1:]) if answer.text.startswith("0{") else {}
    interval = packet.get("pingInterval") if isinstance(packet, dict) else None
    if not isinstance(interval, (int, float)) or interval <= 0:
        raise CheckFailed(
            "the instance did not announce its ping interval",
            sent=f"GET {url}{ENGINEIO_HANDSHAKE}",
            expected='the Engine.IO open packet 0{..., "pingInterval": ...}',
            received=f"HTTP {answer.status_code}: {answer.text[:200]}",
        )
    return interval / 1000


@CHECKS.check(
    "4.7",
    "a quiet client stays connected through nginx, with the production ping interval",
    hint="Open the page through nginx (make run) and leave it alone for a minute with the "
    "network panel open; then do the same on an instance's own address. Compare when and how "
    'the websocket ends (README, "When it doesn\'t work").',
    own_processes=True,
)
def a_quiet_client_stays_connected_behind_nginx(ctx: Context) -> None:
    # Production time, run faster: the stack's instances ping every PING_INTERVAL s (5, not
    # 25), and nginx gets the site's idle timeouts (nginx's 60 s default where it sets none)
    # divided by the same factor. What closes a quiet connection first, and why, is as in
    # production, only that many times sooner: the client waits about 6 s, not 28.
    upstream = ctx.stack.instances[-1].url  # web2: web1 carries the swarm and the slow work
    ping = ping_interval_of(upstream)
    speedup = max(1.0, PRODUCTION_PING_INTERVAL / ping)
    url = start_site_nginx(
        ctx.side_processes(),
        ctx.stage_dir,
        [upstream],
        "nginx-quiet",
        "nginx with deploy/nginx/socketio.conf in front of one instance",
        speedup=speedup,
    )
    probe = ctx.client("a quiet client", url=url, namespaces=[CHAT], auth={"token": TOKENS["bob"]})
    probe.sio.eio.websocket_extra_options = {"origin": ctx.url}  # an allowed page's Origin
    probe.connect()
    sent = (
        f"a client connects through nginx ({url}, deploy/nginx/socketio.conf as written) over "
        f"websocket, with the production ping interval of {PRODUCTION_PING_INTERVAL} s, then "
        f"sends nothing for {IDLE_SECONDS:.0f} s. The clock runs {speedup:g}x fast: the instance "
        f"pings every {ping:g} s, the site's proxy_read_timeout, proxy_send_timeout and "
        f"send_timeout (nginx's 60 s where unset) are divided by {speedup:g}, and the client "
        f"waits {IDLE_SECONDS / speedup:.1f} s"
    )
    started = time.monotonic()
    if poll_until(lambda: not probe.sio.connected, IDLE_SECONDS / speedup, interval=0.05):
        after = (time.monotonic() - started) * speedup
        site = (ctx.stage_dir / NGINX_SITE).read_text(errors="replace")
        short = [
            str(timeout)
            for timeout in site_timeouts(site)
            if timeout.directive == "proxy_read_timeout"
            and timeout.seconds < PRODUCTION_PING_INTERVAL
        ]
        raise CheckFailed(
            f"the quiet client was disconnected after about {after:.0f} s (production time), "
            "although neither it nor the app closed the connection",
            sent=sent,
            expected=f"still connected after {IDLE_SECONDS:.0f} s: the app pings every "
            f"{PRODUCTION_PING_INTERVAL} s, and that traffic keeps the connection alive",
            received="the connection closed under the client"
            + (
                f": your site's {' and '.join(short)} "
                f"{'is' if len(short) == 1 else 'are'} shorter than the "
                f"{PRODUCTION_PING_INTERVAL} s ping interval"
                if short
                else ""
            ),
        )
    text = f"still here {uuid.uuid4().hex[:6]}"
    probe.call("send_message", {"text": text}, namespace=CHAT)
    probe.expect(
        "message",
        namespace=CHAT,
        where=lambda data: isinstance(data, dict) and data.get("text") == text,
        sent=sent + ", then sends a chat message",
        expected="its own message back over the same connection",
    )
