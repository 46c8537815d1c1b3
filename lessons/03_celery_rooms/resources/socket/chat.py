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
        # Goal: every client on the notifications namespace gets a "notice" that `user` left the
        # chat, with the same fields as the notice of joined().
        # Constraint: nothing of it reaches /chat, although both namespaces share one
        # connection. (make hint EX=2.6 if you are stuck.)
        notice = {"text": f"{user} left the chat", "user": user, "online": online}
        self.emit("notice", notice, namespace=self.notifications)

    def on_send_message(self, data=None):
        text = message_text(data)  # BadPayload becomes an error reply (reply_with_error)
        self.spend("send_message")  # so does RateLimited
        # Goal: the message is stored, every client on /chat gets it (the sender too), and the
        # sender's acknowledgement carries the stored message's id.
        # Constraint: this namespace object serves every client; who sent the message comes from
        # this connection alone. (make hint EX=2.3 if you are stuck.)
        message = Message(user=self.current_user(), text=text)
        db.session.add(message)
        db.session.commit()
        # Straight to this process's clients: a chat message needs no worker, so no queue.
        socketio.emit("message", message.to_dict(), namespace=self.namespace, ignore_queue=True)
        return {"ok": True, "id": message.id}

    def on_get_history(self, data=None):
        limit = history_limit(data)
        # Goal: `messages` holds the newest `limit` messages as dicts, oldest first.
        # Constraint: let the database choose and count them; never load the whole table.
        # (make hint EX=2.4 if you are stuck.)
        newest_first = select(Message).order_by(Message.id.desc()).limit(limit)
        messages = [m.to_dict() for m in reversed(db.session.scalars(newest_first).all())]
        db.session.commit()  # end the read transaction: the pooled connection goes back now
        return {"ok": True, "messages": messages}
