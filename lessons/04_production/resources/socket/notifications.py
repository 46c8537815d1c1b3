"""The /notifications namespace: announcements, multiplexed over the chat's connection."""

import os

from extensions import db
from flask import current_app, request

from .base import BaseSocket

CHAT = "/chat"  # whose count the welcome carries


class NotificationsNamespace(BaseSocket):
    def joined(self, user: str, online: int) -> None:
        # self.namespace is the same for every client: this one object serves them all.
        served_by = current_app.config["INSTANCE_NAME"] or f"pid {os.getpid()}"
        welcome = {
            "namespace": self.namespace,
            "user": user,
            "sid": request.sid,
            "served_by": served_by,  # which instance behind the load balancer
            "pid": os.getpid(),
            # The page's "In the chat" from the start (its own joined notice may come too early).
            "online": self.recent_online_count(CHAT),
        }
        db.session.remove()  # the count opened a session: an idle client keeps none
        self.emit("welcome", welcome, room=request.sid)
