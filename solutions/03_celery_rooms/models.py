"""The tables: chat messages, who is connected right now, and the reports users asked for."""

import time

from extensions import db


class Message(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    user = db.Column(db.String(40), nullable=False)
    text = db.Column(db.String(500), nullable=False)
    sent_at = db.Column(db.Float, nullable=False, default=time.time)

    def to_dict(self) -> dict:
        return {"id": self.id, "user": self.user, "text": self.text, "sent_at": self.sent_at}


class Presence(db.Model):
    """One row per connected namespace session (a sid)."""

    sid = db.Column(db.String(64), primary_key=True)
    user = db.Column(db.String(40), nullable=False)
    namespace = db.Column(db.String(40), nullable=False)
    connected_at = db.Column(db.Float, nullable=False, default=time.time)


class Report(db.Model):
    """A report a user asked for; its id is the Celery task id. The worker keeps it current.

    This row, not the message queue, is the truth about a task: pub/sub delivers an event at
    most once, so a client that missed some (a reconnect, a Redis restart) reads it from here.
    """

    id = db.Column(db.String(36), primary_key=True)
    user = db.Column(db.String(40), nullable=False)
    title = db.Column(db.String(80), nullable=False)
    state = db.Column(db.String(10), nullable=False, default="queued")  # running, done, failed
    percent = db.Column(db.Integer, nullable=False, default=0)
    result = db.Column(db.JSON)
    # Written at every step: the worker's heartbeat, and the stamp a run's claim checks.
    updated_at = db.Column(db.Float, nullable=False, default=time.time, onupdate=time.time)

    @property
    def room(self) -> str:
        """The Socket.IO room of this report, derived on the server, never sent by a client."""
        return f"report:{self.user}:{self.id}"

    def to_dict(self) -> dict:
        return {
            "report_id": self.id,
            "title": self.title,
            "state": self.state,
            "percent": self.percent,
            "result": self.result,
        }
