"""Redis restarts in the middle of a report: the app keeps serving, the report completes, and
the client ends with the final result (through a resync if the event itself was lost)."""

import time

import pytest
import requests

from autograder.client import Probe
from autograder.harness import Harness
from autograder.paths import SOLUTIONS
from autograder.services import redis_answers, start_redis
from autograder.stages import lesson03
from autograder.stages.common import REPORTS, TOKENS

pytestmark = pytest.mark.slow

STAGE_STEPS, STEP_SECONDS = 20, 0.2  # a 4 s report, so the restart lands in its middle
RECOVERY_TIMEOUT = 30.0


def watch(probe: Probe, report_id: str) -> dict:
    ack = probe.call("watch", {"report_id": report_id}, namespace=REPORTS)
    assert ack["ok"], ack
    return ack["report"]


def test_a_redis_restart_mid_report(record_property):
    with Harness() as harness:
        redis = start_redis(harness)
        scope = harness.scope()
        env = {
            **lesson03.grading_env(scope, redis.url),
            "REPORT_STEPS": str(STAGE_STEPS),
            "REPORT_STEP_SECONDS": str(STEP_SECONDS),
            # longer than the 4 s report, shorter than the time a report may go unwritten
            "TASK_VISIBILITY_TIMEOUT": "6",
            "REPORT_ABANDONED_AFTER": "12",
        }
        app = lesson03.start_with(scope, SOLUTIONS / "03_celery_rooms", redis, env)
        alice = Probe(app.url, namespaces=[REPORTS], auth={"token": TOKENS["alice"]}).connect()
        report_id = alice.call("start_report", {"title": "outage"}, namespace=REPORTS)["report"][
            "report_id"
        ]
        alice.expect("progress", namespace=REPORTS, where=lambda d: d["percent"] >= 10, timeout=10)

        harness.stop_process(redis.process)
        down_at = time.monotonic()
        assert not redis_answers(redis.url)
        # The app keeps serving while Redis is down: the page, and the state from the database.
        assert requests.get(app.url + "/", timeout=5).status_code == 200
        during = watch(alice, report_id)
        assert during["state"] == "running", during
        refused = alice.call("start_report", {"title": "no queue"}, namespace=REPORTS, timeout=10)
        assert refused["ok"] is False and "unavailable" in refused["error"], refused

        start_redis(harness, port=redis.port, binary=redis.binary)
        outage = time.monotonic() - down_at

        # The client ends with the result: as an event if it got through, else by resync.
        final, how = None, "event"
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while final is None and time.monotonic() < deadline:
            try:
                final = alice.expect(
                    "result", namespace=REPORTS, where=lambda d: d["report_id"] == report_id
                )
            except AssertionError:
                state = watch(alice, report_id)
                if state["state"] == "done":
                    final, how = state, "resync"
        recovered = time.monotonic() - down_at
        assert final is not None, f"no result within {RECOVERY_TIMEOUT:.0f} s of the restart"
        assert final["state"] == "done" and final["percent"] == 100
        assert final["result"]["built_by"]["pid"] == app.worker.pid

        # After the restart, the whole path works again: a new report, events and all.
        again_at = time.monotonic()
        new_id = None
        while new_id is None and time.monotonic() - again_at < RECOVERY_TIMEOUT:
            ack = alice.call("start_report", {"title": "after"}, namespace=REPORTS, timeout=10)
            new_id = ack["report"]["report_id"] if ack["ok"] else time.sleep(0.5)
        assert new_id, "no report could be started after Redis came back"
        result = alice.expect(
            "result",
            namespace=REPORTS,
            where=lambda d: d["report_id"] == new_id,
            timeout=RECOVERY_TIMEOUT,
        )
        assert result["state"] == "done"
        assert app.alive() and app.worker.exited() is None
        alice.disconnect()

    record_property("redis_outage_seconds", round(outage, 2))
    record_property("result_after_seconds", round(recovered, 2))
    record_property("result_arrived_by", how)
    record_property("next_report_seconds", round(time.monotonic() - again_at, 2))
    print(
        f"outage {outage:.2f} s; final result {recovered:.2f} s after the stop, by {how}; "
        f"a new report took {time.monotonic() - again_at:.2f} s"
    )
