"""BaseSocket: what every namespace does on connect and disconnect."""

from auth import user_for
from extensions import db
from flask import request
from flask_socketio import Namespace
from models import Presence
from sqlalchemy import delete, distinct, func, select


class BaseSocket(Namespace):
    """Authenticates on connect, records presence, and ends the DB session on disconnect.

    Flask-SocketIO makes ONE instance of each namespace class and serves every client with
    it, so per-client state never goes on ``self``: it goes in the socket session
    (save_session/get_session), which python-socketio keeps per client and per namespace.
    """

    def on_connect(self, auth=None):
        user = user_for(auth)  # raises ConnectionRefusedError: the client gets connect_error
        self.save_session(request.sid, {"user": user})
        db.session.add(Presence(sid=request.sid, user=user, namespace=self.namespace))
        online = self.online_count()
        db.session.commit()
        self.joined(user, online)

    def on_disconnect(self, reason=None):
        user = self.current_user()
        db.session.execute(delete(Presence).where(Presence.sid == request.sid))
        db.session.commit()
        # This query begins a new transaction, which holds a pooled DB connection until the
        # session ends. Nothing after this line would end it but the next line.
        self.left(user, self.online_count())
        # Exercise 2.2: end this connection's DB session so its pooled connection goes back.
        ### BEGIN SOLUTION
        db.session.remove()
        ### END SOLUTION

    def current_user(self) -> str:
        return self.get_session(request.sid).get("user", "?")

    def online_count(self) -> int:
        users_here = select(func.count(distinct(Presence.user))).where(
            Presence.namespace == self.namespace
        )
        return db.session.scalar(users_here)

    # Hooks for the namespaces: what to announce when someone arrives or leaves.
    def joined(self, user: str, online: int) -> None:
        pass

    def left(self, user: str, online: int) -> None:
        pass
