"""Lesson 03 checks: a real Celery worker emits to Socket.IO rooms through a real Redis."""

from __future__ import annotations

import contextlib
import re
import time
import uuid

import requests

from .. import settings
from ..broken_variants import VARIANTS
from ..browser import expect_text, page_sleep
from ..client import Probe, close_without_waiting
from ..context import CheckContext
from ..failures import CheckFailed
from ..queue_listener import IN_FLIGHT, Expected, last_traceback, log_size, wait_for_event
from ..stages import QueueStack
from ..stages.common import (
    CHAT,
    REPORT_ABANDONED_AFTER,
    REPORTS,
    TASK_VISIBILITY_TIMEOUT,
    TOKENS,
)
from ..stages.lesson03 import (
    REPORT_STEP_SECONDS,
    REPORT_STEPS,
    kill_worker,
    replace_worker,
    start_second_server,
)
from ..student_tests import expect_passes_on_reference, variant_check
from ..waiting import poll_until
from . import CheckSet

CHECKS = CheckSet("03")
Context = CheckContext[QueueStack]

REPORT_TIMEOUT = REPORT_STEPS * REPORT_STEP_SECONDS + 8  # queueing, a busy machine
# After its worker is killed a report ends within this: its result from another worker (after
# the visibility timeout), or else failed as abandoned. About 7 s on the course machine.
END_AFTER_KILL = REPORT_ABANDONED_AFTER + 4
PERCENTS = [round(100 * step / REPORT_STEPS) for step in range(REPORT_STEPS + 1)]


# -- helpers ----------------------------------------------------------------------
# Seconds a client's disconnect waits for the dev server's answer to its websocket close
# frame, which never comes: the server has handled the Socket.IO disconnect before that.
QUICK_CLOSE = 0.02


def connected(probe: Probe) -> Probe:
    """``probe`` connected, and quick to disconnect (each check ends by disconnecting its
    clients one by one)."""
    probe.connect()
    close_without_waiting(probe.sio, QUICK_CLOSE)
    return probe


def reports_client(
    ctx: Context, user: str, url: str | None = None, name: str | None = None
) -> Probe:
    probe = ctx.client(name or user, url=url, namespaces=[REPORTS], auth={"token": TOKENS[user]})
    return connected(probe)


def start_report(probe: Probe, title: str | None = None) -> dict:
    """start_report for real; the acknowledged report (fails the check otherwise)."""
    payload = {"title": title or f"grader report {uuid.uuid4().hex[:6]}"}
    ack = probe.call("start_report", payload, namespace=REPORTS)
    report = ack.get("report") if isinstance(ack, dict) else None
    if (
        not isinstance(ack, dict)
        or ack.get("ok") is not True
        or not isinstance(report, dict)
        or not isinstance(report.get("report_id"), str)
    ):
        raise CheckFailed(
            "start_report was not acknowledged with the new report",
            sent=f'{probe.name} emits "start_report" on {REPORTS} with {payload}',
            expected='{"ok": True, "report": {"report_id": "<id>", "state": "queued", ...}} '
            "(Exercise 3.1 comes first: every check starts a report)",
            received=ack,
        )
    return report


def of_report(report_id: str):
    return lambda data: isinstance(data, dict) and data.get("report_id") == report_id


def report_room(user: str, report_id: str) -> str:
    """The room of a report (models.Report.room, which is not an exercise)."""
    return f"report:{user}:{report_id}"


def report_ended(ctx: Context, report_id: str, user: str):
    """For wait_for_event: has the report ended in the database? A failed report fails the
    check at once, with the error it stored and the worker's traceback."""
    last = [0.0]

    def ended() -> bool:
        if time.monotonic() - last[0] < 0.4:
            return False
        last[0] = time.monotonic()
        report = status(ctx, report_id, user).json().get("report") or {}
        if report.get("state") == "failed":
            raise CheckFailed(
                f"report {report_id} failed in the worker",
                expected='the report reaches "state": "done"',
                received=f"{report}\nThe worker's last output:\n{worker_output(ctx)}",
            )
        return report.get("state") == "done"

    return ended


