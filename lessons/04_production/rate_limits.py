"""Per-connection rate limits: a token bucket per connection and action, kept in its session.

A bucket holds up to ``burst`` tokens and refills at ``per_second``; every action takes one.
A person never notices (a burst of typing fits), a script that sends hundreds a second is
told to wait. Per connection, because that is what one Socket.IO session can see; a user with
many connections, or many users behind one address, is nginx's job (lesson 04).
"""

import time


class RateLimited(Exception):
    """Too many of one action on this connection; the message says how long to wait."""


def take(buckets: dict, action: str, per_second: float, burst: int, now: float | None = None):
    """Take one token of ``action`` from ``buckets`` (a connection's), or raise RateLimited."""
    now = time.monotonic() if now is None else now
    tokens, then = buckets.get(action, (burst, now))
    tokens = min(burst, tokens + (now - then) * per_second)
    if tokens < 1:
        buckets[action] = (tokens, now)
        wait = (1 - tokens) / per_second
        raise RateLimited(
            f"too many {action} on this connection: at most {burst} at once, then "
            f"{per_second:g} a second; try again in {wait:.1f} s"
        )
    buckets[action] = (tokens - 1, now)
