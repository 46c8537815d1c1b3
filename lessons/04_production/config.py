"""Configuration classes. Everything a deployment changes comes from the environment.

APP_CONFIG=production selects ProductionConfig, which has no defaults for secrets: the app
refuses to start without them, or with the development ones (see production_problems),
instead of running with a key or tokens anyone can read in this repository.
"""

import os

from sqlalchemy.pool import QueuePool, StaticPool


def _list_from_env(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _tokens_from_env(default: str) -> dict[str, str]:
    """CHAT_TOKENS="token:user,token:user" -> {token: user}."""
    pairs = _list_from_env("CHAT_TOKENS", default)
    return dict(pair.split(":", 1) for pair in pairs if ":" in pair)


DEV_SECRET = "dev-only-not-a-secret"
DEV_CHAT_TOKENS = "alice-dev-token:alice,bob-dev-token:bob"  # printed in the lessons


class Config:
    # Signs every message on the Socket.IO message queue (signed_queue.py): web instances and
    # workers must share it, and nobody else may have it.
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET)
    PORT = int(os.environ.get("PORT", "5000"))

    # A relative SQLite path lands in the app's instance/ folder (git-ignored).
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "sqlite:///chat.sqlite3")
    # A real QueuePool even for SQLite, so a leaked session really exhausts it.
    SQLALCHEMY_ENGINE_OPTIONS = {
        "poolclass": QueuePool,
        "pool_size": 5,
        "max_overflow": 10,
        "pool_timeout": float(os.environ.get("DB_POOL_TIMEOUT", "30")),
        # Socket.IO handlers run in many threads; the pool hands a connection to any of them.
        "connect_args": {"check_same_thread": False},
    }

    # An explicit list of the pages allowed to connect: never "*" and never [].
    CORS_ALLOWED_ORIGINS = _list_from_env(
        "CORS_ALLOWED_ORIGINS", f"http://127.0.0.1:{PORT},http://localhost:{PORT}"
    )
    CHAT_TOKENS = _tokens_from_env(DEV_CHAT_TOKENS)
    # The session cookie of POST /login (accounts.py): never readable by the page's scripts,
    # never sent along with another site's requests. It does not stop a page on another port
    # or subdomain of this site: the Origin check (CORS_ALLOWED_ORIGINS) does.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PING_INTERVAL = float(os.environ.get("PING_INTERVAL", "25"))
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    INSTANCE_NAME = os.environ.get("INSTANCE_NAME", "")  # which server answered, behind nginx

    # One Redis carries both the Socket.IO message queue and Celery's task queue.
    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    # The Socket.IO queue's pub/sub channel: one per app when several apps share a Redis, since
    # pub/sub ignores the database number in REDIS_URL (signed_queue.py).
    SOCKETIO_CHANNEL = os.environ.get("SOCKETIO_CHANNEL", "flask-socketio")
    # Scale-out: how many gunicorn workers share this instance's port (gunicorn.conf.py keeps
    # it true whatever -w says), and the Engine.IO transports it serves. Several workers need
    # SOCKETIO_TRANSPORTS=websocket (factory.served_transports).
    WEB_CONCURRENCY = int(os.environ.get("WEB_CONCURRENCY", "1"))
    SOCKETIO_TRANSPORTS = _list_from_env("SOCKETIO_TRANSPORTS", "polling,websocket")
    CELERY = {
        "broker_url": REDIS_URL,
        # kombu's Redis transport, without two crashes of late acknowledgement (in the file).
        "broker_transport": "redis_transport:Transport",
        "task_ignore_result": True,  # a report's state lives in the database (models.Report)
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # a worker waits out a Redis restart
        # With acks_late (celery_app.py), when the connection to Redis breaks Celery either
        # cancels the running tasks or lets them finish while Redis may deliver them again.
        # Ours finish; tasks.claim() makes the second delivery do nothing.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "broker_transport_options": {
            "socket_timeout": 5,
            "socket_connect_timeout": 2,
            # How often a worker looks for tasks whose visibility timeout ran out (kombu's
            # Redis transport): every second, instead of every 100 s (10 s x throttle 10).
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        },
    }
    # How long building a report takes: REPORT_STEPS steps of REPORT_STEP_SECONDS each.
    REPORT_STEPS = int(os.environ.get("REPORT_STEPS", "10"))
    REPORT_STEP_SECONDS = float(os.environ.get("REPORT_STEP_SECONDS", "0.8"))
    # How long the worker waits for Redis to come back before it gives up on an event.
    QUEUE_RETRY_SECONDS = float(os.environ.get("QUEUE_RETRY_SECONDS", "20"))
    # At-least-once reports (celery_app.py, tasks.py). How long Redis leaves a task with a
    # worker that has not acknowledged it before giving it to another (longer than the longest
    # report); how long a running report may go without a heartbeat before another run may take
    # it over; how long until a report no worker writes any more is marked failed.
    TASK_VISIBILITY_TIMEOUT = float(os.environ.get("TASK_VISIBILITY_TIMEOUT", "30"))
    REPORT_LEASE_SECONDS = float(os.environ.get("REPORT_LEASE_SECONDS", "10"))
    REPORT_ABANDONED_AFTER = float(os.environ.get("REPORT_ABANDONED_AFTER", "60"))

    HISTORY_LIMIT = 50
    MAX_MESSAGE_LENGTH = 500
    MAX_TITLE_LENGTH = 80

    # Bounds on what one client may do. Per connection, (events a second, burst): a person
    # typing never meets them, a script sending hundreds a second does (rate_limits.py).
    RATE_LIMITS = {"send_message": (2.0, 10), "start_report": (0.2, 3), "statistics": (0.2, 3)}
    # How long the chat statistics keep the CPU busy (hub.py, Exercise 4.6): they stand in for
    # any CPU-heavy work a handler may do.
    STATISTICS_SECONDS = float(os.environ.get("STATISTICS_SECONDS", "1.5"))
    # The largest HTTP body or websocket message Engine.IO takes (its default is 1 MB). Our
    # largest legitimate message is a 500-character chat message, at most about 3 KB as JSON;
    # a long-polling POST may batch a few dozen of them.
    MAX_HTTP_BUFFER_SIZE = 64 * 1024