def wait_for_report_event(
    ctx: Context,
    probe: Probe,
    report_id: str,
    sent: str,
    event: str = "result",
    where=None,
    user: str = "alice",
    since: int | None = None,
    expected: str | None = None,
    timeout: float | None = None,
):
    """The report's ``event`` at ``probe``, or a failure saying where it was lost (the
    message queue listener): never published, published elsewhere, or not delivered."""
    about = of_report(report_id)
    stack = ctx.stack
    return wait_for_event(
        probe,
        Expected(
            event,
            REPORTS,
            report_room(user, report_id),
            lambda d: about(d) and (where is None or where(d)),
        ),
        stack.listener,
        timeout or REPORT_TIMEOUT,
        sent=sent,
        expectation=expected or f'"progress" events for report {report_id}, then its "{event}"',
        worker=stack.worker,
        processes=stack.exited,
        finished=report_ended(ctx, report_id, user) if event == "result" else None,
        since=since,
    )


def wait_for_result(
    ctx: Context, probe: Probe, report_id: str, sent: str, user: str = "alice", since=None
) -> tuple[list, dict]:
    """Every /reports event of the report up to its "result": (progress payloads, result)."""
    already = len(probe.seen)
    result = wait_for_report_event(ctx, probe, report_id, sent, user=user, since=since)
    progress = [
        data
        for event, namespace, data in probe.seen[already:]
        if event == "progress" and namespace == REPORTS and of_report(report_id)(data)
    ]
    return progress, result


def queue_mark(ctx: Context) -> int | None:
    """A bookmark in what the queue carried, taken before a check starts reports."""
    listener = ctx.stack.listener
    return listener.mark() if listener is not None else None


