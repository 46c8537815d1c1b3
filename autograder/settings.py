"""Every time limit and size the grader uses, in one place (seconds unless named otherwise)."""

APP_START_TIMEOUT = 20.0  # from process start until the app answers HTTP
EVENT_TIMEOUT = 3.0  # for one expected event or acknowledgement
CHECK_TIME_LIMIT = 30.0  # for one whole check, whatever it does
BROWSER_TIMEOUT = 10.0  # for one browser expectation
STOP_GRACE = 5.0  # between SIGTERM and SIGKILL when stopping a process
LOG_TAIL_LINES = 15  # lines of a crashed process's output shown to the student
