"""Broken copies of the reference apps, which a student's own tests must notice.

Each variant is the reference app (solutions/NN) with one behaviour broken by a few text edits.
They live here, in the grader, never in solutions/ or lessons/: a student who saw them could
write tests aimed at the edits instead of at the behaviour. What a student reads of a variant
is its ``behaviour``, never its edits. An edit whose text is no longer in the reference fails
loudly (VariantDrift), and tests/test_student_tests.py applies every one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class VariantDrift(RuntimeError):
    """A variant's edit no longer matches the reference app: update the variant."""


@dataclass(frozen=True)
class Edit:
    file: str  # relative to the stage folder
    old: str  # must occur exactly once
    new: str


@dataclass(frozen=True)
class Variant:
    name: str  # the check that grades it is tests_catch_<name>
    behaviour: str  # what is broken, as the student reads it
    edits: tuple[Edit, ...]

    def apply(self, stage_dir: Path) -> None:
        for edit in self.edits:
            path = stage_dir / edit.file
            text = path.read_text()
            if text.count(edit.old) != 1:
                raise VariantDrift(
                    f"variant {self.name}: {edit.file} holds {edit.old!r} "
                    f"{text.count(edit.old)} times, not once"
                )
            path.write_text(text.replace(edit.old, edit.new))


CHAT_PY = "resources/socket/chat.py"
BROADCAST = 'self.emit("message", message.to_dict())'
WITH_REQUEST = "from extensions import db\nfrom flask import request\n"

LESSON02 = (
    Variant(
        "missing_token_accepted",
        "a connect without any token that is let in",
        (
            Edit(
                "auth.py",
                'raise ConnectionRefusedError("authentication required: send {token} in auth")',
                'return "guest"',
            ),
        ),
    ),
    Variant(
        "unknown_token_accepted",
        "an unknown token that is let in",
        (Edit("auth.py", 'raise ConnectionRefusedError("invalid token")', 'return "guest"'),),
    ),
    Variant(
        "no_acknowledgement",
        "send_message answered without the stored message's id",
        (Edit(CHAT_PY, 'return {"ok": True, "id": message.id}', 'return {"ok": True}'),),
    ),
    Variant(
        "broadcast_skips_sender",
        "a broadcast that skips the sender",
        (Edit(CHAT_PY, BROADCAST, BROADCAST[:-1] + ", include_self=False)"),),
    ),
    Variant(
        "message_only_to_sender",
        "a message that reaches only its sender, not the other clients",
        (
            Edit(CHAT_PY, "from extensions import db\n", WITH_REQUEST),
            Edit(CHAT_PY, BROADCAST, BROADCAST[:-1] + ", room=request.sid)"),
        ),
    ),
    Variant(
        "sender_from_the_namespace",
        "messages signed with the name of whoever connected last",
        (
            Edit(
                "resources/socket/base.py",
                'self.save_session(request.sid, {"user": user})',
                'self.save_session(request.sid, {"user": user})\n        self.last_user = user',
            ),
            Edit(
                "resources/socket/base.py",
                'return self.get_session(request.sid).get("user", "?")',
                'return getattr(self, "last_user", "?")',
            ),
        ),
    ),
    Variant(
        "chat_leaks_into_notifications",
        "chat messages that also reach everyone on /notifications",
        (
            Edit(
                CHAT_PY,
                BROADCAST,
                f"{BROADCAST}\n"
                '        self.emit("message", message.to_dict(), namespace=self.notifications)',
            ),
        ),
    ),
)

REPORTS_PY = "resources/socket/reports.py"

LESSON03 = (
    Variant(
        "progress_to_everyone",
        "a report's events sent to every client on /reports, not just to its room",
        (
            Edit(
                "tasks.py",
                ".emit(event, data, to=room, namespace=REPORTS)",
                ".emit(event, data, namespace=REPORTS)",
            ),
        ),
    ),
    Variant(
        "starter_not_in_the_room",
        "a client that starts a report and never hears of it",
        (Edit(REPORTS_PY, "join_room(report.room)  # before the task", "pass  # before the task"),),
    ),
    Variant(
        "watch_without_owner_check",
        "a client let into the room of someone else's report",
        (
            Edit(
                REPORTS_PY,
                "if report is None or report.user != self.current_user():",
                "if report is None:",
            ),
        ),
    ),
)

VARIANTS: dict[str, tuple[Variant, ...]] = {"02": LESSON02, "03": LESSON03}
