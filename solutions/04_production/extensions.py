"""The extensions, created once without an app and bound to it in create_app()."""

from flask import has_request_context, request
from flask.globals import app_ctx
from flask_login import LoginManager
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy


def session_scope() -> object:
    """Which db.session to use: one per Socket.IO connection, else one per app context.

    Flask-SocketIO runs every event in a fresh app context. Keyed on that (the default),
    every event would get its own session and Flask's teardown would close it. Keyed on the
    connection's sid, a client's events share one session, and so only the disconnect
    handler can end it: see BaseSocket.on_disconnect.
    """
    sid = getattr(request, "sid", None) if has_request_context() else None
    if sid is not None:
        return ("socket", sid)
    return id(app_ctx._get_current_object())


socketio = SocketIO()
# expire_on_commit=False: a long-lived session must not re-query every object it just saved.
db = SQLAlchemy(session_options={"scopefunc": session_scope, "expire_on_commit": False})
# Cookie sessions next to tokens (accounts.py): who the session cookie signed in.
login_manager = LoginManager()
