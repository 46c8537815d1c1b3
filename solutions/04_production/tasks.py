"""The Celery task that builds a report, and how the worker reaches the report's room.

The worker is not a Socket.IO server and no client is connected to it. It emits through a
write-only SocketIO, which only publishes to the Redis message queue; every web process is
subscribed to that queue and delivers the event to the members of the room it names.
"""

import logging
import os
import socket
import time
from functools import cache

import redis
from celery import shared_task
from extensions import db
from flask import current_app
from flask_socketio import SocketIO
from kombu.exceptions import OperationalError
from models import Message, Report
from sqlalchemy import func, select

REPORTS = "/reports"  # the Socket.IO namespace of the reports
log = logging.getLogger(__name__)


class QueueUnavailable(RuntimeError):
    """Redis is down, so no task can be queued; the message is for the client."""


@cache
def worker_socketio(redis_url: str) -> SocketIO:
    """A write-only SocketIO: no app, no clients, it can only publish to the queue."""
    return SocketIO(message_queue=redis_url)


def emit_to_room(event: str, data: dict, room: str) -> None:
    """Emit one event to every member of ``room`` on /reports, whichever web process holds it."""
    # Emit through worker_socketio(current_app.config["REDIS_URL"]) with to=room and
    # namespace=REPORTS. There is no Socket.IO request in a worker: nothing to include or skip.
    # Exercise 3.3: emit to the report's room from the worker.
    ### BEGIN SOLUTION
    worker_socketio(current_app.config["REDIS_URL"]).emit(event, data, to=room, namespace=REPORTS)
    ### END SOLUTION


def queue_answers(redis_url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(redis_url, socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def publish(event: str, data: dict, room: str, must_arrive: bool = False) -> None:
    """Emit, and never let a failed emit break the report: its state is in the database.

    A progress event lost in a Redis outage is soon replaced by the next one. The final result
    must_arrive: wait (up to QUEUE_RETRY_SECONDS) for Redis to answer before emitting it.
    """
    url = current_app.config["REDIS_URL"]
    if must_arrive:
        deadline = time.monotonic() + current_app.config["QUEUE_RETRY_SECONDS"]
        while not queue_answers(url) and time.monotonic() < deadline:
            time.sleep(0.2)
    try:
        emit_to_room(event, data, room)
    except Exception:
        log.exception(
            "could not emit %r to %s (clients will resync from the database)", event, room
        )


def worker_stamp() -> dict:
    """Who did the work: lets a client (and the grader) see the event came from a worker."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def chat_summary() -> dict:
    """The report itself: how many chat messages each user wrote."""
    rows = db.session.execute(select(Message.user, func.count()).group_by(Message.user)).all()
    by_user = {user: count for user, count in rows}
    return {"messages": sum(by_user.values()), "by_user": by_user}


@shared_task(ignore_result=True)
def build_report(report_id: str) -> None:
    """Build the report in steps, reporting 0..100 % to its room, then the result."""
    report = db.session.get(Report, report_id)
    if report is None:
        log.error("report %s is not in the database", report_id)
        return
    steps, delay = current_app.config["REPORT_STEPS"], current_app.config["REPORT_STEP_SECONDS"]
    try:
        report.state = "running"
        for step in range(steps + 1):
            if step:
                time.sleep(delay)  # stands in for the slow part of real work
            report.percent = round(100 * step / steps)
            db.session.commit()
            progress = {**report.to_dict(), "step": step, "steps": steps, "worker": worker_stamp()}
            publish("progress", progress, report.room)
        report.result = {**chat_summary(), "built_by": worker_stamp()}
        report.state = "done"
        db.session.commit()
    except Exception as error:
        log.exception("report %s failed", report_id)
        db.session.rollback()
        report.state, report.result = "failed", {"error": str(error)}
        db.session.commit()
        publish("failed", {**report.to_dict(), "worker": worker_stamp()}, report.room, True)
        return
    publish("result", {**report.to_dict(), "worker": worker_stamp()}, report.room, True)


def queue_report(report: Report) -> None:
    """Send build_report to the workers, with the report's id as the task id."""
    try:
        build_report.apply_async(args=[report.id], task_id=report.id)
    except OperationalError as error:
        report.state, report.result = "failed", {"error": "the task queue is unavailable"}
        db.session.commit()
        raise QueueUnavailable("the task queue is unavailable right now; try again soon") from error
