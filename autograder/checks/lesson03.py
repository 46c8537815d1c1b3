"""Lesson 03 checks: a real Celery worker emits to Socket.IO rooms through a real Redis."""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from dataclasses import replace

import redis
import requests

from .. import settings
from ..broken_variants import VARIANTS
from ..browser import expect_text, page_sleep
from ..client import Probe, close_without_waiting
from ..context import CheckContext
from ..failures import CheckFailed
from ..queue_listener import IN_FLIGHT, Expected, last_traceback, log_size, wait_for_event
from ..stages.common import CHAT, REPORTS, TOKENS
from ..stages.lesson03 import (
    REPORT_ABANDONED_AFTER,
    REPORT_STEP_SECONDS,
    REPORT_STEPS,
    TASK_VISIBILITY_TIMEOUT,
    Lesson03Stack,
    kill_worker,
    replace_worker,
    second_server_url,
)
from ..student_tests import TIME_SCALE, expect_passes_on_reference, variant_check
from ..waiting import poll_until
from . import CheckSet

CHECKS = CheckSet("03")
Context = CheckContext[Lesson03Stack]

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


def task_failure(ctx: Context, report_id: str) -> str | None:
    """What the worker logged when the report's task raised ("Task tasks.build_report[<id>]
    raised unexpected", then its traceback), if it did. The task id is the report id, so this
    is about this report only, whatever other checks do meanwhile."""
    worker = ctx.stack.worker
    log = worker.log_since(0) if worker is not None else ""
    at = log.find(f"[{report_id}] raised unexpected")
    if at < 0:
        return None
    block = log[log.rfind("\n", 0, at) + 1 :].strip().splitlines()
    return "\n".join(block[:15] + (["…"] if len(block) > 15 else []))


def failed_in_the_worker(ctx: Context, report_id: str, user: str, summary: str):
    """For wait_for_event's ``finished``: raises at once when the report's task raised in the
    worker, or ended "failed" in the database (with its error and the worker's output); never
    says the report finished."""
    last = [0.0]

    def check() -> bool:
        traceback = task_failure(ctx, report_id)
        if traceback is not None:
            raise CheckFailed(
                f"{summary}: the worker failed",
                expected='the report reaches "state": "done"',
                received=f"the task raised in the worker, before it could end the report:\n"
                f"{traceback}",
            )
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
        check.done = report.get("state") == "done"
        return False

    check.done = False
    return check


def report_ended(ctx: Context, report_id: str, user: str, summary: str, queue):
    """For wait_for_event: has the report ended in the database, and has all that was
    published about it settled (arrived, or lost for good), so the queue can say where the
    event went? A failed report, or a task that raised, fails the check at once, with the error
    and the worker's output."""
    failed = failed_in_the_worker(ctx, report_id, user, summary)

    def ended() -> bool:
        failed()
        if not failed.done:
            return False
        if queue is None:
            return True
        settled = time.monotonic() - IN_FLIGHT
        return all(m.at <= settled for m in queue.emits(0, of_report(report_id)))

    return ended


MARKER = "grader-marker"  # the event of the grader's own markers (SettledQueue)


