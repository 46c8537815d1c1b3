"""Flask-SocketIO 5.7 on Flask 3.1: every Socket.IO event leaves a reference cycle.

SocketIO._handle_event (flask_socketio/__init__.py) runs each event inside
`app.request_context(environ)`, with the environ of the connection's first request, whose path
is /socket.io/. Pushing the context matches that path against the app's routes; when no route
matches, Flask stores the NotFound on request.routing_exception, and its traceback holds the
frame that holds the RequestContext: dozens of objects per event (37 here, about 50 in the
running app) that only a full garbage collection frees. Werkzeug's matcher adds a small cycle
of its own per match (8 objects: a recursive closure in StateMachineMatcher.match). Suggested
fix: Flask-SocketIO could skip URL matching for its contexts, or clear
request.routing_exception; the course app adds routes that match /socket.io/ (routes.py).

    .venv/bin/python bench/upstream/flask_socketio_routing_cycle.py
"""

import gc

from flask import Flask
from werkzeug.test import EnvironBuilder

EVENTS = 1000


def never_served():
    return ""


def garbage_per_event(with_route: bool) -> float:
    app = Flask(__name__)
    if with_route:
        for websocket in (False, True):
            app.add_url_rule("/socket.io/", view_func=never_served, websocket=websocket)
    builder = EnvironBuilder(path="/socket.io/", query_string="EIO=4&transport=websocket")
    environ = builder.get_environ()
    gc.collect()
    gc.disable()
    for _ in range(EVENTS):
        with app.request_context(environ):  # what Flask-SocketIO does for every event
            pass
    found = gc.collect()
    gc.enable()
    return found / EVENTS


def main() -> None:
    print(f"no route for /socket.io/: {garbage_per_event(False):.0f} cyclic objects per event")
    print(f"routes that match it:     {garbage_per_event(True):.0f} cyclic objects per event")


if __name__ == "__main__":
    main()
