"""How a check says it did not pass, or could not run. The bottom of the grader: imports nothing."""

from __future__ import annotations

from typing import Any


class CheckFailed(AssertionError):
    """The behaviour is wrong: what was sent, what was expected, what came back, and a hint."""

    def __init__(
        self,
        summary: str,
        *,
        sent: Any = None,
        expected: Any = None,
        received: Any = None,
        hint: str | None = None,
    ):
        super().__init__(summary)
        self.summary = summary
        self.sent = sent
        self.expected = expected
        self.received = received
        self.hint = hint


class CheckSkipped(Exception):
    """The check could not run here (e.g. no browser); the message says what to install."""


class StartError(RuntimeError):
    """A process the stage needs did not come up; the message is for the student."""
