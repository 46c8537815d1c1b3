"""The /chat namespace: messages stored in the database, with a history for late joiners."""

from extensions import db, socketio
from models import Message
from sqlalchemy import select
from validation import history_limit, message_text

from .base import BaseSocket


class ChatNamespace(BaseSocket):
    def __init__(self, namespace: str, notifications: str):
        super().__init__(namespace)
        self.notifications = notifications

    def joined(self, user: str, online: int) -> None:
        notice = {"text": f"{user} joined the chat", "user": user, "online": online}
        self.emit("notice", notice, namespace=self.notifications)

    def left(self, user: str, online: int) -> None:
        # Emit "notice" with {"text": "<user> left the chat", "user", "online"} on the
        # notifications namespace, the way joined() does.
        notice = {"text": f"{user} left the chat", "user": user, "online": online}
        self.emit("notice", notice, namespace=self.notifications)

    def on_send_message(self, data=None):
        text = message_text(data)  # BadPayload becomes an error reply (reply_with_error)
        self.spend("send_message")  # so does RateLimited
        # Store a Message, emit "message" with message.to_dict() to every client in this
        # namespace, and acknowledge with {"ok": True, "id": message.id}.
        message = Message(user=self.current_user(), text=text)
        db.session.add(message)
        db.session.commit()
        # Straight to this process's clients: a chat message needs no worker, so no queue.
        socketio.emit("message", message.to_dict(), namespace=self.namespace, ignore_queue=True)
        return {"ok": True, "id": message.id}

    def on_get_history(self, data=None):
        limit = history_limit(data)
        # messages: the last `limit` messages as dicts (to_dict()), oldest first.
        newest_first = select(Message).order_by(Message.id.desc()).limit(limit)
        messages = [m.to_dict() for m in reversed(db.session.scalars(newest_first).all())]
        db.session.commit()  # end the read transaction: the pooled connection goes back now
        return {"ok": True, "messages": messages}
