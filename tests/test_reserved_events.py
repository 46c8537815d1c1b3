"""A client cannot fake the connection's own events, and a handler takes only what it documents.

python-socketio runs on_disconnect for an event a client EMITS under the name "disconnect"
(socketio.Server._trigger_event); BaseSocket.trigger_event (lessons 02-04) tells the two apart.
Real processes: each stage as the grader starts it, real python-socketio clients.
"""

import pytest

from autograder.client import Probe
from autograder.harness import Harness
from autograder.paths import SOLUTIONS
from autograder.stages import load_stage, start_stack
from autograder.stages.common import CHAT, NOTIFICATIONS
from autograder.stages.common import TOKENS as DEV_TOKENS

STAGES = [
    pytest.param("02", id="02"),
    pytest.param("03", id="03"),
    pytest.param("04", id="04", marks=pytest.mark.slow),
]
TRACEBACK = "Traceback (most recent call last)"


def tokens_for(number: str) -> dict[str, str]:
    if number == "04":
        from autograder.stages.lesson04 import TOKENS

        return TOKENS
    return DEV_TOKENS


@pytest.fixture(params=STAGES)
def stack(request):
    number = request.param
    with Harness() as harness:
        folder = next(SOLUTIONS.glob(f"{number}_*"))
        app = start_stack(harness, load_stage(number).start, folder)
        app.tokens = tokens_for(number)
        yield app


def connect(stack, user: str) -> Probe:
    probe = Probe(
        stack.url,
        namespaces=[CHAT, NOTIFICATIONS],
        auth={"token": stack.tokens[user]},
        name=user,
    )
    return probe.connect()


def logs(stack) -> str:
    return "\n".join(p.log_path.read_text(errors="replace") for p in stack.scope.processes)


def test_an_emitted_disconnect_or_connect_changes_nothing(stack):
    alice = connect(stack, "alice")
    bob = connect(stack, "bob")
    bob.drain()
    for namespace in (CHAT, NOTIFICATIONS):
        for event in ("disconnect", "connect"):
            ack = alice.call(event, {"token": stack.tokens["alice"]}, namespace=namespace)
            assert ack["ok"] is False and "reserved" in ack["error"], ack
    bob.expect_nothing(
        "notice", namespace=NOTIFICATIONS, within=1.0, why="alice neither left nor joined"
    )
    assert alice.sio.connected
    sent = alice.call("send_message", {"text": "still here"}, namespace=CHAT)
    assert sent["ok"] is True, sent
    carol = connect(stack, "carol")
    joined = bob.expect("notice", namespace=NOTIFICATIONS, where=lambda n: n.get("user") == "carol")
    assert joined["online"] == 3, f"alice's presence row was deleted: {joined}"
    carol.disconnect()
    alice.disconnect()
    bob.disconnect()
    assert TRACEBACK not in logs(stack)


def test_extra_missing_and_unknown_arguments_get_the_validation_error(stack):
    alice = connect(stack, "alice")
    probes = [
        ("send_message", ({"text": "hi"}, "extra"), "takes at most one argument"),
        ("get_history", ({"limit": 1}, 2, 3), "takes at most one argument"),
        ("send_message", None, 'expected an object {"text": str}'),
        ("get_history", ({"limit": "all"},), '"limit" must be'),
        ("no_such_event", ({},), 'there is no event "no_such_event"'),
    ]
    for event, data, error in probes:
        ack = alice.sio.call(event, data, namespace=CHAT, timeout=5)
        assert ack["ok"] is False and error in ack["error"], (event, data, ack)
        assert "internal server error" not in ack["error"]
        alice.expect(
            "error", namespace=CHAT, where=lambda e, ev=event: e["event"] == ev
        )  # the page shows it
    alice.disconnect()
    assert TRACEBACK not in logs(stack)
