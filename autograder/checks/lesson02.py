"""Lesson 02 checks: namespaces, connect-time auth, CORS, DB session cleanup, bad input."""

from __future__ import annotations

import time
import uuid

import requests
import socketio

from .. import settings
from ..broken_variants import VARIANTS
from ..browser import expect_text, page_sleep
from ..client import close_without_waiting, try_connect
from ..context import CheckContext
from ..failures import CheckFailed
from ..other_origin import other_origin
from ..stages import Stack
from ..stages.common import CHAT, NOTIFICATIONS, TOKENS
from ..stages.lesson02 import start
from ..student_tests import TIME_SCALE, expect_passes_on_reference, variant_check
from ..waiting import poll_until
from . import CheckSet

CHECKS = CheckSet("02")
Context = CheckContext[Stack]

POOL_CYCLES = 200
POOL_TIMEOUT = 1.0  # seconds a connect may wait for a pooled DB connection in the pool check
# How long a pool-check disconnect waits for the close frame Werkzeug never sends. Not 0: with
# no timeout at all the websocket client skips its shutdown(), and its reader thread sleeps on.
CLOSE_WAIT = 0.001
QUEUEPOOL_ERROR = "QueuePool limit of size 5 overflow 10 reached"
DISALLOWED_ORIGIN = "http://evil.example"
# What python-socketio answers for a bare ConnectionRefusedError() or a connect handler that
# returns False: the library's words, not the server's reason.
LIBRARY_REFUSALS = ("connection rejected by server", "connection refused by server")
INTERNAL_ERROR = "internal server error"


# -- helpers ----------------------------------------------------------------
def attempt_connect(url: str, auth=None, namespaces=(CHAT,), headers=None, transport="websocket"):
    return try_connect(url, auth, namespaces, headers, transport)


def chat_client(ctx, user: str, namespaces=(CHAT,)):
    """A connected Probe for ``user``; a refusal shows the reason the server gave."""
    probe = ctx.client(user, namespaces=list(namespaces), auth={"token": TOKENS[user]})
    reasons: list = []

    def on_refused(namespace, data=None):
        reasons.append(f"{namespace}: {data.get('message') if isinstance(data, dict) else data}")

    # Under the "*" namespace, so the Probe's catch-all keeps receiving every other event.
    probe.sio.on("connect_error", on_refused, namespace="*")
    try:
        return probe.connect()
    except CheckFailed as failure:
        if reasons:
            failure.received = "refused: " + "; ".join(reasons)
        raise


def good_token_must_connect(url: str, sent: str) -> None:
    accepted, refusal = attempt_connect(url, auth={"token": TOKENS["alice"]})
    if not accepted:
        raise CheckFailed(
            "a valid token was refused, so this refusal proves nothing",
            sent=f'{sent}; then connect to /chat with auth={{"token": "{TOKENS["alice"]}"}}',
            expected="the valid token to be accepted (refusing everyone is not authentication)",
            received=f"refused: {refusal}",
        )


def expect_refusal(url: str, auth, what: str) -> None:
    sent = f"connect to /chat with auth={auth!r} ({what})"
    accepted, refusal = attempt_connect(url, auth=auth)
    if accepted:
        raise CheckFailed(
            f"a connection with {what} was accepted",
            sent=sent,
            expected="ConnectionRefusedError with a message",
            received="the connection was accepted",
        )
    if not refusal or "not implemented" in str(refusal).lower():
        raise CheckFailed(
            f"{what} was refused without a message that says why",
            sent=sent,
            expected='a refusal whose message says what is wrong, e.g. "invalid token"',
            received=f"refused with {refusal!r}",
        )
    if any(default in str(refusal).lower() for default in LIBRARY_REFUSALS):
        raise CheckFailed(
            f"{what} was refused with the library's default text, not the server's reason",
            sent=sent,
            expected="ConnectionRefusedError with your own message that says what is wrong, "
            'e.g. ConnectionRefusedError("invalid token")',
            received=f"refused with {refusal!r}: that is what python-socketio says for a bare "
            "ConnectionRefusedError() or a connect handler that returns False",
        )
    if INTERNAL_ERROR in str(refusal).lower():
        raise CheckFailed(
            f"{what} was refused by a crash (internal server error), not by your check",
            sent=sent,
            expected="ConnectionRefusedError with a message, raised by auth.user_for itself",
            received=f"refused with {refusal!r}: the connect handler raised another exception; "
            "the app's log shows its traceback",
        )
    good_token_must_connect(url, sent)


