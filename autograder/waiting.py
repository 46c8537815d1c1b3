"""Waiting for a condition, with a deadline: the one loop every wait in the grader uses."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll_until(
    condition: Callable[[], T],
    timeout: float,
    interval: float = 0.1,
    sleep: Callable[[float], object] = time.sleep,
    give_up: Callable[[], bool] = lambda: False,
) -> T | None:
    """Call ``condition`` until it returns something truthy (returned), ``give_up()`` holds or
    ``timeout`` seconds pass (None). An exception inside ``condition`` counts as "not yet".

    ``sleep`` lets a browser wait with Playwright's own timer, which keeps its events flowing.
    """
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            value = condition()
            if value:
                return value
        if give_up() or time.monotonic() >= deadline:
            return None
        sleep(min(interval, max(0.0, deadline - time.monotonic())))
