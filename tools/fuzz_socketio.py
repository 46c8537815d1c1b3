"""A seeded fuzzer for the course's Socket.IO apps (stages 02-04): malformed input from anyone.

Three kinds of case, drawn from one seeded random generator, so a seed names the same cases:

- ``event``: well-formed Socket.IO EVENT packets on an authenticated websocket, with event
  names and arguments a client should not send (reserved names, unknown events, extra or
  missing arguments, every JSON type); acknowledged ones must never say "internal server error";
- ``websocket``: raw frames that break Engine.IO or Socket.IO framing (unknown packet types,
  bad JSON, bad namespaces, attachments that never come, oversized frames, binary garbage);
- ``polling``: raw HTTP requests to the long-polling endpoint (bad sessions, queries, methods,
  bodies, packet types a client never sends), each with a short timeout: no answer is counted,
  except for a GET on a live session, which is a long poll and may rightly wait for a ping.

    python tools/fuzz_socketio.py http://127.0.0.1:5000 --token alice-dev-token \\
        --namespaces /chat,/notifications,/reports --cases 10000 --seed 1 --log app.log

``--log`` with ``--app-dir`` counts the Python tracebacks the server wrote during the run: those
through the app's own code (our bugs) apart from those only in libraries. A frame of the apps'
WSGI middleware (MIDDLEWARE) that only hands the request on does not make a traceback ours.
The summary is JSON. tests/test_fuzz.py runs a 2,000-case sample against each stage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import string
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests
import websocket

ENGINEIO_PATH = "/socket.io/"
EVENTS = {
    "/chat": ["send_message", "get_history"],
    "/notifications": [],
    "/reports": ["start_report", "watch"],
}
KNOWN_KEYS = ["text", "limit", "title", "report_id", "room", "token"]
RESERVED = ["connect", "disconnect"]
ODD_NAMES = ["", "message", "connect_error", "__init__", "on_connect", "error", "*", "ping"]
INTERNAL_ERROR = "internal server error"
KIND_WEIGHTS = {"event": 0.45, "websocket": 0.3, "polling": 0.25}
POLLING_TIMEOUT = 1.5  # seconds a raw polling request may take before it counts as unanswered
POLLING_THREADS = 8
TRACEBACK = "Traceback (most recent call last):"
MIDDLEWARE = ("polling_guard.py", "connection_budget.py", "wsgi.py")


# -- what the cases are made of ---------------------------------------------------------
def random_text(rng: random.Random, longest: int = 40) -> str:
    alphabet = string.printable + "éü中文😀\u0000\u202e\ufeff"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest)))


def random_json(rng: random.Random, depth: int = 0):
    """Any JSON value, biased towards objects with the keys the apps read."""
    roll = rng.random()
    if depth >= 3 or roll < 0.35:
        return rng.choice(
            [
                None,
                True,
                False,
                0,
                -1,
                rng.randint(-(10**6), 10**6),
                10**30,
                1.5,
                -0.0,
                1e308,
                random_text(rng),
                "x" * rng.choice([0, 1, 80, 81, 500, 501, 5000]),
                " " * 10,
                str(uuid.uuid4()),
            ]
        )
    if roll < 0.5:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = rng.sample(KNOWN_KEYS, rng.randint(0, 3)) + [random_text(rng, 8)] * rng.randint(0, 1)
    return {key: random_json(rng, depth + 1) for key in keys}


@dataclass
class Case:
    kind: str
    namespace: str = "/"
    event: object = None  # usually a str; anything JSON for the odd ones
    args: list = field(default_factory=list)
    ack: bool = False
    frame: str | bytes | None = None  # websocket: what to send
    followers: list = field(default_factory=list)  # websocket: binary attachments after it
    method: str = "GET"  # polling
    query: str = ""
    body: bytes | None = None
    headers: dict = field(default_factory=dict)
    session: bool = False  # polling: open a fresh session first and put its sid in the query


def event_case(rng: random.Random, namespaces: list[str]) -> Case:
    namespace = rng.choice(namespaces)
    own = EVENTS.get(namespace, [])
    others = [e for ns, events in EVENTS.items() if ns != namespace for e in events]
    roll = rng.random()
    if roll < 0.4 and own:
        event = rng.choice(own)
    elif roll < 0.55:
        event = rng.choice(RESERVED)
    elif roll < 0.65 and others:
        event = rng.choice(others)
    elif roll < 0.8:
        event = rng.choice(ODD_NAMES)
    else:
        event = random_text(rng, 300)
    count = rng.choices([0, 1, 2, 3], weights=[15, 60, 15, 10])[0]
    args = [random_json(rng) for _ in range(count)]
    return Case("event", namespace, event, args, ack=rng.random() < 0.6)


def socketio_payload(rng: random.Random, namespaces: list[str]) -> str:
    """A Socket.IO packet (without the Engine.IO "4") that is wrong in some way."""
    packet_type = rng.choice("0123456789") if rng.random() < 0.9 else random_text(rng, 2)
    attachments = f"{rng.choice([0, 1, 2, 99, 10**12])}-" if rng.random() < 0.2 else ""
    namespace = rng.choice(
        [*namespaces, "/", "/nope", "/chat?x=1", "", "/" + random_text(rng, 10), "//"]
    )
    namespace = f"{namespace}," if namespace not in ("", "/") else ""
    ack_id = rng.choice(["", "", "1", "0", "99999999999999999999", "12a"])
    data = rng.choice(
        [
            json.dumps([rng.choice(EVENTS["/chat"] + RESERVED + [""]), random_json(rng)]),
            json.dumps(random_json(rng)),
            "[]",
            "[1,2]",
            "[null]",
            '{"event": "send_message"}',
            "[" * rng.randint(1, 3),
            random_text(rng),
            "",
            '["send_message",{"_placeholder":true,"num":0}]',
        ]
    )
    return f"{packet_type}{attachments}{namespace}{ack_id}{data}"


def websocket_case(rng: random.Random, namespaces: list[str]) -> Case:
    roll = rng.random()
    if roll < 0.55:
        return Case("websocket", frame="4" + socketio_payload(rng, namespaces))
    if roll < 0.7:  # a binary event announcing attachments, then fewer (or other) frames
        count = rng.randint(1, 3)
        frame = f"45{count}-{rng.choice(namespaces)},"
        frame += json.dumps(["send_message", {"_placeholder": True, "num": rng.randint(0, 5)}])
        sent = rng.randint(0, count)
        return Case("websocket", frame=frame, followers=[rng.randbytes(8) for _ in range(sent)])
    if roll < 0.85:  # Engine.IO packet types a client has no business sending
        return Case("websocket", frame=rng.choice("0123456789ab") + random_text(rng, 20))
    if roll < 0.97:
        return Case("websocket", frame=rng.randbytes(rng.randint(0, 64)))
    return Case("websocket", frame="4" + "x" * rng.choice([100_000, 1_100_000]))


def engineio_payload(rng: random.Random, namespaces: list[str]) -> bytes:
    """A long-polling POST body: one or more Engine.IO packets, some never sent by a client."""
    packets = []
    for _ in range(rng.randint(1, 3)):
        roll = rng.random()
        if roll < 0.35:
            packets.append(rng.choice("0123456789xb") + random_text(rng, 10))
        elif roll < 0.8:
            packets.append("4" + socketio_payload(rng, namespaces))
        else:
            packets.append(rng.choice(["3", "1", "6", "2", "0", "5", "", "b!!!"]))
    body = "\x1e".join(packets).encode("utf-8", "surrogatepass")
    if rng.random() < 0.1:
        body = b"d=" + body
    if rng.random() < 0.1:
        body += rng.randbytes(4)  # not UTF-8
    return body


def polling_case(rng: random.Random, namespaces: list[str]) -> Case:
    roll = rng.random()
    base = "EIO=4&transport=polling"
    if roll < 0.5:
        return Case(
            "polling",
            method="POST",
            query=base,
            body=engineio_payload(rng, namespaces),
            session=True,
        )
    if roll < 0.6:  # a session that does not exist
        sid = rng.choice(["", "nope", random_text(rng, 20), "A" * 20])
        body = engineio_payload(rng, namespaces)
        return Case(
            "polling", method=rng.choice(["GET", "POST"]), query=f"{base}&sid={sid}", body=body
        )
    if roll < 0.8:
        query = "&".join(
            rng.sample(
                [
                    rng.choice(["EIO=4", "EIO=3", "EIO=x", "EIO="]),
                    rng.choice(["transport=polling", "transport=websocket", "transport=x"]),
                    rng.choice(["j=1", "j=x", "b64=1", "t=" + random_text(rng, 5)]),
                    f"sid={random_text(rng, 5)}",
                ],
                rng.randint(0, 4),
            )
        )
        return Case("polling", method="GET", query=query)
    if roll < 0.9:
        headers = rng.choice(
            [
                {"Origin": "https://evil.example"},
                {"Upgrade": "websocket"},
                {"Connection": "upgrade", "Upgrade": "websocket"},
                {"Content-Type": "application/octet-stream"},
            ]
        )
        return Case(
            "polling",
            method=rng.choice(["GET", "POST"]),
            query=base,
            headers=headers,
            body=b"4" + random_text(rng).encode(),
            session=rng.random() < 0.5,
        )
    method = rng.choice(["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"])
    return Case("polling", method=method, query=base, body=random_text(rng).encode(), session=True)


MAKERS = {"event": event_case, "websocket": websocket_case, "polling": polling_case}


def generate(seed: int, count: int, namespaces: list[str]) -> list[Case]:
    """``count`` cases from ``seed``: the same seed and namespaces give the same cases."""
    rng = random.Random(seed)
    kinds = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()), k=count)
    return [MAKERS[kind](rng, namespaces) for kind in kinds]


# -- talking to the server -------------------------------------------------------------
class RawSocket:
    """One Engine.IO websocket with the namespaces connected: no client library in between."""

    def __init__(self, url: str, token: str, namespaces: list[str], timeout: float = 5.0):
        ws_url = url.replace("http", "ws", 1) + ENGINEIO_PATH + "?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(ws_url, timeout=timeout)
        opened = self.ws.recv()
        if not str(opened).startswith("0"):
            raise ConnectionError(f"no Engine.IO open packet: {opened!r}")
        self.frames: list = []
        for namespace in namespaces:
            self.ws.send(f"40{namespace},{json.dumps({'token': token})}")
        deadline = time.monotonic() + timeout
        connected, seen = set(), []
        while connected != set(namespaces) and time.monotonic() < deadline:
            for frame in self.read(0.2):
                seen.append(str(frame)[:200])
                match = re.match(r"40(/[^,]*),", str(frame))
                if match:
                    connected.add(match[1])
        if connected != set(namespaces):
            missing = set(namespaces) - connected
            raise ConnectionError(f"namespaces not connected: {missing}; frames: {seen[-5:]}")

    def send(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            self.ws.send_binary(frame)
        else:
            self.ws.send(frame)

    def read(self, wait: float) -> list:
        """Frames that arrive within ``wait`` seconds (answering the server's pings)."""
        got = []
        self.ws.settimeout(wait)
        try:
            while True:
                frame = self.ws.recv()
                if frame == "2":
                    self.ws.send("3")
                    continue
                got.append(frame)
                self.ws.settimeout(0.005)
        except websocket.WebSocketTimeoutException:
            pass
        self.frames.extend(got)
        return got

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.shutdown()


@dataclass
class Summary:
    seed: int
    cases: int = 0
    by_kind: Counter = field(default_factory=Counter)
    acks: int = 0
    acks_missing: int = 0  # acknowledged events the server never answered
    internal_errors: list = field(default_factory=list)  # what drew "internal server error"
    closed_by_server: int = 0  # websocket cases after which the server closed the connection
    polling_status: Counter = field(default_factory=Counter)
    polling_unanswered: list = field(default_factory=list)
    long_polls_waiting: int = 0  # GETs on a live session still open at the timeout: fine
    seconds: float = 0.0
    server_up: bool | None = None
    app_tracebacks: int | None = None
    library_tracebacks: int | None = None
    app_traceback_sample: str = ""

    def to_json(self) -> dict:
        data = asdict(self)
        data["by_kind"] = dict(self.by_kind)
        data["polling_status"] = {str(k): v for k, v in self.polling_status.items()}
        return data


class Fuzzer:
    def __init__(self, url: str, token: str, namespaces: list[str], seed: int = 1):
        self.url = url.rstrip("/")
        self.token = token
        self.namespaces = namespaces
        self.seed = seed
        self.socket: RawSocket | None = None
        self.next_ack = 1
        self.waiting: dict[str, Case] = {}  # "namespace/id" of acks not yet answered

    def run(self, count: int) -> Summary:
        summary = Summary(self.seed)
        cases = generate(self.seed, count, self.namespaces)
        started = time.monotonic()
        polling = [case for case in cases if case.kind == "polling"]
        with ThreadPoolExecutor(POLLING_THREADS) as pool:
            answers = pool.map(self.polling_request, polling)
            for case in cases:
                if case.kind != "polling":
                    self.on_socket(case, summary)
                summary.by_kind[case.kind] += 1
            for case, answer in zip(polling, answers, strict=True):
                if answer is None and case.session and case.method == "GET":
                    summary.long_polls_waiting += 1
                elif answer is None:
                    summary.polling_unanswered.append(describe(case))
                else:
                    summary.polling_status[answer] += 1
        self.collect_acks(summary, wait=3.0)
        summary.acks_missing = len(self.waiting)
        if self.socket:
            self.socket.close()
        summary.cases = len(cases)
        summary.seconds = round(time.monotonic() - started, 1)
        return summary

    # websocket cases: events and raw frames on one authenticated connection
    def on_socket(self, case: Case, summary: Summary) -> None:
        if self.socket is None:
            self.socket = RawSocket(self.url, self.token, self.namespaces)
            self.waiting.clear()
        try:
            if case.kind == "event":
                self.socket.send(self.event_frame(case, summary))
            else:
                self.socket.send(case.frame)
                for follower in case.followers:
                    self.socket.send(follower)
            self.collect_acks(summary, wait=0.002)
            if isinstance(case.frame, str) and case.frame.startswith(("40", "41")):
                self.reconnect(summary)  # a namespace may be gone: its events get no answer
        except (websocket.WebSocketException, OSError):
            summary.closed_by_server += 1
            self.socket.close()
            self.socket = None

    def reconnect(self, summary: Summary) -> None:
        self.collect_acks(summary, wait=0.2)
        if self.socket is not None:
            self.socket.close()
        self.socket = None

    def event_frame(self, case: Case, summary: Summary) -> str:
        prefix = "" if case.namespace == "/" else f"{case.namespace},"
        ack = ""
        if case.ack:
            ack = str(self.next_ack)
            self.waiting[f"{case.namespace}/{ack}"] = case
            self.next_ack += 1
            summary.acks += 1
        return f"42{prefix}{ack}{json.dumps([case.event, *case.args])}"

    def collect_acks(self, summary: Summary, wait: float) -> None:
        if self.socket is None:
            return
        deadline = time.monotonic() + wait
        while True:
            try:
                frames = self.socket.read(max(0.002, min(0.2, deadline - time.monotonic())))
            except (websocket.WebSocketException, OSError):
                summary.closed_by_server += 1
                self.socket = None
                return
            for frame in frames:
                text = frame if isinstance(frame, str) else ""
                match = re.match(r"43(/[^,]*)?,?(\d+)", text)
                if match:
                    case = self.waiting.pop(f"{match[1] or '/'}/{match[2]}", None)
                    if case is not None and INTERNAL_ERROR in text:
                        summary.internal_errors.append(describe(case))
                elif INTERNAL_ERROR in text:
                    summary.internal_errors.append(text[:200])
            if not self.waiting or time.monotonic() >= deadline:
                return

    # polling cases: independent HTTP requests
    def polling_request(self, case: Case) -> int | None:
        """The HTTP status of the answer, or None when none came within POLLING_TIMEOUT."""
        query = case.query
        try:
            if case.session:
                opened = requests.get(
                    f"{self.url}{ENGINEIO_PATH}?EIO=4&transport=polling", timeout=POLLING_TIMEOUT
                )
                sid = json.loads(opened.text[1:])["sid"]
                query += f"&sid={sid}"
            answer = requests.request(
                case.method,
                f"{self.url}{ENGINEIO_PATH}?{query}",
                data=case.body,
                headers=case.headers,
                timeout=POLLING_TIMEOUT,
            )
            return answer.status_code
        except requests.Timeout:
            return None
        except (requests.RequestException, ValueError, KeyError):
            return -1  # the connection was cut, or the handshake failed


def describe(case: Case) -> str:
    if case.kind == "event":
        text = f"{case.namespace} {case.event!r} args={case.args!r}"
    elif case.kind == "polling":
        text = f"{case.method} ?{case.query} body={case.body!r}"
    else:
        text = f"frame={case.frame!r}"
    return text[:300]


# -- after the run ------------------------------------------------------------------------
def tracebacks(log_text: str, app_dir: Path) -> tuple[int, int, str]:
    """(tracebacks with a frame in ``app_dir``, tracebacks only in libraries, a sample of the
    first kind) in a server's output."""
    own, library, sample = 0, 0, ""
    blocks = log_text.split(TRACEBACK)[1:]
    for block in blocks:
        frames = re.findall(r'^\s*File "([^"]+)"', block, re.MULTILINE)
        app = [f for f in frames if f.startswith(str(app_dir)) and "site-packages" not in f]
        handlers = [f for f in app if not f.endswith(MIDDLEWARE)]
        if handlers or (frames and frames[-1] in app):
            own += 1
            sample = sample or TRACEBACK + block[:2000]
        else:
            library += 1
    return own, library, sample


def server_still_serves(url: str, token: str, namespace: str, event: str, payload: dict) -> bool:
    """A well-behaved client still connects and gets its event acknowledged."""
    try:
        socket = RawSocket(url, token, [namespace])
    except (ConnectionError, OSError, websocket.WebSocketException):
        return False
    try:
        socket.send(f"42{namespace},1{json.dumps([event, payload])}")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for frame in socket.read(0.2):
                if str(frame).startswith(f"43{namespace},1") and '"ok":true' in str(frame):
                    return True
        return False
    finally:
        socket.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--token", required=True, help="a valid token, to reach the handlers")
    parser.add_argument("--namespaces", default="/chat,/notifications")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log", type=Path, help="the server's output, to count tracebacks in")
    parser.add_argument("--app-dir", type=Path, help="the app's folder (its own tracebacks)")
    args = parser.parse_args(argv)
    namespaces = args.namespaces.split(",")
    skip = args.log.stat().st_size if args.log else 0
    summary = Fuzzer(args.url, args.token, namespaces, args.seed).run(args.cases)
    summary.server_up = server_still_serves(
        args.url, args.token, "/chat", "get_history", {"limit": 1}
    )
    if args.log:
        with open(args.log, errors="replace") as log:
            log.seek(skip)
            app_dir = (args.app_dir or Path.cwd()).resolve()
            own, library, sample = tracebacks(log.read(), app_dir)
        summary.app_tracebacks, summary.library_tracebacks = own, library
        summary.app_traceback_sample = sample
    json.dump(summary.to_json(), sys.stdout, indent=2)
    print()
    return 0 if summary.server_up and not summary.app_tracebacks else 1


if __name__ == "__main__":
    sys.exit(main())