def _ack_ok(ack) -> bool:
    return isinstance(ack, dict) and ack.get("ok") is True


# -- 2.1 authentication and CORS --------------------------------------------
@CHECKS.check(
    "2.1",
    "no token is refused with a message; a valid token is accepted",
    hint="In auth.user_for, raise ConnectionRefusedError('...') when auth has no token.",
)
def missing_token_is_refused(ctx: Context) -> None:
    expect_refusal(ctx.url, None, "no auth at all")
    expect_refusal(ctx.url, {}, "an empty auth dict")


@CHECKS.check(
    "2.1",
    "a wrong token is refused with a message; a valid one is accepted",
    hint="Compare the token with the CHAT_TOKENS config (hmac.compare_digest) and refuse "
    "an unknown one with ConnectionRefusedError.",
)
def wrong_token_is_refused(ctx: Context) -> None:
    expect_refusal(ctx.url, {"token": "not-a-real-token"}, "an unknown token")
    expect_refusal(ctx.url, {"token": 12345}, "a token that is not a string")


@CHECKS.check(
    "2.1",
    "a disallowed Origin gets HTTP 400; an allowed one connects",
    hint="CORS is checked before any handler runs: socketio.init_app(..., "
    'cors_allowed_origins=app.config["CORS_ALLOWED_ORIGINS"]) in factory.create_app.',
)
def only_allowed_origins_connect(ctx: Context) -> None:
    handshake = f"{ctx.url}/socket.io/?EIO=4&transport=polling"
    refused = requests.get(handshake, headers={"Origin": DISALLOWED_ORIGIN}, timeout=5)
    if refused.status_code != 400:
        raise CheckFailed(
            "a page from another site was allowed to open a Socket.IO connection",
            sent=f"GET {handshake} with Origin: {DISALLOWED_ORIGIN}",
            expected="HTTP 400 (not an accepted origin)",
            received=f"HTTP {refused.status_code}: {refused.text[:120]!r}",
        )
    allowed = ctx.url  # the app's own page
    answered = requests.get(handshake, headers={"Origin": allowed}, timeout=5)
    if answered.status_code != 200:
        raise CheckFailed(
            "the app's own page was not allowed to connect",
            sent=f"GET {handshake} with Origin: {allowed}",
            expected="HTTP 200: the app's own origin is in CORS_ALLOWED_ORIGINS",
            received=f"HTTP {answered.status_code}: {answered.text[:120]!r}",
        )
    # Over polling: the websocket client sends an Origin header of its own.
    accepted, refusal = attempt_connect(
        ctx.url, auth={"token": TOKENS["alice"]}, headers={"Origin": allowed}, transport="polling"
    )
    if not accepted:
        raise CheckFailed(
            "a valid token from an allowed origin could not connect",
            sent=f"connect to /chat over polling with Origin: {allowed} and a valid token",
            expected="the connection to be accepted",
            received=f"refused: {refusal}",
        )


# -- 2.2 DB session cleanup ---------------------------------------------------
def _pool_error_in(stack: Stack) -> str | None:
    for line in stack.app.log_tail(400).splitlines():
        if "QueuePool limit" in line:
            return line.strip()
    return None


