"""Facts every stage shares with the checks that drive it: the test users, timings, names."""

from __future__ import annotations

import uuid

from ..harness import Launcher

# The users the grader signs in as. The apps take them from CHAT_TOKENS.
TOKENS = {"alice": "alice-dev-token", "bob": "bob-dev-token", "carol": "carol-dev-token"}
# Seconds between Engine.IO pings: short, so a dropped polling client is noticed quickly.
PING_INTERVAL = 5
# The Celery app of lessons 03-04, as `celery -A` names it.
CELERY_APP = "make_celery:celery_app"
CHAT, NOTIFICATIONS, REPORTS = "/chat", "/notifications", "/reports"
# At-least-once reports (lessons 03-04; the apps' config.py explains each), scaled to the
# grader's reports of 1-4 s: Redis gives a dead worker's task to another after 5 s, a silent
# report may be taken over after 1.5 s, and one no worker writes any more fails after 12 s.
TASK_VISIBILITY_TIMEOUT, REPORT_LEASE_SECONDS, REPORT_ABANDONED_AFTER = 5.0, 1.5, 12.0


def chat_tokens(tokens: dict[str, str] = TOKENS) -> str:
    """CHAT_TOKENS as the apps read it: "token:user,token:user"."""
    return ",".join(f"{token}:{user}" for user, token in tokens.items())


def delivery_env() -> dict[str, str]:
    return {
        "TASK_VISIBILITY_TIMEOUT": str(TASK_VISIBILITY_TIMEOUT),
        "REPORT_LEASE_SECONDS": str(REPORT_LEASE_SECONDS),
        "REPORT_ABANDONED_AFTER": str(REPORT_ABANDONED_AFTER),
    }


def private_database(scope: Launcher, lesson: str) -> str:
    """A DATABASE_URL of a fresh SQLite file in the run's work folder."""
    return f"sqlite:///{scope.work_dir / f'lesson{lesson}-{uuid.uuid4().hex[:8]}.sqlite3'}"


def app_env(scope: Launcher, lesson: str, **extra: str) -> dict[str, str]:
    """What every graded app of lesson 02 on is started with: its own database, the test users."""
    return {
        "DATABASE_URL": private_database(scope, lesson),
        "CHAT_TOKENS": chat_tokens(),
        "PING_INTERVAL": str(PING_INTERVAL),
        **extra,
    }