class SettledQueue:
    """The queue listener as wait_for_event reads it for one client, where what was published
    settles (it has reached the client, or it never will) as soon as it can be known, not
    IN_FLIGHT seconds after it was published:

    - once a marker the grader published on the queue after it has reached the client:
      Redis, the web server's queue thread and the client's connection all keep the order;
    - at once when no web server listens on the queue (nothing published can arrive).

    A settled message is handed on as if published IN_FLIGHT ago, so where_it_went can
    conclude. The marker is an emit to the client's own room (its sid), on its namespace.
    """

    def __init__(self, listener, probe: Probe, namespace: str, redis_url: str):
        self.listener, self.probe, self.namespace = listener, probe, namespace
        self.channel, self.signed = listener.channel, listener.signed
        self.redis_url = redis_url
        self._sent: dict[int, float] = {}  # marker number -> when it was published
        self._outstanding: float | None = None  # when the last unanswered marker went out
        self._settled_at = float("-inf")  # everything the listener had by then has settled
        self._read = 0  # how much of probe.seen has been looked through

    def mark(self) -> int:
        return self.listener.mark()

    def subscribers(self, channel: str | None = None) -> int | None:
        return self.listener.subscribers(channel)

    def emits(self, since: int = 0, where=None):
        self._settle()
        return [
            replace(m, at=m.at - IN_FLIGHT) if m.at <= self._settled_at else m
            for m in self.listener.emits(since, where)
        ]

    def _settle(self) -> None:
        seen = self.probe.seen
        for event, namespace, data in seen[self._read :]:
            if event == MARKER and namespace == self.namespace and data in self._sent:
                self._settled_at = max(self._settled_at, self._sent[data])
                self._outstanding = None
        self._read = len(seen)
        now = time.monotonic()
        newest = next(
            (m.at for m in reversed(self.listener.messages[-50:]) if m.event != MARKER), None
        )
        if newest is None or newest <= self._settled_at:
            return  # nothing waits to settle
        if self.listener.subscribers() == 0:
            self._settled_at = now  # no web server listens: it is all lost already
            return
        if self._outstanding is None or now - self._outstanding > 0.5:
            self._publish_marker(now)

    def _publish_marker(self, now: float) -> None:
        sid = self.probe.sio.get_sid(self.namespace)
        if sid is None:
            return
        number = len(self._sent) + 1
        message = {
            "method": "emit",
            "event": MARKER,
            "data": [number],
            "namespace": self.namespace,
            "room": sid,
            "skip_sid": None,
            "callback": None,
            "host_id": "grader",
        }
        self._sent[number] = now
        self._outstanding = now
        with contextlib.suppress(redis.RedisError, OSError):
            client = redis.Redis.from_url(self.redis_url, socket_timeout=1)
            with contextlib.closing(client):
                client.publish(self.channel, json.dumps(message))


def seen_already(probe: Probe, report_id: str, event: str, where=None):
    """The report's ``event`` among what ``probe`` has already taken in, if any (a wait reads
    only what arrives after it began)."""
    for got, data in events_of(probe, report_id):
        if got == event and (where is None or where(data)):
            return data
    return None


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
    message queue listener): never published, published elsewhere, or not delivered; or at
    once, that the report's task raised in the worker."""
    about = of_report(report_id)
    stack = ctx.stack
    summary = f"{probe.name} did not receive {event!r}"
    queue = (
        SettledQueue(stack.listener, probe, REPORTS, stack.redis.url)
        if stack.listener is not None and stack.redis is not None
        else stack.listener
    )
    finished = (
        report_ended(ctx, report_id, user, summary, queue)
        if event == "result"
        else failed_in_the_worker(ctx, report_id, user, summary)
    )
    return wait_for_event(
        probe,
        Expected(
            event,
            REPORTS,
            report_room(user, report_id),
            lambda d: about(d) and (where is None or where(d)),
        ),
        queue,
        timeout or REPORT_TIMEOUT,
        sent=sent,
        expectation=expected
        or f'"progress" events for report {report_id}'
        + (f', then its "{event}"' if event != "progress" else ""),
        worker=stack.worker,
        processes=stack.exited,
        finished=finished,
        since=since,
    )


def wait_for_result(
    ctx: Context,
    probe: Probe,
    report_id: str,
    sent: str,
    user: str = "alice",
    since=None,
    first_progress: bool = False,
) -> tuple[list, dict]:
    """Every /reports event of the report up to its "result": (progress payloads, result).

    ``first_progress`` (for a client in the room from the report's start): its first
    "progress" is waited for on its own, so a client that gets none fails a moment after it
    was published, not after the whole report."""
    already = len(probe.seen)
    if first_progress and seen_already(probe, report_id, "progress") is None:
        wait_for_report_event(ctx, probe, report_id, sent, "progress", user=user, since=since)
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


