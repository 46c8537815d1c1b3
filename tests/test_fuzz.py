"""A seeded sample of the fuzzer in tools/fuzz_socketio.py against each stage from lesson 02 on,
as the grader starts it (lesson 04: one gunicorn instance of the deployment, directly):
malformed client events, raw websocket frames and raw polling requests. The server stays up
and serves a well-behaved client, and nothing it logged is a traceback through the app's own
code. From lesson 03 on (client_errors.py, polling_guard.py) the libraries' decode errors are
one line each too, and every polling request that is not a long poll is answered."""

import importlib.util
import sys

import pytest

from autograder.harness import Harness
from autograder.paths import COURSE_ROOT, SOLUTIONS
from autograder.stages import load_stage, start_stack
from autograder.stages.common import CHAT, NOTIFICATIONS, REPORTS
from autograder.stages.common import TOKENS as DEV_TOKENS

pytestmark = pytest.mark.slow
CASES = 2000
SEEDS = {"02": 2, "03": 3, "04": 4}
NAMESPACES = {"02": [CHAT, NOTIFICATIONS], "03": [CHAT, NOTIFICATIONS, REPORTS]}


def fuzzer_module():
    path = COURSE_ROOT / "tools" / "fuzz_socketio.py"
    spec = importlib.util.spec_from_file_location("fuzz_socketio", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("number", list(SEEDS))
def test_a_seeded_fuzz_leaves_the_server_up_without_tracebacks(number, record_property):
    fuzz = fuzzer_module()
    folder = next(SOLUTIONS.glob(f"{number}_*"))
    tokens, namespaces = DEV_TOKENS, NAMESPACES.get(number, NAMESPACES["03"])
    if number == "04":
        from autograder.stages.lesson04 import TOKENS as tokens
    with Harness() as harness:
        stack = start_stack(harness, load_stage(number).start, folder)
        url, server = stack.url, stack.app
        if number == "04":
            url, server = stack.instances[0].url, stack.instances[0].process
        before = server.log_path.stat().st_size
        summary = fuzz.Fuzzer(url, tokens["alice"], namespaces, SEEDS[number]).run(CASES)
        summary.server_up = fuzz.server_still_serves(
            url, tokens["bob"], CHAT, "get_history", {"limit": 1}
        )
        with open(server.log_path, errors="replace") as log:
            log.seek(before)
            own, library, sample = fuzz.tracebacks(log.read(), folder)
        alive = stack.alive()
    for key in ("cases", "seconds", "closed_by_server"):
        record_property(key, getattr(summary, key))
    record_property("by_kind", dict(summary.by_kind))
    record_property("library_tracebacks", library)
    record_property("polling_unanswered", len(summary.polling_unanswered))
    print(
        f"lesson {number}: {summary.cases} cases {dict(summary.by_kind)} in {summary.seconds} s; "
        f"tracebacks: {own} app, {library} library; polling unanswered "
        f"{len(summary.polling_unanswered)}, statuses {dict(summary.polling_status)}"
    )
    assert summary.cases == CASES and min(summary.by_kind.values()) > CASES // 5
    assert alive and summary.server_up, "the server did not survive the fuzz"
    assert own == 0, sample
    assert not summary.internal_errors, summary.internal_errors[:5]
    if number != "02":
        assert library == 0, "a library traceback was logged whole"
        assert not summary.polling_unanswered, summary.polling_unanswered[:5]
