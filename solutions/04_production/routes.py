"""The HTTP side: the page, the socket.io browser client that npm installed, a status API."""

import os
from pathlib import Path

import redis
from auth import user_for
from extensions import db, socketio
from flask import Blueprint, abort, current_app, render_template, request, send_from_directory
from flask_socketio import ConnectionRefusedError
from models import Report
from sqlalchemy import select
from tasks import fail_if_abandoned

pages = Blueprint("pages", __name__)
api = Blueprint("api", __name__, url_prefix="/api")


def find_socketio_client() -> Path | None:
    if os.environ.get("SOCKETIO_CLIENT_DIST"):
        return Path(os.environ["SOCKETIO_CLIENT_DIST"])
    for folder in Path(__file__).resolve().parents:
        dist = folder / "node_modules" / "socket.io-client" / "dist"
        if dist.is_dir():
            return dist
    return None


@pages.route("/")
def index():
    return render_template("index.html")


def socketio_path():
    """Never served: Engine.IO answers /socket.io/ before Flask sees the request."""
    abort(404)


# Flask-SocketIO runs every Socket.IO event in a request context made from the connection's
# first request (/socket.io/, a websocket upgrade or a polling GET), and Flask matches that
# against the routes. A miss stores a NotFound whose traceback holds the context: a reference
# cycle per connect and per event, freed only by a full garbage collection. These match.
for websocket in (False, True):
    pages.add_url_rule("/socket.io/", view_func=socketio_path, websocket=websocket)


@pages.route("/vendor/<path:filename>")
def vendor(filename):
    client_dist = find_socketio_client()
    if client_dist is None:
        abort(404, "socket.io-client is not installed: run `npm ci` at the course root.")
    return send_from_directory(client_dist, filename)


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def database_answers() -> bool:
    """Whether the database answers a query that reads a table: "SELECT 1" alone never reads
    SQLite's file, so a pooled connection answers it even when the file is gone or broken."""
    try:
        db.session.execute(select(Report.id).limit(1))
        return True
    except Exception:
        current_app.logger.exception("health check: the database does not answer")
        return False
    finally:
        db.session.remove()


@pages.get("/healthz")
def healthz():
    """For the load balancer and the process manager: can this instance do its job?

    200 with {"status": "ok", ...} when the database and Redis (the message queue) both
    answer; 503 with {"status": "unavailable", ...} naming which one does not.
    """
    about = {
        "instance": current_app.config["INSTANCE_NAME"] or f"pid {os.getpid()}",
        "pid": os.getpid(),
        "async_mode": socketio.server.eio.async_mode,
    }
    # Goal: 200 with status "ok" when the database and Redis both answer, else 503 with
    # "unavailable"; the body says which of the two answered, and keeps `about`.
    # Constraint: a down database or Redis is an answer here, never an exception.
    # (make hint EX=4.3 if you are stuck.)
    # Exercise 4.3: report whether the database and Redis answer, with 200 or 503.
    ### BEGIN SOLUTION
    checks = {
        "database": database_answers(),
        "redis": redis_answers(current_app.config["REDIS_URL"]),
    }
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unavailable", **checks, **about}
    return body, 200 if healthy else 503
    ### END SOLUTION


@api.get("/reports/<report_id>")
def report_status(report_id):
    """A report's current state for its owner: `Authorization: Bearer <token>`."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer":
        return {"ok": False, "error": "send Authorization: Bearer <token>"}, 401
    try:
        user = user_for({"token": token.strip()})
    except ConnectionRefusedError as refusal:
        return {"ok": False, "error": str(refusal)}, 401
    report = db.session.get(Report, report_id)
    if report is None or report.user != user:
        return {"ok": False, "error": "no such report of yours"}, 404
    fail_if_abandoned(report)
    return {"ok": True, "report": report.to_dict()}