def far_from_done(state: dict) -> bool:
    """Whether a report in this state (a watch's answer) still has several progress events to
    publish: a client that watches it now can wait for the next one."""
    return state.get("state") in ("queued", "running") and state.get("percent", 100) <= 60


def wait_for_subscribers(ctx: Context, servers: int, timeout: float = 3.0) -> None:
    """Wait until ``servers`` web processes listen on the message queue. A server subscribes
    in the background once its first client has connected, and pub/sub keeps nothing for a
    late subscriber. No wait when not even the first server listens (it has no queue)."""
    listener = ctx.stack.listener
    if listener is None or not listener.subscribers():
        return
    poll_until(lambda: (listener.subscribers() or 0) >= servers, timeout, interval=0.05)


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
        # Celery logs "Task ...[<id>] raised unexpected" for that; a traceback the task caught
        # and logged (a failed progress emit, say) does not end the report.
        return task_failure(ctx, report_id) is not None or ctx.stack.exited() is not None

    poll_until(finished, REPORT_TIMEOUT, interval=0.1, give_up=worker_failed)
    result = report.get("result") or {}
    if report.get("state") != "done":
        traceback = task_failure(ctx, report_id) or last_traceback(worker, log_start)
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
    phone = reports_client(ctx, "alice", name="alice's second client")
    report_id = start_report(alice)["report_id"]
    # The second client watches at once, while the report is surely still being built.
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
    wait_for_result(ctx, alice, report_id, "alice started the report", first_progress=True)
    if state.get("state") != "done":
        wait_for_result(ctx, phone, report_id, sent, first_progress=far_from_done(state))
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
            wait_for_result(ctx, alice, report_id, sent, since=since, first_progress=True)
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
    second_url = second_server_url(ctx.stack)
    alice = reports_client(ctx, "alice", name="alice on server A")
    other = reports_client(ctx, "alice", url=second_url, name="alice on server B")
    wait_for_subscribers(ctx, 2)
    for attempt in (1, 2):
        report_id = start_report(alice)["report_id"]
        sent = f"alice starts report {report_id} on server A; her client on B watches it"
        ack = other.call("watch", {"report_id": report_id}, namespace=REPORTS)
        state = ack.get("report") if isinstance(ack, dict) else None
        if not isinstance(state, dict) or ack.get("ok") is not True:
            raise CheckFailed(
                "server B refused to let alice watch her own report",
                sent=sent,
                expected='{"ok": True, "report": {...}} (both servers share the database)',
                received=ack,
            )
        if attempt == 1 and not far_from_done(state):
            continue  # nearly built before B's client watched it (a busy machine): once more
        break
    progress, result = wait_for_result(
        ctx, other, report_id, sent, first_progress=far_from_done(state)
    )
    if not progress or result.get("state") != "done":
        raise CheckFailed(
            "server B did not deliver the worker's events",
            sent=sent,
            expected='"progress" events and a "result" on server B',
            received=f"{len(progress)} progress events, result {result}",
        )


