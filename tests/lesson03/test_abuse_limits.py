"""Lesson 03's bounds on one client, against the real app, Redis and worker: per-connection rate
limits answer with an error, and the polling endpoint answers what python-engineio alone would
leave hanging (tools/engineio_post_hang.py), with a one-line log instead of a traceback."""

import json
import time

import pytest
import requests

from autograder.client import Probe
from autograder.harness import Harness
from autograder.paths import SOLUTIONS
from autograder.stages import lesson03, start_stack
from autograder.stages.common import CHAT, REPORTS, TOKENS

STAGE = SOLUTIONS / "03_celery_rooms"
CHAT_BURST, REPORT_BURST = 10, 3  # config.RATE_LIMITS of the stage
MAX_BODY = 64 * 1024  # config.MAX_HTTP_BUFFER_SIZE
POLLING = "/socket.io/?EIO=4&transport=polling"


@pytest.fixture(scope="module")
def app():
    with Harness() as harness:
        yield start_stack(harness, lesson03.start, STAGE)


def flood(probe: Probe, event: str, namespace: str, payloads: list) -> list:
    """Emit every payload at once, then the acknowledgements in the order sent."""
    acks: dict[int, dict] = {}
    for number, payload in enumerate(payloads):
        probe.sio.emit(
            event, payload, namespace=namespace, callback=lambda a, n=number: acks.update({n: a})
        )
    deadline = time.monotonic() + 10
    while len(acks) < len(payloads) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [acks.get(n) for n in range(len(payloads))]


def test_a_chat_flood_is_told_to_wait_and_the_connection_stays(app):
    alice = Probe(app.url, namespaces=[CHAT], auth={"token": TOKENS["alice"]}).connect()
    acks = flood(alice, "send_message", CHAT, [{"text": f"flood {n}"} for n in range(30)])
    assert all(ack["ok"] for ack in acks[:CHAT_BURST]), acks
    refused = [ack for ack in acks if not ack["ok"]]
    assert len(refused) >= 10, acks  # 30 in well under a second: 10, and about 2 a second
    assert "too many send_message" in refused[0]["error"], refused[0]
    shown = alice.expect("error", namespace=CHAT, where=lambda e: e["event"] == "send_message")
    assert "try again in" in shown["error"]  # the page shows this ("error" event)
    time.sleep(1.0)  # 2 a second come back
    assert alice.call("send_message", {"text": "later"}, namespace=CHAT)["ok"] is True
    alice.disconnect()


def test_report_starts_are_limited_per_connection(app):
    bob = Probe(app.url, namespaces=[REPORTS], auth={"token": TOKENS["bob"]}).connect()
    acks = flood(
        bob, "start_report", REPORTS, [{"title": f"r{n}"} for n in range(REPORT_BURST + 1)]
    )
    assert all(ack["ok"] for ack in acks[:REPORT_BURST]), acks
    assert acks[-1]["ok"] is False and "too many start_report" in acks[-1]["error"], acks[-1]
    other = Probe(app.url, namespaces=[REPORTS], auth={"token": TOKENS["bob"]}).connect()
    assert other.call("start_report", {"title": "mine"}, namespace=REPORTS)["ok"] is True
    bob.disconnect()
    other.disconnect()


def open_session(url: str) -> str:
    answer = requests.get(url + POLLING, timeout=5)
    return json.loads(answer.text[1:])["sid"]


@pytest.mark.parametrize(
    "body, status",
    [
        ("6", 400),  # noop
        ("2", 400),  # ping: only the server pings in Engine.IO 4
        ("0", 400),  # open
        ("9oops", 400),
        ("3\x1e2", 400),  # one bad packet in a batch
        ("4" + "x" * (MAX_BODY + 1), 413),
    ],
    ids=["noop", "ping", "open", "unknown", "batch", "too-long"],
)
def test_packets_no_client_sends_are_answered_at_once(app, body, status):
    sid = open_session(app.url)
    started = time.monotonic()
    answer = requests.post(f"{app.url}{POLLING}&sid={sid}", data=body, timeout=5)
    assert answer.status_code == status, answer.text
    assert time.monotonic() - started < 1.0
    # The session was not closed by it: the next (well-formed) request is served, not a 500.
    assert requests.post(f"{app.url}{POLLING}&sid={sid}", data="1", timeout=5).status_code == 200


def test_library_decode_errors_are_one_line_each_with_a_count(app):
    sid = open_session(app.url)
    for _ in range(3):
        requests.post(f"{app.url}{POLLING}&sid={sid}", data="4not-json", timeout=5)
    log = app.app.log_path.read_text(errors="replace")
    assert "Traceback" not in log
    counted = [line for line in log.splitlines() if "client input: ValueError" in line]
    assert len(counted) >= 3 and "so far)" in counted[-1], log[-2000:]
