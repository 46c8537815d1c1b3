"""The app factory: build a configured app and bind the extensions to it."""

import logging
import os

import client_errors
from accounts import accounts
from celery_app import celery_init_app
from config import DevelopmentConfig, production_problems
from extensions import db, login_manager, socketio
from flask import Flask
from polling_guard import PollingGuard
from resources.socket import register_namespaces
from routes import api, pages
from signed_queue import SignedRedisManager

log = logging.getLogger(__name__)
WERKZEUG_IS_NOT_PRODUCTION = (
    "Refusing to start in production config on Werkzeug, the development server "
    "(python run.py, flask run): run `gunicorn wsgi:app` (gunicorn.conf.py)"
)


class RefusedToStart(RuntimeError):
    """The configuration is not safe to serve; the message says what to set.

    An exception, not SystemExit: gunicorn then stops with "Worker failed to boot" instead
    of starting the worker again and again.
    """


def checked_origins(origins) -> list[str]:
    """Refuse to start with "*" (any site may connect) or [] (checking turned off)."""
    if not isinstance(origins, list | tuple) or not origins or "*" in origins:
        raise ValueError(
            f"CORS_ALLOWED_ORIGINS must list the allowed origins explicitly, got {origins!r}"
        )
    return list(origins)


def socket_is_patched() -> bool:
    """Has gevent's monkey.patch_all() replaced the socket module in this process?"""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket")


def async_mode_for() -> str:
    """The Socket.IO async_mode of this process.

    "gevent" where gevent has patched the standard library: under gunicorn's gevent workers
    (they patch before they import the app) or after run_gevent.py's monkey.patch_all().
    "threading" everywhere else, e.g. in the Celery worker, which only publishes to Redis.
    """
    # Goal: "gevent" in a process gevent has patched (gunicorn's gevent workers, run_gevent.py),
    # "threading" everywhere else.
    # Constraint: decide from this process, never from what is installed.
    # (make hint EX=4.1 if you are stuck.)
    # Exercise 4.1: choose gevent in a patched process, threading otherwise.
    ### BEGIN SOLUTION
    return "gevent" if socket_is_patched() else "threading"
    ### END SOLUTION


def message_queue(config) -> SignedRedisManager | None:
    """The signed Redis queue, publishing over one connection; none in tests (TestingConfig),
    where the test client runs alone.

    One connection, because redis-py 8 caps a connection pool at 100: in a storm of connects
    every greenlet that emits takes a connection of its own, the 101st fails, and
    python-socketio replaces its Redis client, closing the subscriber's connection with the old
    pool (about a second of lost events from other instances). One shared connection never
    runs out; publishes take turns on it.
    """
    if not config["REDIS_URL"]:
        return None
    return SignedRedisManager(
        config["REDIS_URL"],
        config["SECRET_KEY"],
        channel=config["SOCKETIO_CHANNEL"],
        redis_options={"single_connection_client": True},
    )


def served_transports(config) -> list[str]:
    """The Engine.IO transports this process serves: SOCKETIO_TRANSPORTS, where several gunicorn
    workers share the instance (WEB_CONCURRENCY > 1) only without long-polling.

    The kernel hands each new TCP connection to any of the workers, and a long-polling session
    is many requests: one reaching a worker that did not open the session gets 400 "Invalid
    session", at random. Websocket only, each client stays on its worker's one connection, and
    a polling client is refused at once with 400 "Invalid transport".
    """
    # Goal: the configured transports are served, but never long-polling by several workers:
    # that configuration refuses to start, naming the two settings to change.
    # Constraint: refuse before anyone connects; spread over workers, polling would fail only at
    # random. (make hint EX=4.5 if you are stuck.)
    # Exercise 4.5: with several workers per instance, serve websocket only or refuse to start.
    ### BEGIN SOLUTION
    transports = list(config["SOCKETIO_TRANSPORTS"])
    workers = config["WEB_CONCURRENCY"]
    if workers > 1 and "polling" in transports:
        raise RefusedToStart(
            f"Refusing to start: WEB_CONCURRENCY={workers} gunicorn workers share this instance, "
            "and long-polling needs every request of a session to reach the worker that opened "
            "it (400 Invalid session at random): set SOCKETIO_TRANSPORTS=websocket, or run one "
            "worker per instance"
        )
    return transports
    ### END SOLUTION


def configure_logging(app: Flask) -> None:
    """One line per record on stderr, which gunicorn, systemd and docker all collect."""
    level = app.config["LOG_LEVEL"]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)


def refuse_unsafe_config(app: Flask) -> None:
    if not app.config.get("REQUIRED_ENVIRONMENT"):
        return  # not a production config
    if os.environ.get("FLASK_RUN_FROM_CLI"):  # `flask run` serves with Werkzeug
        raise RefusedToStart(WERKZEUG_IS_NOT_PRODUCTION)
    try:
        problems = production_problems(app.config)
    except NotImplementedError as missing:  # the starter still boots, unchecked
        log.warning("%s", missing)
        return
    if problems:
        reasons = "\n".join(f"  - {problem}" for problem in problems)
        log.critical("refusing to start in production config:\n%s", reasons)
        raise RefusedToStart(f"Refusing to start in production config:\n{reasons}")


def create_app(config_class: type = DevelopmentConfig) -> Flask:
    app = Flask(__name__)
    app.config.from_object(config_class)
    configure_logging(app)
    refuse_unsafe_config(app)

    try:
        async_mode = async_mode_for()
    except NotImplementedError as missing:  # the starter still boots, on threads
        log.warning("%s", missing)
        async_mode = "threading"
    try:
        transports = served_transports(app.config)
    except NotImplementedError as missing:  # the starter still boots, with both transports
        log.warning("%s", missing)
        transports = None
    db.init_app(app)
    socketio.init_app(
        app,
        async_mode=async_mode,  # explicit: auto-detection would pick gevent when installed
        transports=transports,  # websocket only where several workers share the instance
        cors_allowed_origins=checked_origins(app.config["CORS_ALLOWED_ORIGINS"]),
        ping_interval=app.config["PING_INTERVAL"],
        # One client's events run one after another, so its DB session (one per connection,
        # see extensions.session_scope) is never used by two threads at once.
        async_handlers=False,
        # Every web process subscribes to this Redis channel; a worker publishes to it. Every
        # message is signed with SECRET_KEY, and one without our signature is dropped.
        client_manager=message_queue(app.config),
        max_http_buffer_size=app.config["MAX_HTTP_BUFFER_SIZE"],
    )
    app.wsgi_app = PollingGuard(app.wsgi_app, app.config["MAX_HTTP_BUFFER_SIZE"])
    client_errors.install()
    celery_init_app(app)
    register_namespaces(socketio)
    login_manager.init_app(app)
    app.register_blueprint(pages)
    app.register_blueprint(accounts)
    app.register_blueprint(api)

    with app.app_context():
        db.create_all()
    log.info(
        "app ready: async_mode=%s, transports=%s, config=%s",
        async_mode,
        ",".join(socketio.server.eio.transports),
        config_class.__name__,
    )
    return app