class PageReport:
    """The report a page started (its id, from the page's sessionStorage), and whether waiting
    for the page can still change anything: for a page's poll_until(give_up=...)."""

    NO_REPORT_AFTER = 3.0  # seconds from the click to a started report, on a busy machine
    # How long after the report ended the page is still waited for: its own fallback (a
    # watch when a running report has been silent for 3 s) may still bring the state.
    ENDED_FOR = 5.0

    def __init__(self, ctx: Context, page, user: str):
        self.ctx, self.page, self.user = ctx, page, user
        self.clicked_at = time.monotonic()
        self.report_id: str | None = None
        self.ended_at: float | None = None
        self._asked = 0.0

    def id(self) -> str | None:
        if self.report_id is None:
            with contextlib.suppress(Exception):
                found = self.page.evaluate("() => sessionStorage.getItem('report_id')")
                self.report_id = found if isinstance(found, str) and found else None
        return self.report_id

    def error(self) -> str:
        with contextlib.suppress(Exception):
            return (self.page.text_content("#error") or "").strip()
        return ""

    def hopeless(self) -> bool:
        now = time.monotonic()
        report_id = self.id()
        if report_id is None:  # no report started: start_report failed or never answered
            waited = now - self.clicked_at
            return waited > self.NO_REPORT_AFTER or (waited > 0.5 and bool(self.error()))
        if task_failure(self.ctx, report_id) is not None:
            return True
        listener = self.ctx.stack.listener
        settled = now - IN_FLIGHT
        if listener is not None and any(
            m.event in ("result", "failed") and m.at <= settled
            for m in listener.emits(0, of_report(report_id))
        ):
            return True  # its end was published a while ago, and the page did not show it
        if self.ended_at is None and now - self._asked > 0.5:
            self._asked = now
            with contextlib.suppress(Exception):
                report = status(self.ctx, report_id, self.user).json().get("report") or {}
                if report.get("state") in ("done", "failed"):
                    self.ended_at = now
        return self.ended_at is not None and now - self.ended_at > self.ENDED_FOR

    def why(self) -> str:
        """What the page shows wrong, when hopeless() said to stop."""
        if self.id() is None:
            error = self.error()
            return "; no report was started (the page stored no report id)" + (
                f"; #error reads {error!r}" if error else ""
            )
        traceback = task_failure(self.ctx, self.report_id)
        if traceback is not None:
            return f"; the report's task raised in the worker:\n{traceback}"
        return ""


def signed_in_page(ctx: Context, user: str, init_script: str | None = None, route=None):
    """A page of the app with ``user`` signed in (#status "connected")."""
    page = ctx.browser().new_page()
    if init_script:
        page.add_init_script(init_script)
    if route is not None:
        route(page)
    page.goto(ctx.url + "/")
    page.fill("#token", TOKENS[user])
    page.click("#login-form button")
    expect_text(page, "#status", "connected", sent=f"sign in as {user}")
    return page


def bar_value(page):
    return page.eval_on_selector("#report-progress", "bar => bar.value")


# Every value #report-progress takes, as the page shows it: sampled inside the page every few
# milliseconds, so a step the grader's own polling would miss (a busy machine) is still seen.
BAR_RECORDER = """
window.__graderBar = [];
setInterval(() => {
  const bar = document.getElementById("report-progress");
  const seen = window.__graderBar;
  if (bar && seen[seen.length - 1] !== bar.value) seen.push(bar.value);
}, 4);
"""


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
    page = signed_in_page(ctx, "carol", BAR_RECORDER)
    page.click("#start-report")
    report = PageReport(ctx, page, "carol")
    sent = 'sign in as carol and click "Build a report"'
    values: list = []

    def reached_100() -> bool:
        values[:] = page.evaluate("() => window.__graderBar || []")
        return bool(values) and values[-1] == 100

    timeout = REPORT_TIMEOUT + settings.BROWSER_TIMEOUT
    poll_until(reached_100, timeout, interval=0.05, sleep=page_sleep(page), give_up=report.hopeless)
    if not values or values[-1] != 100 or len(set(values)) < 3:
        error = report.error()
        if values and values[-1] == 100:
            summary = "the progress bar jumped to 100 % with no step in between"
            look = (
                '; it only changed when the result came: does every "progress" event set '
                '#report-progress\'s value (reports.on("progress", ...))?'
            )
        else:
            summary = "the progress bar did not reach 100 %"
            look = report.why()
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
            + (f"; #error reads {error!r}" if error and "#error" not in look else ""),
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
CUT_AT = 20  # percent: the page's connection is cut after the progress event of this much
REPORTS_EVENT = "42" + REPORTS + ","  # how a Socket.IO event on /reports starts on the wire


