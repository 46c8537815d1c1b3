"""Tests of the reports' rooms, in process: the worker fixture builds a report in this process.

`python -m pytest tests` in this folder runs them against your app; the grader runs them against
its reference app and broken copies of it (lesson text, "Exercise 3.7").
"""

REPORTS = "/reports"


# Goal: tests that pass on a correct app and fail when: the client that started a report does
# not get its progress and result; a client outside the report's room gets any of its events; a
# client may watch (and so join the room of) another user's report.
# Constraint: no real worker runs; the worker fixture builds what was queued when a test asks it
# to. (make hint EX=3.7 if you are stuck.)
def start_report(client, title="a report"):
    ack = client.emit("start_report", {"title": title}, namespace=REPORTS, callback=True)
    assert ack["ok"] is True
    return ack["report"]["report_id"]


def test_the_starter_gets_the_progress_and_the_result(signed_in, worker):
    alice = signed_in("alice", REPORTS)
    report_id = start_report(alice)
    worker.run()
    events = alice.get_received(REPORTS)
    progress = [e["args"][0] for e in events if e["name"] == "progress"]
    result = [e["args"][0] for e in events if e["name"] == "result"]
    assert [p["percent"] for p in progress] == [0, 50, 100]
    assert [(r["report_id"], r["state"]) for r in result] == [(report_id, "done")]


def test_a_client_outside_the_room_gets_nothing(signed_in, worker):
    alice = signed_in("alice", REPORTS)
    bob = signed_in("bob", REPORTS)
    start_report(alice)
    bob.get_received(REPORTS)  # empty bob's inbox: what came before the report
    worker.run()
    assert bob.get_received(REPORTS) == []


def test_watching_another_users_report_is_refused_and_gets_nothing(signed_in, worker):
    alice = signed_in("alice", REPORTS)
    bob = signed_in("bob", REPORTS)
    report_id = start_report(alice)
    watched = bob.emit("watch", {"report_id": report_id}, namespace=REPORTS, callback=True)
    assert watched["ok"] is False
    bob.get_received(REPORTS)
    worker.run()
    assert bob.get_received(REPORTS) == []
    mine = alice.emit("watch", {"report_id": report_id}, namespace=REPORTS, callback=True)
    assert mine["ok"] is True and mine["report"]["state"] == "done"