@CHECKS.check(
    "2.2",
    f"{POOL_CYCLES} connect/disconnect cycles do not exhaust the DB pool",
    time_scale=3.0,
    hint="At the end of BaseSocket.on_disconnect call db.session.remove(): this connection's "
    "session ends there, and its pooled DB connection goes back.",
    own_processes=True,
)
def disconnects_return_db_connections(ctx: Context) -> None:
    # Its own app, so a leak here cannot starve the other checks of DB connections.
    own = start(ctx.side_processes(), ctx.stage_dir, pool_timeout=POOL_TIMEOUT)
    # One after another, without waiting for the close frame Werkzeug never sends: the server
    # handles the DISCONNECT packet whatever the client does next. A leaking app keeps one
    # pooled connection more after each disconnect, so with 15 in the pool the 16th connect
    # waits POOL_TIMEOUT for one and is refused.
    for cycle in range(1, POOL_CYCLES + 1):
        client = socketio.Client(reconnection=False)
        refusals: list = []
        client.on(
            "connect_error",
            lambda data=None, c=client, r=refusals: (
                r.append(data),
                close_without_waiting(c, CLOSE_WAIT),
            ),
            namespace=CHAT,
        )
        try:
            client.connect(
                own.url,
                namespaces=[CHAT],
                auth={"token": TOKENS["alice"]},
                transports=["websocket"],
                wait_timeout=POOL_TIMEOUT + settings.EVENT_TIMEOUT,
            )
        except socketio.exceptions.ConnectionError as error:
            refusal = refusals[0].get("message") if refusals else str(error)
            logged = _pool_error_in(own)
            raise CheckFailed(
                f"connection {cycle} of {POOL_CYCLES} was refused",
                sent=f"{POOL_CYCLES} connect/disconnect cycles on /chat, one after another "
                f"(pool_size=5, max_overflow=10, pool_timeout={POOL_TIMEOUT:g} s)",
                expected="every cycle to connect: each disconnect returns its DB connection",
                received=f"refused: {refusal!r}; the app's log says: "
                + (logged or "(no QueuePool error)\n" + own.app.log_tail()),
            ) from error
        close_without_waiting(client, CLOSE_WAIT)
        client.disconnect()
    logged = _pool_error_in(own)
    if logged:
        raise CheckFailed(
            "the DB pool ran out while clients connected and disconnected",
            sent=f"{POOL_CYCLES} connect/disconnect cycles on /chat",
            expected="no pool errors: each disconnect returns its DB connection",
            received=logged,
        )


# -- 2.3 send_message -----------------------------------------------------------
@CHECKS.check(
    "2.3",
    "send_message is stored, acknowledged and broadcast on /chat with its sender",
    hint="In ChatNamespace.on_send_message: db.session.add(Message(...)), commit, "
    'self.emit("message", message.to_dict()), return {"ok": True, "id": message.id}. '
    "Take the user from the socket session (self.current_user()), never from self.",
)
def send_message_is_broadcast(ctx: Context) -> None:
    alice = chat_client(ctx, "alice")
    bob = chat_client(ctx, "bob")  # connects after alice: state on self would now say bob
    text = f"hello from the grader {uuid.uuid4().hex[:6]}"
    sent = f'alice emits "send_message" on /chat with {{"text": "{text}"}}'
    ack = alice.call("send_message", {"text": text}, namespace=CHAT)
    if not _ack_ok(ack) or not isinstance(ack.get("id"), int):
        raise CheckFailed(
            "send_message was not acknowledged with the stored message's id",
            sent=sent,
            expected='{"ok": True, "id": <int>}',
            received=ack,
        )
    for probe in (alice, bob):
        got = probe.expect(
            "message",
            namespace=CHAT,
            where=lambda d: isinstance(d, dict) and d.get("text") == text,
            sent=sent,
            expected=f'{probe.name} receives "message" on /chat with the text',
        )
        if got.get("user") != "alice" or got.get("id") != ack["id"]:
            raise CheckFailed(
                "the broadcast message has the wrong user or id",
                sent=sent + " (bob connected after alice)",
                expected={"user": "alice", "id": ack["id"], "text": text},
                received=got,
                hint="Keep per-client state in the socket session: one namespace object "
                "serves every client, so anything stored on self belongs to the last one.",
            )