class DevelopmentConfig(Config):
    DEBUG = False  # the reloader would start the app twice; restart it yourself


class ProductionConfig(Config):
    """What a deployment must set: REQUIRED_ENVIRONMENT, none of it the development values."""

    # No defaults: a missing value is refused, never replaced by the development one.
    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    CORS_ALLOWED_ORIGINS = _list_from_env("CORS_ALLOWED_ORIGINS", "")
    CHAT_TOKENS = _tokens_from_env("")
    # The session cookie of POST /login travels over HTTPS only (TLS at nginx); "0" lets you
    # try the production settings over plain http, never on a server.
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "1") != "0"
    REQUIRED_ENVIRONMENT = (
        "SECRET_KEY",
        "CORS_ALLOWED_ORIGINS",
        "REDIS_URL",
        "DATABASE_URL",
        "CHAT_TOKENS",
    )
    DEV_SECRET = DEV_SECRET
    DEV_TOKENS = tuple(pair.split(":", 1)[0] for pair in DEV_CHAT_TOKENS.split(","))
    MIN_SECRET_LENGTH = 16
    MIN_TOKEN_LENGTH = 16


class TestingConfig(Config):
    """What tests/conftest.py builds its app with: nothing here comes from the environment."""

    TESTING = True
    SECRET_KEY = "testing-only"
    # In memory, and ONE connection (StaticPool): each new connection to "sqlite://" would be
    # another, empty database. A fresh app gets a fresh engine, so every test starts empty.
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    SQLALCHEMY_ENGINE_OPTIONS = {
        "poolclass": StaticPool,
        "connect_args": {"check_same_thread": False},
    }
    CORS_ALLOWED_ORIGINS = ["http://localhost"]
    CHAT_TOKENS = {"alice-test-token": "alice", "bob-test-token": "bob"}
    # No message queue: the test client refuses one, and tests/conftest.py's worker runs the
    # reports in the test's own process, emitting through the app's own server.
    REDIS_URL = None
    REPORT_STEPS, REPORT_STEP_SECONDS = 2, 0.0


CONFIGS = {"development": DevelopmentConfig, "production": ProductionConfig}


def config_from_env() -> type:
    """The class APP_CONFIG names (development when unset)."""
    name = os.environ.get("APP_CONFIG", "development")
    if name not in CONFIGS:
        raise SystemExit(f"APP_CONFIG must be one of {sorted(CONFIGS)}, not {name!r}")
    return CONFIGS[name]


def production_problems(config, environ=os.environ) -> list[str]:
    """Why this production config must not start: one sentence per problem, [] when it may.

    Checked: every name in REQUIRED_ENVIRONMENT is set in ``environ``; SECRET_KEY is at least
    MIN_SECRET_LENGTH characters and not the development default; CORS_ALLOWED_ORIGINS lists
    origins and none of them is "*"; CHAT_TOKENS, when set, gives at least one token:user
    pair, and every token is at least MIN_TOKEN_LENGTH characters and none of DEV_TOKENS.
    Each sentence names its variable, and never prints a secret.
    """
    # Goal: one sentence for each problem the docstring lists, [] when there is none.
    # Constraint: each sentence names its variable, and no sentence shows a secret.
    # (make hint EX=4.2 if you are stuck.)
    # Exercise 4.2: say why a production config must not start.
    raise NotImplementedError('Exercise 4.2 is not implemented yet (see lessons/04_production/README.md, "Exercise 4.2")')
