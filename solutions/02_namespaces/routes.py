"""The HTTP side: the page, and the socket.io browser client that npm installed."""

import os
from pathlib import Path

from flask import Blueprint, abort, render_template, send_from_directory

pages = Blueprint("pages", __name__)


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


@pages.route("/vendor/<path:filename>")
def vendor(filename):
    client_dist = find_socketio_client()
    if client_dist is None:
        abort(404, "socket.io-client is not installed: run `npm ci` at the course root.")
    return send_from_directory(client_dist, filename)
