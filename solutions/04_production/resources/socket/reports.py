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
        # Goal: the report is recorded (a new random id, this client's user, `title`), the
        # client is in its room, its task is queued, and the acknowledgement carries the report.
        # Constraint: no event of the report may come before its starter listens, and a watcher
        # must be able to find it. (make hint EX=3.1 if you are stuck.)
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
        # Goal: the report's owner is in its room, and `report` holds its state as it is now;
        # anyone else is refused, and cannot tell a missing report from somebody else's.
        # Constraint: the worker goes on while this runs; no event may fall between the state
        # answered and the events received next. (make hint EX=3.4 if you are stuck.)
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
