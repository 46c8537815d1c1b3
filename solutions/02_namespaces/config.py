"""Configuration classes. Everything a deployment changes comes from the environment."""

import os

from sqlalchemy.pool import QueuePool, StaticPool


def _list_from_env(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _tokens_from_env(default: str) -> dict[str, str]:
    """CHAT_TOKENS="token:user,token:user" -> {token: user}."""
    pairs = _list_from_env("CHAT_TOKENS", default)
    return dict(pair.split(":", 1) for pair in pairs if ":" in pair)


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-a-secret")
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
    CHAT_TOKENS = _tokens_from_env("alice-dev-token:alice,bob-dev-token:bob")
    # The session cookie of POST /login (accounts.py): never readable by the page's scripts,
    # never sent along with another site's requests. It does not stop a page on another port
    # or subdomain of this site: the Origin check (CORS_ALLOWED_ORIGINS) does.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PING_INTERVAL = float(os.environ.get("PING_INTERVAL", "25"))

    HISTORY_LIMIT = 50
    MAX_MESSAGE_LENGTH = 500


class DevelopmentConfig(Config):
    DEBUG = False  # the reloader would start the app twice; restart it yourself


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
