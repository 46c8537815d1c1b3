"""Checks on what clients send. A bad payload is answered with an error, never a crash."""

from flask import current_app


class BadPayload(ValueError):
    """The message is for the client: what was wrong with what it sent."""


def message_text(data) -> str:
    """What on_send_message stores: chat_text(data), checked by Exercise 2.5."""
    try:
        return chat_text(data)
    except NotImplementedError:
        # Until Exercise 2.5 is done, a payload is taken as it comes, so that sending messages
        # (Exercise 2.3) already works; a malformed one is stored as whatever text it has.
        return str(data.get("text", "") if isinstance(data, dict) else data).strip()


def chat_text(data) -> str:
    """The text of a send_message payload {"text": str}, stripped."""
    limit = current_app.config["MAX_MESSAGE_LENGTH"]
    # Goal: a well-formed payload gives its text, stripped; a malformed one (not an object, no
    # string "text", or a text empty or longer than `limit` once stripped) is answered with an
    # error that says what is wrong.
    # Constraint: nothing malformed reaches the database, and no handler crashes on it.
    # (make hint EX=2.5 if you are stuck.)
    # Exercise 2.5: reject malformed send_message payloads with a clear error.
    raise NotImplementedError('Exercise 2.5 is not implemented yet (see lessons/02_namespaces/README.md, "Exercise 2.5")')


def history_limit(data) -> int:
    """How many past messages get_history should return: {"limit": int} or nothing."""
    most = current_app.config["HISTORY_LIMIT"]
    if data is None:
        return most
    limit = data.get("limit", most) if isinstance(data, dict) else None
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= most:
        raise BadPayload(f'"limit" must be a whole number from 1 to {most}')
    return limit