# -- 2.4 history ------------------------------------------------------------------
@CHECKS.check(
    "2.4",
    "a client that joins late gets the history, oldest first, limited",
    hint="In ChatNamespace.on_get_history select the newest `limit` messages "
    "(order_by(Message.id.desc()).limit(limit)), then reverse them.",
)
def late_joiner_gets_history(ctx: Context) -> None:
    alice = chat_client(ctx, "alice")
    tag = uuid.uuid4().hex[:6]
    texts = [f"first {tag}", f"second {tag}"]
    for text in texts:
        ack = alice.call("send_message", {"text": text}, namespace=CHAT)
        if not _ack_ok(ack):
            raise CheckFailed(
                "could not post the messages the history should hold",
                sent=f'"send_message" with {{"text": "{text}"}}',
                expected={"ok": True, "id": "<int>"},
                received=ack,
            )
    carol = chat_client(ctx, "carol")
    sent = 'carol joins /chat later and emits "get_history" with an acknowledgement'
    ack = carol.call("get_history", namespace=CHAT)
    messages = ack.get("messages") if isinstance(ack, dict) else None
    if not _ack_ok(ack) or not isinstance(messages, list):
        raise CheckFailed(
            "get_history did not answer with a list of messages",
            sent=sent,
            expected='{"ok": True, "messages": [...]}',
            received=ack,
        )
    shown = [m.get("text") for m in messages if isinstance(m, dict)]
    if shown[-2:] != texts or any(m.get("user") != "alice" for m in messages[-2:]):
        raise CheckFailed(
            "the history does not end with alice's two messages, oldest first",
            sent=sent,
            expected=f"the last two texts {texts}, user 'alice'",
            received=messages[-4:],
        )
    limited = carol.call("get_history", {"limit": 1}, namespace=CHAT)
    only = limited.get("messages") if isinstance(limited, dict) else None
    if not isinstance(only, list) or [m.get("text") for m in only] != texts[-1:]:
        raise CheckFailed(
            "get_history ignored the limit",
            sent='"get_history" with {"limit": 1}',
            expected=f'{{"ok": True, "messages": [the newest, "{texts[-1]}"]}}',
            received=limited,
        )


# -- 2.5 bad input ------------------------------------------------------------------
MALFORMED = [
    ("a plain string", "just text"),
    ("a list", ["text", "hi"]),
    ("no payload", None),
    ("a missing text", {"message": "hi"}),
    ("a text that is not a string", {"text": 42}),
    ("an empty text", {"text": "   "}),
    ("a text that is too long", {"text": "x" * 501}),
]


@CHECKS.check(
    "2.5",
    "malformed payloads get an error reply while others are served",
    hint='In validation.chat_text raise BadPayload("...") for each malformed case; '
    "reply_with_error turns it into {'ok': False, 'error': ...}.",
)
def malformed_payloads_get_errors(ctx: Context) -> None:
    alice = chat_client(ctx, "alice")
    bob = chat_client(ctx, "bob")
    for what, payload in MALFORMED:
        sent = f'alice emits "send_message" with {payload!r:.60} ({what})'
        ack = alice.call("send_message", payload, namespace=CHAT)
        error = ack.get("error") if isinstance(ack, dict) else None
        if ack is None or ack.get("ok") is not False or not isinstance(error, str) or not error:
            raise CheckFailed(
                f"{what} was not answered with an error",
                sent=sent,
                expected='{"ok": False, "error": "<what was wrong>"}',
                received=ack,
            )
        if "not implemented" in error.lower():
            raise CheckFailed(
                f"{what} was answered, but not by your validation",
                sent=sent,
                expected="an error that says what was wrong with the payload",
                received=ack,
            )
        if INTERNAL_ERROR in error.lower():
            raise CheckFailed(
                f"{what} crashed the handler: a generic internal server error, "
                "not your validation's message",
                sent=sent,
                expected="BadPayload raised by validation.chat_text, with a message that says "
                "what was wrong with the payload",
                received=f"{ack} (the handler raised something else: the app's log shows "
                "the traceback)",
            )
        # Meanwhile another client is still served, promptly.
        started = time.monotonic()
        text = f"bob still served {uuid.uuid4().hex[:6]}"
        served = bob.call("send_message", {"text": text}, namespace=CHAT)
        if not _ack_ok(served):
            raise CheckFailed(
                "another client was not served after a malformed payload",
                sent=f"{sent}; then bob sends a valid message",
                expected='bob gets {"ok": True, "id": ...}',
                received=served,
            )
        alice.expect(
            "message",
            namespace=CHAT,
            where=lambda d, t=text: isinstance(d, dict) and d.get("text") == t,
            sent=f"{sent}; then bob sends a valid message",
            expected="alice still receives bob's message",
        )
        if time.monotonic() - started > settings.EVENT_TIMEOUT:
            raise CheckFailed(
                "serving another client stalled after a malformed payload",
                sent=sent,
                expected=f"bob answered within {settings.EVENT_TIMEOUT:g} s",
                received=f"{time.monotonic() - started:.1f} s",
            )
    ack = alice.call("send_message", {"text": "still here"}, namespace=CHAT)
    if not _ack_ok(ack):
        raise CheckFailed(
            "after its malformed payloads, a valid message from the same client failed",
            sent='alice emits "send_message" with {"text": "still here"}',
            expected={"ok": True, "id": "<int>"},
            received=ack,
        )
    bad_limit = alice.call("get_history", {"limit": "all"}, namespace=CHAT)
    if not isinstance(bad_limit, dict) or bad_limit.get("ok") is not False:
        raise CheckFailed(
            "get_history accepted a limit that is not a number",
            sent='"get_history" with {"limit": "all"}',
            expected='{"ok": False, "error": ...}',
            received=bad_limit,
        )


