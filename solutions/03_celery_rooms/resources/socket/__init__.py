"""The Socket.IO namespaces, one module each, and what happens when a handler fails."""

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, emit
from rate_limits import RateLimited
from tasks import REPORTS, QueueUnavailable
from validation import BadPayload

from .chat import ChatNamespace
from .notifications import NotificationsNamespace
from .reports import ReportsNamespace

CHAT = "/chat"
NOTIFICATIONS = "/notifications"


def reply_with_error(error: Exception):
    """A handler raised: answer the client, never crash the server or lose the connection."""
    event = request.event["message"]
    if isinstance(error, BadPayload | NotImplementedError | QueueUnavailable | RateLimited):
        message = str(error)
    else:
        current_app.logger.exception("error in %r on %s", event, request.namespace)
        message = "internal server error"
    if event == "connect":
        raise ConnectionRefusedError(message)  # the client sees it in connect_error
    if event != "disconnect":
        emit("error", {"event": event, "error": message})
    return {"ok": False, "error": message}  # the acknowledgement, if the client asked for one


def register_namespaces(socketio) -> None:
    socketio.on_namespace(ChatNamespace(CHAT, notifications=NOTIFICATIONS))
    socketio.on_namespace(NotificationsNamespace(NOTIFICATIONS))
    socketio.on_namespace(ReportsNamespace(REPORTS))
    socketio.on_error_default(reply_with_error)