def status(ctx: Context, report_id: str, user: str, url: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {TOKENS[user]}"} if user else {}
    return requests.get(f"{url or ctx.url}/api/reports/{report_id}", headers=headers, timeout=5)


def worker_output(ctx: Context) -> str:
    return ctx.stack.worker.log_tail()


def events_of(probe: Probe, report_id: str) -> list:
    return [(e, d) for e, n, d in probe.seen if n == REPORTS and of_report(report_id)(d)]


def not_implemented(ack) -> bool:
    return "not implemented" in str(ack).lower()


# -- 3.1 start_report -----------------------------------------------------------------
@CHECKS.check(
    "3.1",
    "start_report stores the report for its user and acknowledges it",
    hint="In ReportsNamespace.on_start_report: db.session.add(Report(...)), commit, "
    "join_room(report.room), queue_report(report), return {'ok': True, 'report': ...}.",
)
def start_report_is_recorded(ctx: Context) -> None:
    alice = reports_client(ctx, "alice")
    title = f"grader report {uuid.uuid4().hex[:6]}"
    report = start_report(alice, title)
    sent = f'alice emits "start_report" with {{"title": "{title}"}}'
    if report.get("title") != title or report.get("state") not in ("queued", "running", "done"):
        raise CheckFailed(
            "the acknowledged report does not describe the new report",
            sent=sent,
            expected={"report_id": "<id>", "title": title, "state": "queued", "percent": 0},
            received=report,
        )
    report_id = report["report_id"]
    own = status(ctx, report_id, "alice")
    if own.status_code != 200 or (own.json().get("report") or {}).get("report_id") != report_id:
        raise CheckFailed(
            "the report was not stored as alice's",
            sent=f"{sent}; then GET /api/reports/{report_id} with alice's token",
            expected="HTTP 200 with the report (the row start_report committed)",
            received=f"HTTP {own.status_code}: {own.text[:200]}",
        )
    others = status(ctx, report_id, "bob")
    if others.status_code != 404:
        raise CheckFailed(
            "another user can read alice's report",
            sent=f"GET /api/reports/{report_id} with bob's token",
            expected="HTTP 404: the report belongs to the user who started it "
            "(user=self.current_user(), never a user the client sends)",
            received=f"HTTP {others.status_code}: {others.text[:200]}",
        )
    bad = alice.call("start_report", {"title": 42}, namespace=REPORTS)
    if not isinstance(bad, dict) or bad.get("ok") is not False:
        raise CheckFailed(
            "a malformed start_report was not answered with an error",
            sent='"start_report" with {"title": 42}',
            expected='{"ok": False, "error": ...}',
            received=bad,
        )


# -- 3.2 the app context ----------------------------------------------------------------
@CHECKS.check(
    "3.2",
    "the worker builds the report from the database and stores the result",
    hint="In celery_init_app, FlaskTask.__call__ must run self.run(*args, **kwargs) inside "
    "`with app.app_context():`; without it db.session and current_app fail in the worker.",
)
def report_is_built_in_the_worker(ctx: Context) -> None:
    chat = ctx.client("alice on /chat", namespaces=[CHAT], auth={"token": TOKENS["alice"]})
    connected(chat)
    for text in ("one for the report", "two for the report"):
        chat.call("send_message", {"text": text}, namespace=CHAT)
    alice = reports_client(ctx, "alice")
    worker, log_start = ctx.stack.worker, log_size(ctx.stack.worker)
    report_id = start_report(alice)["report_id"]
    sent = f"alice posts 2 chat messages, starts report {report_id}, then polls its status"
    report: dict = {}

    def finished() -> bool:
        report.clear()
        report.update(status(ctx, report_id, "alice").json().get("report") or {})
        return report.get("state") in ("done", "failed")

    def worker_failed() -> bool:  # stop waiting: the task itself raised in the worker
        # Celery logs "Task ... raised unexpected" for that; a traceback the task caught and
        # logged (a failed progress emit, say) does not end the report.
        return " raised unexpected" in worker.log_since(log_start) or ctx.stack.exited() is not None

    poll_until(finished, REPORT_TIMEOUT, interval=0.2, give_up=worker_failed)
    result = report.get("result") or {}
    if report.get("state") != "done":
        traceback = last_traceback(worker, log_start)
        raise CheckFailed(
            "the report failed in the worker"
            if traceback
            else f"the report did not finish within {REPORT_TIMEOUT:.0f} s",
            sent=sent,
            expected='GET /api/reports/<id> reaches "state": "done" with a result',
            received=f"{report}\nThe worker's "
            + (f"traceback:\n{traceback}" if traceback else f"last output:\n{worker_output(ctx)}"),
        )
    built_by = result.get("built_by") or {}
    worker_pid, app_pid = ctx.stack.worker.pid, ctx.stack.app.pid
    if built_by.get("pid") != worker_pid or worker_pid == app_pid:
        raise CheckFailed(
            "the result was not built by the Celery worker process",
            sent=sent,
            expected=f"result.built_by.pid == {worker_pid} (the worker; the web app is {app_pid})",
            received=result,
        )
    if result.get("messages", 0) < 2 or (result.get("by_user") or {}).get("alice", 0) < 2:
        raise CheckFailed(
            "the report did not count the chat messages in the database",
            sent=sent,
            expected="result.messages >= 2 and result.by_user.alice >= 2",
            received=result,
        )


# -- 3.3 emits from the worker --------------------------------------------------------
@CHECKS.check(
    "3.3",
    "the worker's progress (0-100 %, in order) and result reach its room and no other",
    hint="In tasks.emit_to_room: worker_socketio(current_app.config['REDIS_URL']).emit("
    "event, data, to=room, namespace=REPORTS).",
)
def progress_reaches_only_its_room(ctx: Context) -> None:
    alice = reports_client(ctx, "alice")
    bob = reports_client(ctx, "bob")
    since = queue_mark(ctx)
    alice_id = start_report(alice)["report_id"]
    bob_id = start_report(bob)["report_id"]
    sent = f"alice starts report {alice_id}, bob starts report {bob_id}, at the same time"
    worker_pid, app_pid = ctx.stack.worker.pid, ctx.stack.app.pid
    for probe, report_id, other in ((alice, alice_id, bob_id), (bob, bob_id, alice_id)):
        progress, result = wait_for_result(ctx, probe, report_id, sent, probe.name, since)
        percents = [data.get("percent") for data in progress]
        if percents != PERCENTS:
            raise CheckFailed(
                f"{probe.name} did not receive every progress event in order",
                sent=sent,
                expected=f'"progress" with percent {PERCENTS}, then "result"',
                received=f"percents {percents}",
            )
        stamps = {(data.get("worker") or {}).get("pid") for data in [*progress, result]}
        if stamps != {worker_pid}:
            raise CheckFailed(
                "the events do not come from the Celery worker process",
                sent=sent,
                expected=f"every payload's worker.pid == {worker_pid} (the web app is {app_pid})",
                received=f"worker pids {sorted(map(str, stamps))}",
            )
        if result.get("state") != "done" or not isinstance(result.get("result"), dict):
            raise CheckFailed(
                'the "result" event does not carry the finished report',
                sent=sent,
                expected='{"report_id": ..., "state": "done", "percent": 100, "result": {...}}',
                received=result,
            )
        leaked = events_of(probe, other)
        if leaked:
            raise CheckFailed(
                f"{probe.name} received events of someone else's report",
                sent=sent,
                expected=f"no events of report {other}: {probe.name} is not in its room "
                "(emit with to=room, never to everyone)",
                received=leaked[:3],
            )


# -- 3.4 watch: authorization and resync -----------------------------------------------
@CHECKS.check(
    "3.4",
    "watching another user's report is refused; the owner's second client gets its events",
    hint="In ReportsNamespace.on_watch: load the Report, raise BadPayload unless "
    "report.user == self.current_user(), then join_room(report.room) and return its state.",
)
def watching_another_users_report_is_refused(ctx: Context) -> None:
    alice = reports_client(ctx, "alice")
    bob = reports_client(ctx, "bob")
    report_id = start_report(alice)["report_id"]
    attempts = [
        ({"report_id": report_id}, "alice's report"),
        ({"report_id": "no-such-report"}, "a report that does not exist"),
        ({"room": f"report:alice:{report_id}"}, "a room name instead of a report id"),
    ]
    for payload, what in attempts:
        ack = bob.call("watch", payload, namespace=REPORTS)
        if not isinstance(ack, dict) or ack.get("ok") is not False or not_implemented(ack):
            raise CheckFailed(
                f"bob was not refused when he asked to watch {what}",
                sent=f'bob emits "watch" with {payload}',
                expected='{"ok": False, "error": "..."} from your check, and no room joined',
                received=ack,
            )
    phone = reports_client(ctx, "alice", name="alice's second client")
    sent = f'alice\'s second client emits "watch" with {{"report_id": "{report_id}"}}'
    ack = phone.call("watch", {"report_id": report_id}, namespace=REPORTS)
    state = ack.get("report") if isinstance(ack, dict) else None
    if not isinstance(state, dict) or ack.get("ok") is not True:
        raise CheckFailed(
            "the owner could not watch her own report",
            sent=sent,
            expected='{"ok": True, "report": {"report_id": ..., "state": ..., "percent": ...}}',
            received=ack,
        )
    wait_for_result(ctx, phone, report_id, sent)
    wait_for_result(ctx, alice, report_id, "alice started the report")
    bob.drain(0.2)
    leaked = events_of(bob, report_id)
    if leaked:
        raise CheckFailed(
            "bob received events of alice's report after he was refused",
            sent="bob asked to watch alice's report and was refused",
            expected="no events of alice's report for bob",
            received=leaked[:3],
        )


@CHECKS.check(
    "3.4",
    "a refusal does not reveal whether a report exists",
    hint="In on_watch, refuse a report that does not exist and someone else's report with the "
    "same BadPayload message: a different answer tells bob which report ids are real.",
)
def refusal_does_not_reveal_a_report(ctx: Context) -> None:
    alice = reports_client(ctx, "alice")
    bob = reports_client(ctx, "bob")
    report_id = start_report(alice)["report_id"]
    missing = str(uuid.uuid4())
    answers = {
        "alice's report": bob.call("watch", {"report_id": report_id}, namespace=REPORTS),
        "a report that does not exist": bob.call(
            "watch", {"report_id": missing}, namespace=REPORTS
        ),
    }
    sent = f'bob emits "watch" with alice\'s report id {report_id}, then with {missing}'
    for what, ack in answers.items():
        if not isinstance(ack, dict) or ack.get("ok") is not False or not_implemented(ack):
            raise CheckFailed(
                f"bob was not refused when he asked to watch {what}",
                sent=sent,
                expected='{"ok": False, "error": "..."} for both',
                received=answers,
            )
    if len({str(ack.get("error")) for ack in answers.values()}) != 1:
        raise CheckFailed(
            "the refusal reveals that alice's report exists",
            sent=sent,
            expected="the same refusal for both: a missing report and someone else's report "
            "must look alike, or bob learns which report ids are real",
            received=answers,
        )


@CHECKS.check(
    "3.4",
    "one connection that starts two reports and watches the first again gets both results, once",
    hint="A client may be in several report rooms at once: on_watch and on_start_report only "
    "join_room; they never leave the other rooms, and joining a room twice changes nothing.",
)
def one_connection_follows_several_reports(ctx: Context) -> None:
    alice = reports_client(ctx, "alice")
    since = queue_mark(ctx)
    first = start_report(alice, "first of two")["report_id"]
    second = start_report(alice, "second of two")["report_id"]
    sent = (
        f"on one connection alice starts report {first}, then report {second}, then emits "
        f'"watch" with {{"report_id": "{first}"}}'
    )
    ack = alice.call("watch", {"report_id": first}, namespace=REPORTS)
    if not isinstance(ack, dict) or ack.get("ok") is not True:
        raise CheckFailed(
            "alice could not watch a report she started on this connection",
            sent=sent,
            expected='{"ok": True, "report": {...}}',
            received=ack,
        )
    for report_id in (first, second):
        # Two workers may finish the second report first: its result is then already seen.
        if not any(event == "result" for event, _ in events_of(alice, report_id)):
            wait_for_result(ctx, alice, report_id, sent, since=since)
    alice.drain(0.3)
    counts = {
        report_id: sum(1 for event, _ in events_of(alice, report_id) if event == "result")
        for report_id in (first, second)
    }
    if any(count != 1 for count in counts.values()):
        raise CheckFailed(
            "a report's result arrived more than once on one connection",
            sent=sent,
            expected='one "result" per report',
            received=f'"result" events per report: {counts}',
        )


@CHECKS.check(
    "3.4",
    "a client that reconnects mid-report gets the current state, then the result",
    hint="on_watch joins the room first, then reads the report (db.session.refresh) and "
    "returns report.to_dict(): the state now, not the one the client last saw.",
)
def a_reconnecting_client_resyncs(ctx: Context) -> None:
    first = reports_client(ctx, "alice", name="alice before the reconnect")
    report_id = start_report(first)["report_id"]
    sent = f"alice starts report {report_id}"
    seen = wait_for_report_event(
        ctx,
        first,
        report_id,
        sent,
        "progress",
        where=lambda d: d.get("percent", 0) >= 20,
        expected='a "progress" event of at least 20 %',
    )
    first.disconnect()
    sent += f", disconnects at {seen['percent']} %"
    moved_on: dict = {}

    def went_on_without_her() -> bool:
        moved_on.clear()
        moved_on.update(status(ctx, report_id, "alice").json().get("report") or {})
        return moved_on.get("percent", 0) >= seen["percent"] + 20

    poll_until(went_on_without_her, REPORT_TIMEOUT, interval=0.05)
    again = reports_client(ctx, "alice", name="alice after the reconnect")
    sent += f", reconnects when the report is at {moved_on.get('percent')} % and watches it"
    ack = again.call("watch", {"report_id": report_id}, namespace=REPORTS)
    state = ack.get("report") if isinstance(ack, dict) else None
    if not isinstance(state, dict) or state.get("percent", -1) < moved_on.get("percent", 0):
        raise CheckFailed(
            "the watch after the reconnect did not answer with the current state",
            sent=sent,
            expected=f'{{"ok": True, "report": {{"percent": >= {moved_on.get("percent")}, ...}}}}',
            received=ack,
        )
    if state.get("state") != "done":
        wait_for_result(ctx, again, report_id, sent)


@CHECKS.check(
    "3.4",
    "a client on a second web server receives the room's events through Redis",
    hint="Both servers subscribe to the same REDIS_URL (init_app(..., message_queue=...)); "
    "on_watch puts the client into the room on whichever server it is connected to.",
)
def a_second_server_delivers_the_room(ctx: Context) -> None:
    second_url = start_second_server(ctx.side_processes(), ctx.stack)
    alice = reports_client(ctx, "alice", name="alice on server A")
    other = reports_client(ctx, "alice", url=second_url, name="alice on server B")
    report_id = start_report(alice)["report_id"]
    sent = f"alice starts report {report_id} on server A; her client on B watches it"
    ack = other.call("watch", {"report_id": report_id}, namespace=REPORTS)
    if not isinstance(ack, dict) or ack.get("ok") is not True:
        raise CheckFailed(
            "server B refused to let alice watch her own report",
            sent=sent,
            expected='{"ok": True, "report": {...}} (both servers share the database)',
            received=ack,
        )
    progress, result = wait_for_result(ctx, other, report_id, sent)
    if not progress or result.get("state") != "done":
        raise CheckFailed(
            "server B did not deliver the worker's events",
            sent=sent,
            expected='"progress" events and a "result" on server B',
            received=f"{len(progress)} progress events, result {result}",
        )


def result_long_published(ctx: Context, user: str, since: int | None):
    """For a page's wait: has the worker published the result of ``user``'s report a while ago
    (so whatever the page waits for will not come)?"""
    listener = ctx.stack.listener
    if listener is None:
        return lambda: False
    room_of_user = f"report:{user}:"

    def published() -> bool:
        settled = time.monotonic() - IN_FLIGHT
        return any(
            m.event == "result" and str(m.room).startswith(room_of_user) and m.at <= settled
            for m in listener.emits(since or 0)
        )

    return published


# -- 3.5 the browser ----------------------------------------------------------------------
@CHECKS.check(
    "3.5",
    "the page's progress bar reaches 100 % and shows the result",
    browser=True,
    hint='In static/app.js: reports.on("progress", showReport) and on "result"; in '
    "showReport set #report-progress's value, #report-percent, #report-state and "
    "#report-result.",
)
def page_shows_progress_and_result(ctx: Context) -> None:
    page = ctx.browser().new_page()
    page.goto(ctx.url + "/")
    page.fill("#token", TOKENS["carol"])
    page.click("#login-form button")
    expect_text(page, "#status", "connected", sent="sign in as carol")
    since = queue_mark(ctx)
    page.click("#start-report")
    sent = 'sign in as carol and click "Build a report"'
    values: list = []

    def reached_100() -> bool:
        value = page.eval_on_selector("#report-progress", "bar => bar.value")
        if not values or values[-1] != value:
            values.append(value)
        return value == 100

    timeout = REPORT_TIMEOUT + settings.BROWSER_TIMEOUT
    gone = result_long_published(ctx, "carol", since)
    poll_until(reached_100, timeout, interval=0.05, sleep=page_sleep(page), give_up=gone)
    if not values or values[-1] != 100 or len(set(values)) < 3:
        error = page.text_content("#error") or ""
        if values and values[-1] == 100:
            summary = "the progress bar jumped to 100 % with no step in between"
            look = (
                '; it only changed when the result came: does every "progress" event set '
                '#report-progress\'s value (reports.on("progress", ...))?'
            )
        else:
            summary = "the progress bar did not reach 100 %"
            look = ""
        listener = ctx.stack.listener
        if listener is not None and listener.subscribers() == 0:
            look += (
                "; no web server listens on the message queue, so the worker's events reach "
                "nobody: socketio.init_app(app, message_queue=REDIS_URL)"
            )
        raise CheckFailed(
            summary,
            sent=sent,
            expected=f"#report-progress's value to rise step by step to 100 ({PERCENTS})",
            received=f"values seen: {values[-12:]}{look}"
            + (f"; #error reads {error!r}" if error else ""),
        )
    expect_text(page, "#report-state", "done", sent=sent)
    expect_text(page, "#report-percent", "100%", sent=sent)
    shown = page.text_content("#report-result") or ""
    worker_pid = str(ctx.stack.worker.pid)
    if worker_pid not in shown:
        raise CheckFailed(
            "the page does not show the report's result",
            sent=sent,
            expected=f"#report-result describes the result, built by worker pid {worker_pid}",
            received=f"#report-result reads {shown!r}",
        )


# The page's periodic fallback (a watch when a running report has been silent for a while) is
# switched off in this check: after a reconnect the page must ask for the state at once.
NO_PERIODIC_FALLBACK = """
const everyMs = window.setInterval;
window.setInterval = (callback, ms, ...rest) => (ms >= 500 ? 0 : everyMs(callback, ms, ...rest));
"""
RESYNC_WITHIN = 3.0  # seconds from the reconnect to the result on the page


@CHECKS.check(
    "3.5",
    "after the connection drops mid-report, the page shows the result as soon as it reconnects",
    browser=True,
    hint='In static/app.js: reports.on("connect", watchReport): on every connect, the first and '
    "each reconnect, ask for the report's state; events sent while the page was away are gone.",
    time_scale=1.5,
)
def page_resyncs_after_a_reconnect(ctx: Context) -> None:
    listener = ctx.stack.listener
    since = queue_mark(ctx) or 0
    cut_off = {"now": False}
    sockets: list = []

    def route_websocket(ws) -> None:
        if cut_off["now"]:
            ws.close()
            return
        sockets.append((ws, ws.connect_to_server()))

    page = ctx.browser().new_page()
    page.add_init_script(NO_PERIODIC_FALLBACK)
    page.route_web_socket(re.compile(r"/socket\.io/"), route_websocket)
    page.route(
        re.compile(r"/socket\.io/"),
        lambda route: route.abort() if cut_off["now"] else route.continue_(),
    )
    page.goto(ctx.url + "/")
    page.fill("#token", TOKENS["carol"])
    page.click("#login-form button")
    expect_text(page, "#status", "connected", sent="sign in as carol")
    page.click("#start-report")
    sent = 'sign in as carol, click "Build a report"'
    moving = poll_until(
        lambda: page.eval_on_selector("#report-progress", "bar => bar.value") >= 20,
        REPORT_TIMEOUT,
        interval=0.05,
        sleep=page_sleep(page),
        give_up=result_long_published(ctx, "carol", since),
    )
    if not moving:
        raise CheckFailed(
            "the progress bar never reached 20 %",
            sent=sent,
            expected="#report-progress's value to follow the report's progress events",
            received=f"value {page.eval_on_selector('#report-progress', 'bar => bar.value')!r}",
        )
    cut_off["now"] = True
    for ws, server in sockets:
        with contextlib.suppress(Exception):
            ws.close()
            server.close()
    sent += (
        "; at 20 % or more the grader cuts the page's connection and keeps it out until the "
        "worker has published the result, then lets it reconnect (the page's periodic watch is "
        "switched off)"
    )
    poll_until(
        lambda: any(
            m.event == "result" and str(m.room).startswith("report:carol:")
            for m in listener.emits(since)
        ),
        REPORT_TIMEOUT,
        interval=0.1,
        sleep=page_sleep(page),
    )
    poll_until(lambda: page.text_content("#status") != "connected", 5, 0.05, page_sleep(page))
    cut_off["now"] = False
    reconnected = poll_until(
        lambda: page.text_content("#status") == "connected",
        settings.BROWSER_TIMEOUT,
        interval=0.05,
        sleep=page_sleep(page),
    )
    if not reconnected:
        raise CheckFailed(
            "the page did not reconnect after its connection dropped",
            sent=sent,
            expected='#status reads "connected" again (socket.io reconnects by itself)',
            received=f"#status reads {page.text_content('#status')!r}",
        )
    done = poll_until(
        lambda: page.text_content("#report-state") == "done",
        RESYNC_WITHIN,
        interval=0.05,
        sleep=page_sleep(page),
    )
    if not done:
        raise CheckFailed(
            "the page did not ask for the report's state when it reconnected",
            sent=sent,
            expected=f'#report-state "done" within {RESYNC_WITHIN:.0f} s of the reconnect: the '
            "result was published while the page was away, so only a watch on connect brings it",
            received=f"#report-state reads {page.text_content('#report-state')!r}, "
            f"#report-percent {page.text_content('#report-percent')!r}",
        )


# -- 3.6 at least once ---------------------------------------------------------------------
def final_state(probe: Probe, report_id: str, timeout: float) -> dict | None:
    """The report once it has ended ("result" or "failed", or a watch saying so), as the page
    learns it: from its events, and from a watch every second while it waits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe.drain(0.5)
        for event, data in events_of(probe, report_id):
            if event in ("result", "failed"):
                return data
        ack = probe.call("watch", {"report_id": report_id}, namespace=REPORTS)
        report = ack.get("report") if isinstance(ack, dict) else None
        if isinstance(report, dict) and report.get("state") in ("done", "failed"):
            return report
    return None


@CHECKS.check(
    "3.6",
    "a report whose worker is SIGKILLed mid-way ends with its result from a new worker",
    hint="In celery_app.deliver_at_least_once: task_acks_late, task_reject_on_worker_lost, "
    "worker_prefetch_multiplier = 1, and visibility_timeout in broker_transport_options.",
    time_scale=1.5,
)
def a_killed_workers_report_finishes(ctx: Context) -> None:
    alice = reports_client(ctx, "alice")
    report_id = start_report(alice)["report_id"]
    sent = f"alice starts report {report_id}"
    seen = wait_for_report_event(
        ctx,
        alice,
        report_id,
        sent,
        "progress",
        where=lambda d: d.get("percent", 0) >= 20,
        expected='a "progress" event of at least 20 %',
    )
    killed = kill_worker(ctx.stack)
    killed_at = time.monotonic()
    new = replace_worker(ctx.stack)
    sent += (
        f"; at {seen['percent']} % the grader SIGKILLs the Celery worker (pid {killed}) and "
        f"starts a new one (pid {new.pid}); alice watches the report every second"
    )
    final = final_state(alice, report_id, END_AFTER_KILL)
    took = time.monotonic() - killed_at
    expected = (
        f'the report\'s "result" (state "done") built by the new worker, pid {new.pid}: Redis '
        f"gives the unacknowledged task to it after the visibility timeout "
        f"({TASK_VISIBILITY_TIMEOUT:.0f} s here)"
    )
    if final is None:
        raise CheckFailed(
            f"the report had not ended {took:.0f} s after its worker was killed",
            sent=sent,
            expected=expected,
            received=f"still not done or failed.\nThe new worker's output:\n{new.log_tail()}",
        )
    built_by = (final.get("result") or {}).get("built_by") or {}
    if final.get("state") != "done" or built_by.get("pid") != new.pid:
        raise CheckFailed(
            "the killed worker's report did not finish on the new worker",
            sent=sent,
            expected=expected,
            received=f"after {took:.0f} s: {final}\nWithout late acknowledgement the task "
            "died with its worker, and the report was failed as abandoned.",
        )


# -- 3.7 the student's own tests of the rooms -------------------------------------------
YOUR_TESTS = CHECKS.manifest.exercise("3.7").files  # what is graded of tests/
TESTS_HINT = (
    "Write tests in tests/test_reports.py with the worker fixture of tests/conftest.py: "
    "start_report queues on it and worker.run() builds the report in the test. Check the "
    "starter gets the progress and the result, and that another client gets nothing. Run "
    "them with `python -m pytest tests` in your stage folder."
)


@CHECKS.check("3.7", "your tests pass against the reference app", hint=TESTS_HINT, time_scale=1.5)
def your_report_tests_pass_on_the_reference(ctx: Context) -> None:
    expect_passes_on_reference(ctx.stage_dir, CHECKS.number, YOUR_TESTS)


for _variant in VARIANTS[CHECKS.number]:
    CHECKS.check(
        "3.7",
        f"your tests catch {_variant.behaviour}",
        hint=f"Which of your tests fails on an app with {_variant.behaviour}? " + TESTS_HINT,
        time_scale=2.0,
    )(variant_check(CHECKS.number, YOUR_TESTS, _variant))


# -- 3.8 bug hunt: the stage is handed out with one defect (course/bugs/03_celery_rooms.patch) --
@CHECKS.check(
    "3.8",
    "a chat message reaches a client connected to a second web server",
    hint="Start a second web process on the same REDIS_URL, sign in on each, and chat while "
    "troubleshooting/watch_emits.sh runs: compare what reaches Redis for a chat message with "
    "what reaches it for a report's progress (README, \"Watch the queue: did the worker "
    'publish?").',
)
def chat_reaches_a_second_server(ctx: Context) -> None:
    second_url = start_second_server(ctx.side_processes(), ctx.stack)
    alice = ctx.client("alice on server A", namespaces=[CHAT], auth={"token": TOKENS["alice"]})
    bob = ctx.client(
        "bob on server B", url=second_url, namespaces=[CHAT], auth={"token": TOKENS["bob"]}
    )
    connected(alice)
    connected(bob)
    text = f"hello across servers {uuid.uuid4().hex[:6]}"
    sent = f'alice, on server A, emits "send_message" on {CHAT} with {{"text": "{text}"}}'
    alice.call("send_message", {"text": text}, namespace=CHAT)
    alice.expect(
        "message",
        namespace=CHAT,
        where=lambda d: isinstance(d, dict) and d.get("text") == text,
        sent=sent,
        expected="alice, on the same server, receives her message",
    )
    bob.expect(
        "message",
        namespace=CHAT,
        where=lambda d: isinstance(d, dict) and d.get("text") == text,
        sent=sent + f"; bob is connected to server B ({second_url}), on the same Redis",
        expected=f'bob receives "message" on {CHAT} with the text, as he would on server A',
    )
