"""The /notifications namespace: announcements, multiplexed over the chat's connection."""

from flask import request

from .base import BaseSocket


class NotificationsNamespace(BaseSocket):
    def joined(self, user: str, online: int) -> None:
        # self.namespace is the same for every client: this one object serves them all.
        welcome = {"namespace": self.namespace, "user": user, "sid": request.sid}
        self.emit("welcome", welcome, room=request.sid)
