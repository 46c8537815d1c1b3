"""Lesson 03's at-least-once reports hold in the deployment: two gunicorn instances behind
nginx, Redis, and a Celery worker SIGKILLed mid-report while the client watches through nginx."""

import time

import pytest

from autograder.client import Probe
from autograder.harness import Harness
from autograder.paths import SOLUTIONS
from autograder.production import find_nginx
from autograder.services import start_redis
from autograder.stages import lesson03, lesson04
from autograder.stages.common import REPORTS, TASK_VISIBILITY_TIMEOUT, delivery_env
from autograder.stages.lesson04 import TOKENS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed"),
]
STAGE = SOLUTIONS / "04_production"


def test_a_killed_workers_report_ends_with_its_result_through_nginx(record_property):
    timing = {"REPORT_STEPS": "20", "REPORT_STEP_SECONDS": "0.2", **delivery_env()}
    with Harness() as harness:
        redis = start_redis(harness)
        stack = lesson04.start_with(harness.scope(), STAGE, redis, sticky=False, extra_env=timing)
        alice = Probe(stack.url, namespaces=[REPORTS], auth={"token": TOKENS["alice"]}).connect()
        report = alice.call("start_report", {"title": "deployed"}, namespace=REPORTS)["report"]
        alice.expect("progress", namespace=REPORTS, where=lambda d: d["percent"] >= 20, timeout=10)
        lesson03.kill_worker(stack)
        killed_at = time.monotonic()
        new = lesson03.replace_worker(stack)
        result = alice.expect(
            "result",
            namespace=REPORTS,
            where=lambda d: d["report_id"] == report["report_id"],
            timeout=TASK_VISIBILITY_TIMEOUT + 10,
        )
        took = time.monotonic() - killed_at
        assert result["state"] == "done" and result["result"]["built_by"]["pid"] == new.pid
        alice.disconnect()
    record_property("result_after_kill_seconds", round(took, 1))
    print(f"the result arrived through nginx {took:.1f} s after the kill")
