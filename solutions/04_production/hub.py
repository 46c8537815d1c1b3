"""CPU work in a handler, and how it keeps from stalling every other client (Exercise 4.6).

Under gevent one worker runs every client's greenlet on ONE thread, and the hub switches
between them only when the running greenlet waits (a socket, a sleep, a lock). Pure-Python work
never waits: while it runs, no other client of the worker is served, its pings included.
"""

import re
import time
from collections import Counter

from extensions import socketio

SLICE = 200  # texts counted between two pauses: well under a millisecond of work
WORD = re.compile(r"[a-z']+")


def let_others_run() -> None:
    """Called between two slices of CPU work: let every other client be served meanwhile."""
    # Goal: while one client's work runs, every other client of this worker is still served.
    # Constraint: the work never waits on anything, so gevent never switches away from it by
    # itself; and this has to work in threading mode too (python run.py).
    # (make hint EX=4.6 if you are stuck.)
    # Exercise 4.6: let the other greenlets run between two slices of work.
    ### BEGIN SOLUTION
    socketio.sleep(0)
    ### END SOLUTION


def word_statistics(texts: list[str], seconds: float) -> dict:
    """The most used words of ``texts``, counted again and again for about ``seconds``: it stands
    in for any CPU-heavy work (a big upload parsed, a chart rendered, a fuzzy search)."""
    counts: Counter = Counter()
    rounds = 0
    deadline = time.perf_counter() + seconds
    while True:
        counts.clear()
        for start in range(0, max(len(texts), 1), SLICE):
            for text in texts[start : start + SLICE] or ["a slow statistic"]:
                counts.update(WORD.findall(text.lower()))
            let_others_run()
        rounds += 1
        if time.perf_counter() >= deadline:
            break
    return {"messages": len(texts), "rounds": rounds, "top_words": counts.most_common(5)}
