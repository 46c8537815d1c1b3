"""The /reports namespace: start a report, and watch one (again) after a reconnect."""

import uuid

from extensions import db
from flask_socketio import join_room
from models import Report
from tasks import fail_if_abandoned, queue_report
from validation import BadPayload, report_id, report_title

from .base import BaseSocket


class ReportsNamespace(BaseSocket):
    def on_start_report(self, data=None):
        title = report_title(data)
        self.spend("start_report")  # RateLimited becomes an error reply, like BadPayload
        # Store a Report(id=<a new uuid4 string>, user=<this client's user>, title=title) and
        # commit, join this client to report.room, then queue_report(report). Acknowledge
        # with {"ok": True, "report": report.to_dict()}.
        # Exercise 3.1: record the report, join its room, then queue the task.
        ### BEGIN SOLUTION
        report = Report(id=str(uuid.uuid4()), user=self.current_user(), title=title)
        db.session.add(report)
        db.session.commit()
        join_room(report.room)  # before the task is queued: no event can come too early
        queue_report(report)
        return {"ok": True, "report": report.to_dict()}
        ### END SOLUTION

    def on_watch(self, data=None):
        wanted = report_id(data)
        # Look the report up; refuse (BadPayload) one that does not exist or belongs to someone
        # else, with the same message for both. Join its room, THEN read its state again
        # (db.session.refresh), so that `report` below is the state after joining.
        # Exercise 3.4: authorize the watcher, join the room, answer with the current state.
        ### BEGIN SOLUTION
        report = db.session.get(Report, wanted)
        if report is None or report.user != self.current_user():
            raise BadPayload("no such report of yours")
        join_room(report.room)
        db.session.refresh(report)  # the state after joining: later events are ours to see
        ### END SOLUTION
        fail_if_abandoned(report)  # a report whose worker died and was not replaced: failed
        state = report.to_dict()
        db.session.commit()  # end the read: the worker writes this row while we watch
        return {"ok": True, "report": state}