def reports_event(message) -> tuple[str, object] | None:
    """(event, payload) of a websocket frame carrying a Socket.IO event on /reports, else None."""
    if not isinstance(message, str) or not message.startswith(REPORTS_EVENT):
        return None
    body = message[len(REPORTS_EVENT) :].lstrip("0123456789")  # an ack id may come first
    with contextlib.suppress(ValueError):
        packet = json.loads(body)
        if isinstance(packet, list) and packet and isinstance(packet[0], str):
            return packet[0], packet[1] if len(packet) > 1 else None
    return None


class CutConnection:
    """Stands between the page and the server (Playwright's routes) and cuts the page off at a
    chosen moment: from then on nothing the server sends reaches the page, and no new
    connection gets through, until the check lets it reconnect.

    It cuts by itself right after passing on the first /reports "progress" of at least
    CUT_AT %: frames are handled one at a time, so whatever the server sends next (the result,
    however soon it comes) is already lost, on a busy machine too."""

    def __init__(self, page):
        self.cut = False
        self.sockets: list = []
        page.route_web_socket(re.compile(r"/socket\.io/"), self._websocket)
        page.route(re.compile(r"/socket\.io/"), self._http)

    def _http(self, route) -> None:
        if self.cut:
            route.abort()
        else:
            route.continue_()

    def _websocket(self, ws) -> None:
        if self.cut:
            ws.close()
            return
        server = ws.connect_to_server()

        def from_server(message) -> None:
            if self.cut:
                return  # the page is away: lost
            ws.send(message)
            event = reports_event(message)
            if (
                event is not None
                and event[0] == "progress"
                and isinstance(event[1], dict)
                and (event[1].get("percent") or 0) >= CUT_AT
            ):
                self.cut = True

        server.on_message(from_server)
        self.sockets.append((ws, server))

    def close_all(self) -> None:
        self.cut = True
        for ws, server in self.sockets:
            with contextlib.suppress(Exception):
                ws.close()
                server.close()
        self.sockets.clear()


@CHECKS.check(
    "3.5",
    "after the connection drops mid-report, the page shows the result as soon as it reconnects",
    browser=True,
    hint='In static/app.js: reports.on("connect", watchReport): on every connect, the first and '
    "each reconnect, ask for the report's state; events sent while the page was away are gone.",
    time_scale=1.5,
)
def page_resyncs_after_a_reconnect(ctx: Context) -> None:
    cutter: list[CutConnection] = []
    page = signed_in_page(
        ctx, "carol", NO_PERIODIC_FALLBACK, route=lambda p: cutter.append(CutConnection(p))
    )
    connection = cutter[0]
    page.click("#start-report")
    report = PageReport(ctx, page, "carol")
    sent = 'sign in as carol, click "Build a report"'
    moving = poll_until(
        lambda: connection.cut or bar_value(page) >= CUT_AT,
        REPORT_TIMEOUT,
        interval=0.05,
        sleep=page_sleep(page),
        give_up=report.hopeless,
    )
    if not moving:
        raise CheckFailed(
            f"the progress bar never reached {CUT_AT} %",
            sent=sent,
            expected="#report-progress's value to follow the report's progress events",
            received=f"value {bar_value(page)!r}{report.why()}",
        )
    connection.close_all()
    at = bar_value(page)
    sent += (
        f"; at {at} % the grader cuts the page's connection (what the server sends from then on "
        "is lost) and lets it reconnect; the page's periodic watch is switched off"
    )
    poll_until(lambda: page.text_content("#status") != "connected", 5, 0.05, page_sleep(page))
    connection.cut = False
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
        RESYNC_WITHIN + REPORT_STEPS * REPORT_STEP_SECONDS,
        interval=0.05,
        sleep=page_sleep(page),
    )
    if not done:
        raise CheckFailed(
            "the page did not ask for the report's state when it reconnected",
            sent=sent,
            expected=f'#report-state "done" within {RESYNC_WITHIN:.0f} s of the report\'s end: '
            "the page is a new member of no room after the reconnect, so only a watch on "
            "connect brings the state and the events that follow",
            received=f"#report-state reads {page.text_content('#report-state')!r}, "
            f"#report-percent {page.text_content('#report-percent')!r}",
        )