# -- 2.6 multiplexing ----------------------------------------------------------------
@CHECKS.check(
    "2.6",
    "/chat and /notifications share one connection; joins and leaves are announced",
    hint='In ChatNamespace.left emit "notice" with namespace=self.notifications, like joined().',
)
def namespaces_share_one_connection(ctx: Context) -> None:
    alice = chat_client(ctx, "alice", namespaces=(CHAT, NOTIFICATIONS))
    connected = sorted(alice.sio.namespaces)
    if connected != sorted([CHAT, NOTIFICATIONS]):
        raise CheckFailed(
            "the client is not connected to both namespaces",
            sent="one python-socketio client connects to /chat and /notifications",
            expected=[CHAT, NOTIFICATIONS],
            received=connected,
        )
    engine_sid = alice.sio.eio.sid
    welcome = alice.expect(
        "welcome",
        namespace=NOTIFICATIONS,
        sent="alice connects to /chat and /notifications over one connection",
        expected='"welcome" on /notifications with the namespace and user',
    )
    if welcome.get("namespace") != NOTIFICATIONS or welcome.get("user") != "alice":
        raise CheckFailed(
            "the welcome does not come from /notifications for alice",
            sent="alice connects",
            expected={"namespace": NOTIFICATIONS, "user": "alice"},
            received=welcome,
        )
    bob = chat_client(ctx, "bob")
    sent = "bob joins /chat, then leaves it"
    alice.expect(
        "notice",
        namespace=NOTIFICATIONS,
        where=lambda d: isinstance(d, dict) and d.get("user") == "bob" and "joined" in d["text"],
        sent=sent,
        expected='"notice" on /notifications: "bob joined the chat"',
    )
    bob.disconnect()
    left = alice.expect(
        "notice",
        namespace=NOTIFICATIONS,
        where=lambda d: isinstance(d, dict) and d.get("user") == "bob" and "left" in d["text"],
        sent=sent,
        expected='"notice" on /notifications: "bob left the chat" with "online"',
    )
    if not isinstance(left.get("online"), int):
        raise CheckFailed(
            "the leave notice has no online count",
            sent=sent,
            expected='{"text": "bob left the chat", "user": "bob", "online": <int>}',
            received=left,
        )
    if alice.sio.eio.sid != engine_sid:
        raise CheckFailed(
            "the connection was replaced while the notices arrived",
            sent=sent,
            expected=f"one Engine.IO session {engine_sid} throughout",
            received=alice.sio.eio.sid,
        )


# -- 2.7 the browser --------------------------------------------------------------------
@CHECKS.check(
    "2.7",
    "the page shows a refusal's reason, then the history after signing in",
    browser=True,
    hint='In static/app.js: on chat "connect" emitWithAck("get_history") and show the '
    'messages; on "connect_error" write err.message into #error.',
)
def page_shows_history_and_refusals(ctx: Context) -> None:
    earlier = f"posted before you came {uuid.uuid4().hex[:6]}"
    poster = chat_client(ctx, "bob")
    poster.call("send_message", {"text": earlier}, namespace=CHAT)

    page = ctx.browser().new_page()
    page.goto(ctx.url + "/")
    page.fill("#token", "wrong-token")
    page.click("#login-form button")
    sent = 'sign in with the token "wrong-token"'
    expect_text(page, "#status", "refused", sent=sent)
    expect_text(page, "#error", "invalid token", sent=sent)

    page.fill("#token", TOKENS["alice"])
    page.click("#login-form button")
    sent = f'sign in with "{TOKENS["alice"]}" after bob posted {earlier!r}'
    expect_text(page, "#status", "connected", sent=sent)
    last = page.locator("#messages li").last

    def shows_earlier() -> bool:
        return earlier in (last.text_content(timeout=1000) or "")

    if poll_until(shows_earlier, settings.BROWSER_TIMEOUT, sleep=page_sleep(page)):
        return
    raise CheckFailed(
        "the page did not show the history after signing in",
        sent=sent,
        expected=f"#messages ends with bob's {earlier!r}",
        received=page.locator("#messages li").all_text_contents()[-3:] or "#messages is empty",
    )


