"""The /notifications namespace: announcements, multiplexed over the chat's connection."""

from flask import request

from .base import BaseSocket

CHAT = "/chat"  # whose count the welcome carries


class NotificationsNamespace(BaseSocket):
    def joined(self, user: str, online: int) -> None:
        # self.namespace is the same for every client: this one object serves them all.
        welcome = {"namespace": self.namespace, "user": user, "sid": request.sid}
        # The page's "In the chat" from the start: its own joined notice on /chat may have
        # gone out before this namespace was connected, and then this is the count it gets.
        welcome["online"] = self.online_count(CHAT)
        self.emit("welcome", welcome, room=request.sid)
