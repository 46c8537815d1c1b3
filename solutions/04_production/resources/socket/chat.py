"""The /chat namespace: messages stored in the database, with a history for late joiners."""

from extensions import db
from flask import current_app
from hub import word_statistics
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
        # Exercise 2.6: tell everyone on the notifications namespace who left the chat.
        ### BEGIN SOLUTION
        notice = {"text": f"{user} left the chat", "user": user, "online": online}
        self.emit("notice", notice, namespace=self.notifications)
        ### END SOLUTION

    def on_send_message(self, data=None):
        text = message_text(data)  # BadPayload becomes an error reply (reply_with_error)
        self.spend("send_message")  # so does RateLimited
        # Goal: the message is stored, every client on /chat gets it (the sender too), and the
        # sender's acknowledgement carries the stored message's id.
        # Constraint: this namespace object serves every client; who sent the message comes from
        # this connection alone. (make hint EX=2.3 if you are stuck.)
        # Exercise 2.3: store the message and broadcast it on /chat.
        ### BEGIN SOLUTION
        message = Message(user=self.current_user(), text=text)
        db.session.add(message)
        db.session.commit()
        self.emit("message", message.to_dict())
        return {"ok": True, "id": message.id}
        ### END SOLUTION

    def on_get_history(self, data=None):
        limit = history_limit(data)
        # Goal: `messages` holds the newest `limit` messages as dicts, oldest first.
        # Constraint: let the database choose and count them; never load the whole table.
        # (make hint EX=2.4 if you are stuck.)
        # Exercise 2.4: read the chat history from the database.
        ### BEGIN SOLUTION
        newest_first = select(Message).order_by(Message.id.desc()).limit(limit)
        messages = [m.to_dict() for m in reversed(db.session.scalars(newest_first).all())]
        ### END SOLUTION
        db.session.commit()  # end the read transaction: the pooled connection goes back now
        return {"ok": True, "messages": messages}

    def on_statistics(self, data=None):
        """The most used words of the whole history: CPU work (hub.py, Exercise 4.6)."""
        self.spend("statistics")  # CPU-heavy: a few per connection, like start_report
        texts = list(db.session.scalars(select(Message.text)).all())
        db.session.commit()  # the pooled connection goes back before the long part
        seconds = current_app.config["STATISTICS_SECONDS"]
        return {"ok": True, **word_statistics(texts, seconds)}