def _read(page, selector: str) -> str | None:
    return page.locator(selector).first.text_content(timeout=1000)


@CHECKS.check(
    "2.7",
    "the page shows who signed in, live messages, notices and the online count",
    browser=True,
    hint='The page listens on the right namespace for the events the server emits ("message" '
    'on /chat; "welcome" and "notice" on /notifications) and writes the values they carry '
    "(notice.online is a number), never a whole object.",
)
def page_shows_live_messages_and_notices(ctx: Context) -> None:
    page = ctx.browser().new_page()
    page.goto(ctx.url + "/")
    page.fill("#token", TOKENS["alice"])
    page.click("#login-form button")
    sent = f'sign in with "{TOKENS["alice"]}"'
    expect_text(page, "#user", "alice", sent=sent + ' (/notifications sends "welcome")')
    bob = chat_client(ctx, "bob", namespaces=(CHAT, NOTIFICATIONS))
    sent += "; then bob joins /chat and /notifications"
    shown: dict = {}

    def bob_is_announced() -> bool:
        shown["notices"], shown["online"] = _read(page, "#notices"), _read(page, "#online")
        online = (shown["online"] or "").strip()
        return "bob joined" in (shown["notices"] or "") and online.isdigit()

    if not poll_until(bob_is_announced, settings.BROWSER_TIMEOUT, sleep=page_sleep(page)):
        raise CheckFailed(
            "the page did not show bob's join notice and the online count as a number",
            sent=sent,
            expected='#notices lists "bob joined the chat"; #online reads a whole number',
            received=f"#notices reads {shown.get('notices')!r}; #online reads "
            f"{shown.get('online')!r}",
        )
    text = f"live from bob {uuid.uuid4().hex[:6]}"
    bob.call("send_message", {"text": text}, namespace=CHAT)
    sent += f'; then bob emits "send_message" with {{"text": "{text}"}}'

    def shows_message() -> bool:
        shown["messages"] = _read(page, "#messages")
        return text in (shown["messages"] or "")

    if not poll_until(shows_message, settings.BROWSER_TIMEOUT, sleep=page_sleep(page)):
        raise CheckFailed(
            "the page did not show a message broadcast on /chat while signed in",
            sent=sent,
            expected=f'#messages lists {text!r}: the page listens for "message" on /chat',
            received=f"#messages reads {shown.get('messages')!r}",
        )


# -- 2.8 cookie sessions ----------------------------------------------------------------------
COOKIE_HINT = (
    "In accounts.load_user return User(user_id) while CHAT_TOKENS still lists the user (else "
    "None); in accounts.logout disconnect every (sid, namespace) of the user's Presence rows "
    "with socketio.server.disconnect(sid, namespace=...), after a commit."
)


def sign_in_over_http(url: str, user: str) -> requests.Session:
    """A requests session holding the cookie POST /login set for ``user``."""
    browser = requests.Session()
    sent = f'POST {url}/login with {{"token": "{TOKENS[user]}"}}'
    answer = browser.post(f"{url}/login", json={"token": TOKENS[user]}, timeout=5)
    if answer.status_code != 200 or not browser.cookies:
        raise CheckFailed(
            "signing in over HTTP did not set a session cookie",
            sent=sent,
            expected='HTTP 200 {"ok": true, "user": ...} and a Set-Cookie: session=...',
            received=f"HTTP {answer.status_code}: {answer.text[:160]!r}; cookies: "
            f"{sorted(browser.cookies.keys())}",
        )
    return browser


def cookie_header(browser: requests.Session) -> str:
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.cookies)


