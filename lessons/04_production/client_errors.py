"""What a client's malformed input makes the Socket.IO libraries log: one line each, counted.

python-engineio and python-socketio log every packet they cannot decode with
``logger.exception``: a dozen lines of library traceback per bad packet, from anyone who can
connect, and Werkzeug does the same for a frame that breaks a websocket. A traceback is for
our own bugs. ``install()`` keeps every traceback that passes through this app's code and
turns the others into one line with a running count per kind, so a flood shows as a number
going up. Our WSGI middleware only hands requests on: an error below it is the library's,
unless the middleware itself raised it.
"""

import logging
import re
import sys
import threading
import traceback
from collections import Counter
from pathlib import Path

APP_DIR = str(Path(__file__).resolve().parent)
MIDDLEWARE = ("polling_guard.py", "connection_budget.py", "wsgi.py")
LIBRARY_LOGGERS = ("engineio.server", "socketio.server", "werkzeug")
TRACEBACK = "Traceback (most recent call last):"
FRAME = re.compile(r'^\s*File "([^"]+)"', re.MULTILINE)
log = logging.getLogger("client_errors")
_counts: Counter = Counter()
_lock = threading.Lock()


def count(kind: str, detail: str, where: str = "") -> None:
    """Log one line for one client error of ``kind``, with how many of that kind so far."""
    with _lock:
        _counts[kind] += 1
        seen = _counts[kind]
    log.warning("client input: %s: %.200s%s (%d so far)", kind, detail, where, seen)


def is_ours(filename: str) -> bool:
    return filename.startswith(APP_DIR) and "site-packages" not in filename


def ours(filenames: list[str]) -> bool:
    """Is a traceback through these files (outermost first) one of our own bugs?"""
    handlers = [f for f in filenames if is_ours(f) and not f.endswith(MIDDLEWARE)]
    return bool(handlers) or bool(filenames and is_ours(filenames[-1]))


def passes_through_app(tb) -> bool:
    return ours([frame.filename for frame in traceback.extract_tb(tb)])


class OneLinePerClientError(logging.Filter):
    """For the libraries' loggers: a traceback that never enters our code becomes one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and not passes_through_app(error.__traceback__):
            count(type(error).__name__, str(error), f" [{record.getMessage()}]")
            return False
        message = record.getMessage() if error is None else ""
        if TRACEBACK in message and not ours(FRAME.findall(message)):  # Werkzeug's text
            count(record.name, message.strip().splitlines()[-1])
            return False
        return True


def _thread_excepthook(args) -> None:
    """A library's thread that dies of a client's doing (a websocket cut mid-write)."""
    if args.exc_value is not None and not passes_through_app(args.exc_traceback):
        name = args.thread.name if args.thread else "?"
        count(args.exc_type.__name__, str(args.exc_value), f" [thread {name}]")
    else:
        sys.__excepthook__(args.exc_type, args.exc_value, args.exc_traceback)


def _hook_gevent_hub() -> None:
    """Under gevent what escapes a greenlet, a request's included (gevent-websocket's handler
    answers a bad handshake with str where bytes belong), is printed by the hub itself, not
    logged: Hub.print_exception (gevent/hub.py), which this replaces for this process."""
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        return
    import gevent

    hub = gevent.get_hub()
    print_whole = hub.print_exception

    def print_exception(context, kind, error, tb):
        if isinstance(error, Exception) and tb is not None and not passes_through_app(tb):
            count(kind.__name__, str(error), " [gevent]")
        else:
            print_whole(context, kind, error, tb)

    hub.print_exception = print_exception


def install() -> None:
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, OneLinePerClientError) for f in logger.filters):
            logger.addFilter(OneLinePerClientError())
    threading.excepthook = _thread_excepthook
    _hook_gevent_hub()
