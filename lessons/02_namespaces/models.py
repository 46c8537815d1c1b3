"""The tables: chat messages, and who is connected right now."""

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