@CHECKS.check(
    "2.8",
    "a signed-in session cookie opens sockets with no token, and /logout ends them",
    hint=COOKIE_HINT,
)
def cookie_opens_sockets_logout_ends_them(ctx: Context) -> None:
    browser = sign_in_over_http(ctx.url, "carol")
    sent = "POST /login as carol, then connect to /chat and /notifications with her cookie, no auth"
    probe = ctx.client(
        "carol's page", namespaces=[CHAT, NOTIFICATIONS], headers={"Cookie": cookie_header(browser)}
    )
    try:
        probe.connect()
    except CheckFailed as failure:
        failure.summary = "a socket with the session cookie and no token was refused"
        failure.sent = sent
        raise
    welcome = probe.expect(
        "welcome", namespace=NOTIFICATIONS, sent=sent, expected='"welcome" for carol'
    )
    if welcome.get("user") != "carol":
        raise CheckFailed(
            "the cookie signed the socket in as someone else",
            sent=sent,
            expected={"user": "carol"},
            received=welcome,
        )
    sent += "; then POST /logout with the cookie"
    answer = browser.post(f"{ctx.url}/logout", timeout=5)
    if answer.status_code != 200:
        raise CheckFailed(
            "/logout failed",
            sent=sent,
            expected="HTTP 200",
            received=f"HTTP {answer.status_code}: {answer.text[:160]!r}",
        )
    if not poll_until(lambda: not probe.sio.namespaces, settings.EVENT_TIMEOUT):
        raise CheckFailed(
            "after /logout her sockets were still connected",
            sent=sent,
            expected="the server disconnects carol's sockets on every namespace: each keeps "
            "its own copy of the session from its handshake, still signed in",
            received=f"still connected to {sorted(probe.sio.namespaces)} after "
            f"{settings.EVENT_TIMEOUT:g} s",
        )
    accepted, _ = attempt_connect(ctx.url, headers={"Cookie": cookie_header(browser)})
    if accepted:
        raise CheckFailed(
            "the cookie /logout sent back still opens a socket",
            sent=sent + "; then connect to /chat with the cookie /logout set",
            expected="refused: that cookie names no user",
            received="the connection was accepted",
        )


# In the app's own page: sign in, then open a socket with no token (resolves with the outcome).
SIGN_IN_JS = """async (token) => {
  const answer = await fetch("/login", {method: "POST", headers: {"Content-Type":
    "application/json"}, body: JSON.stringify({token})});
  return answer.status;
}"""
OPEN_SOCKET_JS = """async (waitMs) => {
  const { Manager } = await import("/vendor/socket.io.esm.min.js");
  return await new Promise((resolve) => {
    const manager = new Manager({ transports: ["websocket"], reconnection: false });
    const notifications = manager.socket("/notifications");
    notifications.on("welcome", ({ user }) => resolve(`connected as ${user}`));
    notifications.on("connect_error", (err) => resolve(`refused: ${err.message}`));
    setTimeout(() => resolve("no answer"), waitMs);
  });
}"""
HIJACK = "cross-site WebSocket hijacking"
ORIGIN_HINT = (
    "The Origin check is the defence: a browser sends the cookie to every port of its host "
    "(and a Domain cookie to every subdomain), whichever page opens the socket. Keep "
    'socketio.init_app(..., cors_allowed_origins=app.config["CORS_ALLOWED_ORIGINS"]) an explicit '
    'list of your own origins: never "*", and never [] (which turns the check off).'
)


