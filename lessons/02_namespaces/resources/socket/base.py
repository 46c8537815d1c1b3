"""BaseSocket: what every namespace does on connect and disconnect, and which events it takes."""

import inspect
import logging

from auth import connecting_user
from extensions import db
from flask import request
from flask_socketio import Namespace
from models import Presence
from sqlalchemy import delete, func, select

# python-socketio calls these for the connection itself; a client may not emit them.
LIFECYCLE_EVENTS = ("connect", "disconnect")
log = logging.getLogger(__name__)


class BaseSocket(Namespace):
    """Authenticates on connect, records presence, and ends the DB session on disconnect.

    Flask-SocketIO makes ONE instance of each namespace class and serves every client with
    it, so per-client state never goes on ``self``: it goes in the socket session
    (save_session/get_session), which python-socketio keeps per client and per namespace.
    """

    def trigger_event(self, event, sid, *args):
        """Run ``on_<event>`` for what a client sent, or answer why not.

        python-socketio calls this for a client's connect and disconnect, and for every event a
        client emits, and it runs on_disconnect for an emitted event NAMED "disconnect" too
        (socketio.Server._trigger_event). A real connect or disconnect comes while the client
        is not counted as connected (the manager's pre_connect or pre_disconnect), an emitted
        event only while it is: that is how the two are told apart.
        """
        if event in LIFECYCLE_EVENTS and not self.server.manager.is_connected(sid, self.namespace):
            return super().trigger_event(event, sid, *args)
        problem = self.refusal(event, args)
        if problem:
            return self.refuse(sid, event, problem)
        return super().trigger_event(event, sid, *args)

    def refusal(self, event, args: tuple) -> str | None:
        """Why this namespace does not take ``event`` with ``args``, or None when it does."""
        if not isinstance(event, str):
            return "an event name must be a string"
        if event in LIFECYCLE_EVENTS:
            return f'"{event}" is reserved for the connection itself: a client cannot send it'
        handler = getattr(self, f"on_{event}", None)
        if handler is None:
            return f'there is no event "{event:.80}" on {self.namespace}'
        try:
            inspect.signature(handler).bind(*args)
        except TypeError:
            return f'"{event}" takes at most one argument (an object), got {len(args)}'
        return None

    def refuse(self, sid: str, event, problem: str) -> dict:
        """The same answer as for a bad payload (resources/socket/__init__.py)."""
        log.info("refused %.80r from %s on %s: %s", event, sid, self.namespace, problem)
        self.emit("error", {"event": str(event)[:80], "error": problem}, room=sid)
        return {"ok": False, "error": problem}  # the acknowledgement, if the client asked

    def on_connect(self, auth=None):
        # A token, or else the session cookie; ConnectionRefusedError: the client's connect_error.
        user = connecting_user(auth)
        self.save_session(request.sid, {"user": user})
        try:
            db.session.add(Presence(sid=request.sid, user=user, namespace=self.namespace))
            online = self.online_count()
            db.session.commit()
            self.joined(user, online)
            # joined may read (the welcome's count): end that transaction too, or this
            # connection would hold a pooled DB connection until it disconnects.
            db.session.commit()
        except Exception:
            # Refused (the error handler turns any failure here into a refusal): python-socketio
            # never runs on_disconnect for a refused connect, so nothing else would end the
            # DB session this sid opened, and it would stay in the registry for good.
            db.session.remove()  # then the refusal goes on to the client
            raise

    def on_disconnect(self, reason=None):
        try:
            user = self.current_user()
            db.session.execute(delete(Presence).where(Presence.sid == request.sid))
            db.session.commit()
            # This query begins a new transaction, which holds a pooled DB connection until
            # the session ends. Nothing here would end it but the `finally` below, which runs
            # even when announcing the leave raises.
            self.left(user, self.online_count())
        finally:
            # Goal: once a client is gone, the pooled DB connection its session held is free
            # again.
            # Constraint: this runs exactly once per connection, also when announcing the leave
            # raised. (make hint EX=2.2 if you are stuck.)
            # Exercise 2.2: end this connection's DB session so its pooled connection goes back.
            raise NotImplementedError('Exercise 2.2 is not implemented yet (see lessons/02_namespaces/README.md, "Exercise 2.2")')

    def current_user(self) -> str:
        return self.get_session(request.sid).get("user", "?")

    def online_count(self, namespace: str | None = None) -> int:
        """How many users are on ``namespace`` (this one by default), on every instance."""
        users_here = select(func.count(Presence.user)).where(
            Presence.namespace == (namespace or self.namespace)
        )
        return db.session.scalar(users_here)

    # Hooks for the namespaces: what to announce when someone arrives or leaves.
    def joined(self, user: str, online: int) -> None:
        pass

    def left(self, user: str, online: int) -> None:
        pass
