"""Every time limit and size the grader uses, in one place (seconds unless named otherwise).

A time limit can be changed with the environment variable AUTOGRADER_<NAME>, e.g.
AUTOGRADER_APP_START_TIMEOUT=60 on a slow machine, or a short one in the repo's own tests.
"""

import os


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(f"AUTOGRADER_{name}", "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise SystemExit(f"AUTOGRADER_{name} must be a positive number of seconds, not {raw!r}.")
    return value


APP_START_TIMEOUT = _seconds("APP_START_TIMEOUT", 20.0)  # process start until it answers HTTP
EVENT_TIMEOUT = _seconds("EVENT_TIMEOUT", 3.0)  # for one expected event or acknowledgement
CHECK_TIME_LIMIT = _seconds("CHECK_TIME_LIMIT", 30.0)  # for one whole check, whatever it does
BROWSER_TIMEOUT = _seconds("BROWSER_TIMEOUT", 10.0)  # for one browser expectation
STOP_GRACE = _seconds("STOP_GRACE", 5.0)  # between SIGTERM and SIGKILL when stopping a process
VERDICT_TIME_LIMIT = _seconds("VERDICT_TIME_LIMIT", 150.0)  # one notebook cell's grading run
STUDENT_TESTS_TIME_LIMIT = _seconds("STUDENT_TESTS_TIME_LIMIT", 20.0)  # one run of their tests
PORT_ATTEMPTS = 3  # starts of an app whose free port another program took first
LOG_TAIL_LINES = 15  # lines of a crashed process's output shown to the student