@CHECKS.check(
    "2.8",
    "a page on another origin, carrying the user's cookie, cannot open a socket",
    browser=True,
    hint=COOKIE_HINT + " The Origin check refuses the other page: socketio.init_app(..., "
    'cors_allowed_origins=app.config["CORS_ALLOWED_ORIGINS"]), an explicit list.',
)
def another_origin_cannot_use_the_cookie(ctx: Context) -> None:
    browser = ctx.browser().new_context()  # one cookie jar for both pages
    page = browser.new_page()
    page.goto(ctx.url + "/")
    status = page.evaluate(SIGN_IN_JS, TOKENS["alice"])
    own = page.evaluate(OPEN_SOCKET_JS, settings.BROWSER_TIMEOUT * 1000)
    sent = f"in Chromium: sign in as alice at {ctx.url}/login, then open a socket there, no token"
    if own != "connected as alice":
        raise CheckFailed(
            "the app's own page, signed in, could not open a socket with the cookie",
            sent=sent,
            expected='"welcome" for alice on /notifications',
            received=f"POST /login answered HTTP {status}; the socket: {own}",
        )
    with other_origin() as elsewhere:
        target = f"{elsewhere}/?target={ctx.url}"
        sent += (
            f"; then open {elsewhere}/ in the same browser (another origin: another port), "
            f"whose page connects to {ctx.url} with no token (the cookie goes along)"
        )
        hostile = browser.new_page()
        hostile.goto(target)
        outcome = hostile.locator("#outcome")

        def decided() -> str | None:
            text = outcome.text_content(timeout=1000)
            return text if text and text != "waiting" else None

        verdict = poll_until(decided, settings.BROWSER_TIMEOUT, sleep=page_sleep(hostile))
    if verdict is None:
        raise CheckFailed(
            "the page on another origin got no answer",
            sent=sent,
            expected="its handshake refused at once (HTTP 400: not an accepted origin)",
            received=f"nothing within {settings.BROWSER_TIMEOUT:g} s",
        )
    if verdict.startswith("connected"):
        raise CheckFailed(
            f"a page on another origin used alice's cookie to open her socket ({HIJACK})",
            sent=sent,
            expected="its handshake refused: the Origin is not in CORS_ALLOWED_ORIGINS",
            received=verdict,
            hint=ORIGIN_HINT,
        )
    if not verdict.startswith("handshake refused"):
        raise CheckFailed(
            "the page on another origin got past the Origin check",
            sent=sent,
            expected="its handshake refused (HTTP 400) before any handler runs",
            received=f"{verdict} (the connection was accepted, then the connect handler "
            "refused it: with the cookie along it would have been alice's)",
            hint=ORIGIN_HINT,
        )


# -- 2.9 the student's own tests ---------------------------------------------------------
YOUR_TESTS = CHECKS.manifest.exercise("2.9").files  # what is graded of tests/
TESTS_HINT = (
    "Write tests in tests/test_sockets.py with the fixtures of tests/conftest.py "
    "(socketio.test_client): a refused connect is not is_connected(), an acknowledgement is "
    "what emit(..., callback=True) returns, and get_received(namespace) shows what each "
    "client got. Run them with `python -m pytest tests` in your stage folder."
)


@CHECKS.check(
    "2.9",
    "your tests pass against the reference app",
    hint=TESTS_HINT,
    time_scale=TIME_SCALE,
    own_processes=True,
)
def your_tests_pass_on_the_reference(ctx: Context) -> None:
    expect_passes_on_reference(ctx.stage_dir, CHECKS.number, YOUR_TESTS)


for _variant in VARIANTS[CHECKS.number]:
    CHECKS.check(
        "2.9",
        f"your tests catch {_variant.behaviour}",
        hint=f"Which of your tests fails on an app with {_variant.behaviour}? " + TESTS_HINT,
        time_scale=TIME_SCALE,
        own_processes=True,
    )(variant_check(CHECKS.number, YOUR_TESTS, _variant))


# -- 2.10 bug hunt: the stage is handed out with one defect (course/bugs/02_namespaces.patch) --
def _notice_of(probe, user: str, sent: str, expected: str) -> dict:
    return probe.expect(
        "notice",
        namespace=NOTIFICATIONS,
        where=lambda d: isinstance(d, dict) and d.get("user") == user,
        sent=sent,
        expected=expected,
    )


@CHECKS.check(
    "2.10",
    "the online count counts people: a second tab of the same user adds nobody",
    hint="Open the page as bob, then as alice in two tabs, and read the online count in each "
    '"notice" and "welcome" in the event inspector (or in the network panel\'s frames): is '
    "the number wrong on the page, or already in what the server sent?",
)
def online_count_counts_people(ctx: Context) -> None:
    bob = chat_client(ctx, "bob", namespaces=(NOTIFICATIONS,))
    tabs = [
        ctx.client(f"alice's tab {n}", namespaces=[CHAT], auth={"token": TOKENS["alice"]})
        for n in (1, 2)
    ]
    tabs[0].connect()
    sent = "bob listens on /notifications; alice opens the chat in one tab"
    first = _notice_of(bob, "alice", sent, '"notice": "alice joined the chat" with "online"')
    tabs[1].connect()
    sent += ", then in a second tab"
    second = _notice_of(bob, "alice", sent, 'a "notice" for alice\'s second tab')
    if second.get("online") != first.get("online"):
        raise CheckFailed(
            f"alice's second tab changed the online count from {first.get('online')} to "
            f"{second.get('online')}: one person, counted as two",
            sent=sent,
            expected=f'"online": {first.get("online")} in both notices (the same people)',
            received=[first, second],
        )
