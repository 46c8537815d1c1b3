"""gunicorn's settings for this app; gunicorn reads ./gunicorn.conf.py by itself.

`gunicorn wsgi:app` in this folder. Options on the command line win over this file.
"""

import gc
import os
import resource
import signal

# ONE worker per instance by default: Engine.IO keeps a client's session in the process that
# opened it, so a second worker would get polling requests for sessions it never saw ("Invalid
# session"). Scale out with more instances behind nginx (deploy/nginx/socketio.conf), or with
# WEB_CONCURRENCY=N workers and SOCKETIO_TRANSPORTS=websocket (the app refuses N > 1 with
# polling: factory.served_transports). gunicorn itself reads WEB_CONCURRENCY the same way.
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
bind = os.environ.get("BIND", "127.0.0.1:8000")


def default_worker_class() -> str:
    """gevent-websocket's worker when it is installed, else gunicorn's plain gevent worker.

    engine.io uses gevent-websocket whenever it can import it, and then only its worker
    serves websocket. Without it, `-k gevent` serves websocket through simple-websocket.
    """
    try:
        import geventwebsocket  # noqa: F401
    except ImportError:
        return "gevent"
    return "geventwebsocket.gunicorn.workers.GeventWebSocketWorker"


worker_class = os.environ.get("GUNICORN_WORKER_CLASS") or default_worker_class()

# A gevent worker serves at most worker_connections clients at once, 1000 by default: the
# 1001st client waits, silently, until someone leaves. Every client holds one connection.
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "10000"))

# gevent records where every greenlet was spawned (a chain of frames, for debugging tools).
# Each client spawns greenlets, so that costs memory and time per connection: off here.
# https://www.gevent.org/configuration.html (track_greenlet_tree, in gevent/_config.py)
os.environ.setdefault("GEVENT_TRACK_GREENLET_TREE", "false")

# Each connection is a file descriptor, and `ulimit -n` is often 1024: raise the soft limit
# to cover worker_connections (plus files and Redis), up to the hard limit.
FD_MARGIN = 256
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
wanted = worker_connections + FD_MARGIN
if soft != resource.RLIM_INFINITY and soft < wanted:
    ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))

# Fail fast (connection_budget.py): past this many requests in progress a new client gets 503
# at once, below both limits, so /healthz and short requests still find a connection.
fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
fits = worker_connections if fd_limit == resource.RLIM_INFINITY else fd_limit - FD_MARGIN
connection_budget = max(1, min(worker_connections, fits) - min(50, worker_connections // 5))


def on_starting(server):
    """Tell the app how many workers share the instance, whatever set it (-w on the command line
    wins over this file), and say so at start when the descriptors cannot cover
    worker_connections."""
    os.environ["WEB_CONCURRENCY"] = str(server.cfg.workers)  # the workers inherit it
    if server.cfg.preload_app and "gevent" in server.cfg.worker_class_str.lower():
        # gevent workers patch in init_process, after the fork: --preload imported the app in
        # the unpatched arbiter, so it chose async_mode "threading" (factory.async_mode_for).
        raise SystemExit(
            "Refusing to start: --preload with a gevent worker imports the app before gevent "
            "patches, so it would run in threading mode. Drop --preload (preload_app)."
        )
    if fits < worker_connections:
        server.log.warning(
            "ulimit -n is %s (hard limit %s), below worker_connections %d + %d: raise it "
            "(LimitNOFILE, docker ulimits) or lower WORKER_CONNECTIONS; until then new clients "
            "get 503 past %d connections",
            fd_limit,
            hard,
            worker_connections,
            FD_MARGIN,
            connection_budget,
        )


# On SIGTERM: stop accepting, tell every Socket.IO client to go (they reconnect, through
# nginx, to another instance), then wait at most this long for requests in flight.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "10"))
timeout = 30  # a worker that does not report in for this long is restarted
accesslog = "-" if os.environ.get("ACCESS_LOG") else None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
control_socket_disable = True  # gunicorn 27's ~/.gunicorn socket: not needed, and shared


# CPython collects young objects every 700 allocations and, now and then, scans EVERY live
# object: with thousands of clients that is a pause of up to a second. Connects and events
# leave next to no cyclic garbage (lesson 04, "Performance"), so collect young objects every
# 10,000 allocations (a few MB of garbage may wait longer), and never scan what the app made
# at start (it lives as long as the worker). https://docs.python.org/3/library/gc.html
GC_YOUNG_THRESHOLD = 10_000


def tune_garbage_collector() -> None:
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def post_worker_init(worker):
    """Refuse new clients at once when full (connection_budget.py), and close every Socket.IO
    connection when the worker is told to stop (graceful shutdown).

    Without this a websocket stays open until graceful_timeout runs out, and its client only
    notices when the connection is cut. With it, clients reconnect (through nginx, to another
    instance) at once, and the worker exits as soon as requests in flight are done.
    """
    from connection_budget import ConnectionBudget

    worker.wsgi = ConnectionBudget(worker.wsgi, connection_budget)
    tune_garbage_collector()  # the app is loaded: freeze what it made
    stop_accepting = worker.handle_exit

    def close_every_connection():
        from extensions import socketio

        engineio = socketio.server.eio
        worker.log.info("closing %d Socket.IO connections before exit", len(engineio.sockets))
        for connection in list(engineio.sockets.values()):
            # wait=False: a polling session nobody polls any more would block a waiting close.
            connection.close(wait=False, reason=engineio.reason.SERVER_DISCONNECT)

    def handle_exit(sig, frame):
        from factory import socket_is_patched

        if socket_is_patched():  # a gevent worker
            import gevent

            gevent.spawn(close_every_connection)
        else:  # gunicorn's threaded worker (-k gthread --threads N)
            import threading

            threading.Thread(target=close_every_connection, daemon=True).start()
        stop_accepting(sig, frame)

    signal.signal(signal.SIGTERM, handle_exit)