# -- 3.6 at least once ---------------------------------------------------------------------
def final_state(probe: Probe, report_id: str, timeout: float) -> dict | None:
    """The report once it has ended ("result" or "failed", or a watch saying so), as the page
    learns it: from its events, and from a watch every second while it waits."""
    deadline = time.monotonic() + timeout
    watched = 0.0
    while time.monotonic() < deadline:
        probe.drain(0.1)
        for event, data in events_of(probe, report_id):
            if event in ("result", "failed"):
                return data
        if time.monotonic() - watched >= 1.0:
            watched = time.monotonic()
            ack = probe.call("watch", {"report_id": report_id}, namespace=REPORTS)
            report = ack.get("report") if isinstance(ack, dict) else None
            if isinstance(report, dict) and report.get("state") in ("done", "failed"):
                return report
    return None


def kept_by_the_broker(redis_url: str, task_id: str) -> bool | None:
    """Whether Redis still holds the task anywhere: in a queue, or among the tasks a worker
    took and has not acknowledged (kombu keeps those in a hash until the ack, and gives them
    out again after the visibility timeout). None when Redis cannot be read."""
    needle = task_id.encode()
    readers = {
        b"list": lambda c, k: c.lrange(k, 0, -1),
        b"hash": lambda c, k: c.hvals(k),
        b"zset": lambda c, k: c.zrange(k, 0, -1),
        b"set": lambda c, k: c.smembers(k),
        b"string": lambda c, k: [c.get(k)],
    }
    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        with contextlib.closing(client):
            for key in client.scan_iter(count=500):
                read = readers.get(client.type(key))
                if read is not None and any(
                    needle in (value or b"") for value in read(client, key)
                ):
                    return True
    except (redis.RedisError, OSError):
        return None
    return False


@CHECKS.check(
    "3.6",
    "a report whose worker is SIGKILLed mid-way ends with its result from a new worker",
    hint="In celery_app.deliver_at_least_once: task_acks_late, task_reject_on_worker_lost, "
    "worker_prefetch_multiplier = 1, and visibility_timeout in broker_transport_options.",
    time_scale=1.5,
)
def a_killed_workers_report_finishes(ctx: Context) -> None:
    alice = reports_client(ctx, "alice")
    for attempt in (1, 2):
        report_id = start_report(alice)["report_id"]
        sent = f"alice starts report {report_id}"
        # Its first step done, the report has most of its steps ahead: the kill lands while it
        # is being built.
        seen = wait_for_report_event(
            ctx,
            alice,
            report_id,
            sent,
            "progress",
            where=lambda d: d.get("percent", 0) > 0,
            expected='a "progress" event of more than 0 %',
        )
        killed = kill_worker(ctx.stack)
        killed_at = time.monotonic()
        too_late = (status(ctx, report_id, "alice").json().get("report") or {}).get("state")
        if attempt == 1 and too_late == "done":
            # The machine was too busy: the report ended before the kill. Once more.
            replace_worker(ctx.stack)
            continue
        break
    sent += f"; at {seen['percent']} % the grader SIGKILLs the Celery worker (pid {killed})"
    expected = (
        f'the report\'s "result" (state "done") built by a new worker: Redis gives the '
        f"unacknowledged task to it after the visibility timeout "
        f"({TASK_VISIBILITY_TIMEOUT:.0f} s here)"
    )
    if kept_by_the_broker(ctx.stack.redis.url, report_id) is False:
        raise CheckFailed(
            "the killed worker's task is gone: no other worker can take it over",
            sent=sent,
            expected=expected,
            received=f"right after the kill, Redis holds no trace of task {report_id}: the "
            "worker acknowledged it as it took it (Celery's default), so the broker forgot it, "
            "and the report can only end failed as abandoned. Acknowledged late, a task stays "
            "in Redis until it has run, and goes to another worker after the visibility "
            "timeout.",
        )
    new = replace_worker(ctx.stack)
    sent += f" and starts a new one (pid {new.pid}); alice watches the report every second"
    expected = expected.replace("a new worker", f"the new worker, pid {new.pid}")
    final = final_state(alice, report_id, END_AFTER_KILL - (time.monotonic() - killed_at))
    took = time.monotonic() - killed_at
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
            "died with its worker, and the report was failed as abandoned; with it, is the "
            "visibility timeout given to the broker (broker_transport_options)?",
        )


