"""Lesson 01 checks: events, emit/send, broadcast, acknowledgements, connect/disconnect."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

import requests

from .. import settings
from ..browser import expect_text, hold_websocket_until, page_sleep
from ..context import CheckContext
from ..failures import CheckFailed
from ..stages import Stack
from ..waiting import poll_until
from . import CheckSet

CHECKS = CheckSet("01")
Context = CheckContext[Stack]

CLOCK_TOLERANCE = 60.0  # seconds between the app's clock and ours that still count as "now"


NOTHING_RETURNED = (
    "the handler returned nothing (None): a handler's return value is the acknowledgement"
)


def _count(data):
    return data.get("count") if isinstance(data, dict) else None


@CHECKS.check(
    "1.1",
    "a new connection sends user_count to everyone",
    hint="In on_connect, add request.sid to connected_sids, then broadcast_user_count().",
)
def connect_announces_user_count(ctx: Context) -> None:
    first = ctx.client("client A").connect()
    counted = first.expect(
        "user_count",
        sent="client A connects",
        expected='"user_count" with {"count": <number of clients>}',
    )
    before = _count(counted)
    if not isinstance(before, int) or before < 1:
        raise CheckFailed(
            "user_count did not count client A",
            sent="client A connects",
            expected='{"count": N} with N >= 1',
            received=counted,
        )
    ctx.client("client B").connect()
    first.expect(
        "user_count",
        where=lambda d: _count(d) == before + 1,
        sent="client B connects while client A is connected",
        expected=f'client A receives "user_count" with {{"count": {before + 1}}}',
    )


@CHECKS.check(
    "1.1",
    "a disconnect sends the lower user_count to those left",
    hint="In on_disconnect, discard request.sid, then broadcast_user_count().",
)
def disconnect_announces_user_count(ctx: Context) -> None:
    stays = ctx.client("client A").connect()
    leaves = ctx.client("client B").connect()
    counted = stays.expect(
        "user_count",
        where=lambda d: isinstance(_count(d), int),
        sent="clients A and B connect",
        expected='"user_count" with {"count": N}',
    )
    stays.drain()
    with_both = _count(counted)
    leaves.disconnect()
    stays.expect(
        "user_count",
        where=lambda d: isinstance(_count(d), int) and _count(d) < max(with_both, 2),
        sent="client B disconnects",
        expected='client A receives a lower "user_count"',
    )


@CHECKS.check(
    "1.2",
    "a chat message reaches every client, the sender too",
    hint='emit("chat_message", message, broadcast=True) sends to every connected client.',
)
def chat_message_is_broadcast(ctx: Context) -> None:
    sender = ctx.client("client A").connect()
    other = ctx.client("client B").connect()
    payload = {"name": "ada", "text": "hello from the grader"}
    sent = f'client A emits "chat_message" with {payload}'
    ack = sender.call("chat_message", payload)
    if ack != {"ok": True}:
        raise CheckFailed(
            NOTHING_RETURNED if ack is None else "the chat_message acknowledgement is wrong",
            sent=sent,
            expected={"ok": True},
            received=ack,
        )

    def is_ours(data):
        return isinstance(data, dict) and data.get("text") == payload["text"]

    for probe in (other, sender):
        got = probe.expect(
            "chat_message",
            where=is_ours,
            sent=sent,
            expected=f'{probe.name} receives "chat_message" with name and text',
        )
        if got.get("name") != "ada":
            raise CheckFailed(
                "the broadcast message lost the sender's name",
                sent=sent,
                expected='"name": "ada"',
                received=got,
            )


@CHECKS.check(
    "1.2",
    "a broadcast chat message carries sent_at, the server time",
    hint='Add "sent_at": time.time() to the message dict before you emit it.',
)
def chat_message_has_timestamp(ctx: Context) -> None:
    sender = ctx.client("client A").connect()
    payload = {"name": "lin", "text": "what time is it?"}
    sent = f'client A emits "chat_message" with {payload}'
    sender.call("chat_message", payload)
    got = sender.expect(
        "chat_message",
        sent=sent,
        where=lambda d: isinstance(d, dict) and d.get("text") == payload["text"],
        expected='"chat_message" with a "sent_at" timestamp',
    )
    sent_at = got.get("sent_at")
    if not isinstance(sent_at, int | float) or abs(sent_at - time.time()) > CLOCK_TOLERANCE:
        raise CheckFailed(
            "sent_at is not the server's current time in seconds",
            sent=sent,
            expected=f'"sent_at" close to {time.time():.0f} (time.time())',
            received=got,
        )


@CHECKS.check(
    "1.3",
    "server_time is acknowledged with the server's clock",
    hint="A handler's return value is the acknowledgement: return a dict.",
)
def server_time_is_acknowledged(ctx: Context) -> None:
    probe = ctx.client().connect()
    ack = probe.call("server_time")
    value = ack.get("server_time") if isinstance(ack, dict) else None
    if not isinstance(value, int | float) or abs(value - time.time()) > CLOCK_TOLERANCE:
        raise CheckFailed(
            NOTHING_RETURNED
            if ack is None
            else "the acknowledgement does not carry the server's time",
            sent='"server_time" with an acknowledgement callback',
            expected=f'{{"server_time": {time.time():.0f}.…}} (time.time())',
            received=ack,
        )


@CHECKS.check(
    "1.4",
    "send() echoes to the sender and to nobody else",
    hint='send(f"echo: {text}") answers the client that sent the message; it does not broadcast.',
)
def send_echoes_to_sender_only(ctx: Context) -> None:
    sender = ctx.client("client A").connect()
    other = ctx.client("client B").connect()
    sent = 'client A calls send("ping-42") (the unnamed "message" event)'
    sender.send("ping-42")
    sender.expect(
        "message",
        where=lambda d: d == "echo: ping-42",
        sent=sent,
        expected='client A receives "message" with "echo: ping-42"',
    )
    other.expect_nothing("message", sent=sent, why="client B receives no echo (not a broadcast)")


@CHECKS.check(
    "1.5",
    "the page shows connected over websocket",
    browser=True,
    hint='In static/app.js, on "connect" write the status and '
    'socket.io.engine.transport.name; listen for the engine\'s "upgrade".',
)
def page_shows_status_and_transport(ctx: Context) -> None:
    page = ctx.browser().new_page()
    hold_websocket_until(page, "#status", "connected")
    page.goto(ctx.url + "/")
    opened = f"open {ctx.url}/ in Chromium"
    expect_text(page, "#status", "connected", sent=opened)
    expect_text(
        page,
        "#transport",
        "websocket",
        sent=f"{opened}; the upgrade to websocket is let through once #status reads connected",
    )


@CHECKS.check(
    "1.5",
    "the page shows the user count, chat messages and the echo",
    browser=True,
    hint='The page listens for the events the server emits, by their exact names ("user_count", '
    '"chat_message", "message"), and writes the values they carry, not the objects.',
)
def page_shows_messages_and_user_count(ctx: Context) -> None:
    page = ctx.browser().new_page()
    page.goto(ctx.url + "/")
    opened = f"open {ctx.url}/ in Chromium"
    shown: list = [None]

    def count_is_a_number() -> bool:
        shown[0] = page.locator("#user-count").text_content(timeout=1000)
        return bool(shown[0] and shown[0].strip().isdigit() and int(shown[0]) >= 1)

    if not poll_until(count_is_a_number, settings.BROWSER_TIMEOUT, sleep=page_sleep(page)):
        raise CheckFailed(
            "the page does not show the user count as a number",
            sent=f'{opened}; the server broadcasts "user_count" with {{"count": N}}',
            expected="#user-count to read a whole number such as 1",
            received=f"#user-count reads {shown[0]!r}",
            hint='socket.on("user_count", ({ count }) => ...): write the count, not the object.',
        )
    text = f"hello page {uuid.uuid4().hex[:6]}"
    other = ctx.client("client B").connect()
    sent = f'{opened}; then client B emits "chat_message" with {{"name": "bo", "text": "{text}"}}'
    other.call("chat_message", {"name": "bo", "text": text})

    def shows_message() -> bool:
        shown[0] = page.locator("#messages").text_content(timeout=1000)
        return text in (shown[0] or "")

    if not poll_until(shows_message, settings.BROWSER_TIMEOUT, sleep=page_sleep(page)):
        raise CheckFailed(
            "the page did not show a broadcast chat message in #messages",
            sent=sent,
            expected=f'#messages to list {text!r}: the page listens for "chat_message"',
            received=f"#messages reads {shown[0]!r}",
            hint='socket.on("chat_message", ...) must name the event the server emits, exactly.',
        )
    page.click("#echo-button")
    expect_text(page, "#echo", "echo: hello", sent=f'{opened}; click "send() an echo"')


# -- 1.6 bug hunt: the stage is handed out with one defect (course/bugs/01_basics.patch) -----
@CHECKS.check(
    "1.6",
    "the chat opened at http://localhost:PORT connects, as at http://127.0.0.1:PORT",
    hint="Open the chat at http://localhost:PORT and read why its socket.io request is refused: "
    "the browser's network panel (Response tab), or troubleshooting/run_logged.py's log (README, "
    '"When it doesn\'t work", "The three common 400s").',
)
def page_at_localhost_connects(ctx: Context) -> None:
    port = urlsplit(ctx.url).port
    page = f"http://localhost:{port}"
    handshake = f"{ctx.url}/socket.io/?EIO=4&transport=polling"
    # What the browser sends for the page at localhost (the server is the same one).
    headers = {"Host": f"localhost:{port}", "Origin": page}
    answered = requests.get(handshake, headers=headers, timeout=5)
    if answered.status_code != 200:
        raise CheckFailed(
            f"a user who opens the chat at {page}/ never gets connected",
            sent=f"the page's Engine.IO handshake: GET {handshake} with Origin: {page}",
            expected="HTTP 200 and a session id, as the same page gets at 127.0.0.1",
            received=f"HTTP {answered.status_code}",
        )
