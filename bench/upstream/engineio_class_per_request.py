"""python-engineio 4.15: WSGIApp.__call__ defines a class for every request under gunicorn.

engineio/middleware.py makes `class Input` inside __call__ whenever environ has
'gunicorn.socket', so each request (each Socket.IO connection) creates a new type object. The
environ is kept for the whole connection, so the class lives that long, and a class is always
part of reference cycles: only a full garbage collection frees it. Suggested fix: define Input
once at module level.

    .venv/bin/python bench/upstream/engineio_class_per_request.py
"""

import gc
import sys

import engineio

REQUESTS = 1000


def main() -> None:
    app = engineio.WSGIApp(engineio.Server(), lambda environ, start_response: [b""])
    gc.collect()
    gc.disable()
    before = sum(isinstance(o, type) for o in gc.get_objects())
    kept = []
    for _ in range(REQUESTS):
        environ = {"gunicorn.socket": object(), "PATH_INFO": "/not-engineio"}
        app(environ, lambda status, headers: None)
        kept.append(environ)  # python-socketio keeps each connection's environ
    classes = {type(environ["eventlet.input"]) for environ in kept}
    made = sum(isinstance(o, type) for o in gc.get_objects()) - before
    size = sys.getsizeof(next(iter(classes)))
    print(f"{REQUESTS} requests: {len(classes)} distinct Input classes, {made} new type objects")
    print(f"about {size} bytes per class object alone (plus its dict, MRO and descriptors)")
    kept.clear()
    classes.clear()
    print(f"after the requests end, a full collection frees {gc.collect()} objects")


if __name__ == "__main__":
    main()