# -- 3.7 the student's own tests of the rooms -------------------------------------------
YOUR_TESTS = CHECKS.manifest.exercise("3.7").files  # what is graded of tests/
TESTS_HINT = (
    "Write tests in tests/test_reports.py with the worker fixture of tests/conftest.py: "
    "start_report queues on it and worker.run() builds the report in the test. Check the "
    "starter gets the progress and the result, and that another client gets nothing. Run "
    "them with `python -m pytest tests` in your stage folder."
)


@CHECKS.check(
    "3.7",
    "your tests pass against the reference app",
    hint=TESTS_HINT,
    time_scale=TIME_SCALE,
    own_processes=True,
)
def your_report_tests_pass_on_the_reference(ctx: Context) -> None:
    expect_passes_on_reference(ctx.stage_dir, CHECKS.number, YOUR_TESTS)


for _variant in VARIANTS[CHECKS.number]:
    CHECKS.check(
        "3.7",
        f"your tests catch {_variant.behaviour}",
        hint=f"Which of your tests fails on an app with {_variant.behaviour}? " + TESTS_HINT,
        time_scale=TIME_SCALE,
        own_processes=True,
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
    second_url = second_server_url(ctx.stack)
    alice = ctx.client("alice on server A", namespaces=[CHAT], auth={"token": TOKENS["alice"]})
    bob = ctx.client(
        "bob on server B", url=second_url, namespaces=[CHAT], auth={"token": TOKENS["bob"]}
    )
    connected(alice)
    connected(bob)
    wait_for_subscribers(ctx, 2)
    since = queue_mark(ctx)
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
    expect_across(
        ctx,
        bob,
        text,
        since,
        sent=sent + f"; bob is connected to server B ({second_url}), on the same Redis",
        expected=f'bob receives "message" on {CHAT} with the text, as he would on server A',
    )


def expect_across(ctx: Context, probe: Probe, text: str, since, sent: str, expected: str):
    """The chat message at a client of the other server. When server A delivered it to its
    own client without publishing it on the queue, it cannot come: the wait ends a moment
    after A's delivery instead of after the whole timeout."""
    listener = ctx.stack.listener
    about = lambda d: isinstance(d, dict) and d.get("text") == text  # noqa: E731
    started = time.monotonic()
    deadline = started + settings.EVENT_TIMEOUT
    quiet_until = started + 0.5  # a publication reaches the listener in milliseconds
    while True:
        with contextlib.suppress(CheckFailed):
            return probe.expect("message", namespace=CHAT, where=about, timeout=0.1)
        now = time.monotonic()
        published = listener is None or bool(listener.emits(since or 0, about))
        if now >= deadline or (not published and now >= quiet_until):
            break
    others = [f"{e!r} on {n}" for e, n, _ in probe.seen[-5:]]
    raise CheckFailed(
        f"{probe.name} did not receive 'message'",
        sent=sent,
        expected=expected,
        received=(f"{'; '.join(others)}; " if others else "")
        + f"nothing with the text within {time.monotonic() - started:.1f} s",
    )
