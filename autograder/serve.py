"""`make run`: start a stage with everything it needs, print the URL, stop it all on Ctrl-C.

python -m autograder.serve            # the most advanced stage in lessons/
python -m autograder.serve 01 --solution
python -m autograder.serve 04 --variant simple-websocket
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from .harness import Harness, StartError
from .paths import LESSONS, SOLUTIONS, stage_dir_name
from .stages import StartFunction, load_stage, start_stack


def newest_stage() -> str:
    numbers = [p.name[:2] for p in LESSONS.iterdir() if p.is_dir() and p.name[:2].isdigit()]
    return max(numbers)


def follow_logs(harness: Harness, poll: float = 0.3) -> None:
    """Print every process's output as it comes, prefixed with its name, until one exits."""
    offsets = {process.name: 0 for process in harness.processes}
    while True:
        for process in harness.processes:
            with open(process.log_path, "rb") as log:
                log.seek(offsets[process.name])
                for line in log.read().decode(errors="replace").splitlines(keepends=True):
                    if line.endswith("\n"):
                        print(f"[{process.name}] {line}", end="", flush=True)
                        offsets[process.name] += len(line.encode())
        if any(process.exited() is not None for process in harness.processes):
            return
        time.sleep(poll)


def sign_in_tokens(chat_tokens: str) -> str:
    """CHAT_TOKENS ("token:user,...") as people read it: "token (user), ..."."""
    pairs = [pair.split(":", 1) for pair in chat_tokens.split(",") if ":" in pair]
    return ", ".join(f"{token} ({user})" for token, user in pairs)


def serve_until_interrupted(start: StartFunction, stage_dir: Path, note: str = "") -> int:
    """Start a stack, say what runs and where, show its output; Ctrl-C stops all of it."""
    with Harness(contain=False) as harness:  # people's own app, on their own machine
        try:
            app = start_stack(harness, start, stage_dir)
        except StartError as error:
            print(f"The app did not start:\n{error}", file=sys.stderr)
            return 1
        for process in harness.processes:
            print(f"  started {process.name} (pid {process.pid}), log: {process.log_path}")
        print(f"\n  Open {app.url}/ in your browser. Ctrl-C stops everything.", flush=True)
        for instance in getattr(app, "instances", []):  # lesson 04: each instance's own address
            print(f"  {instance.process.name}: {instance.url}")
        if app.env.get("REDIS_URL"):  # for the README's troubleshooting commands
            print(f"  REDIS_URL={app.env['REDIS_URL']}")
        if app.env.get("CHAT_TOKENS"):
            print(f"  Sign in with one of these tokens: {sign_in_tokens(app.env['CHAT_TOKENS'])}")
        print(flush=True)
        if note:
            print(f"  {note}")
        try:
            follow_logs(harness)
        except KeyboardInterrupt:
            print("\nStopping ...", flush=True)
            return 0
        for process in harness.processes:
            if process.exited() is not None:
                print(
                    f"{process.name} exited with code {process.exited()}:\n{process.log_tail()}",
                    file=sys.stderr,
                )
        return 1


def variants(number: str) -> dict[str, StartFunction]:
    """Other ways a stage can be run, e.g. lesson 04 on simple-websocket."""
    module = importlib.import_module(f"{__package__}.stages.lesson{number}")
    return getattr(module, "VARIANTS", {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("lesson", nargs="?", help="lesson number (default: the newest)")
    parser.add_argument("--solution", action="store_true", help="run the reference app")
    parser.add_argument("--variant", help="another way to run the stage, e.g. simple-websocket")
    args = parser.parse_args(argv)

    number = (args.lesson or newest_stage()).zfill(2)
    stage_dir = (SOLUTIONS if args.solution else LESSONS) / stage_dir_name(number)
    start = load_stage(number).start_for_people()
    if args.variant:
        known = variants(number)
        if args.variant not in known:
            names = ", ".join(sorted(known)) or "none"
            print(f"Lesson {number} has no variant {args.variant!r} (it has: {names}).")
            return 2
        start = known[args.variant]
    print(f"Starting {stage_dir.relative_to(stage_dir.parents[1])} ...", flush=True)
    note = (
        ""
        if args.solution
        else "(This is your copy in lessons/. `make run SOLUTION=1` runs the reference.)"
    )
    return serve_until_interrupted(start, stage_dir, note)


if __name__ == "__main__":
    sys.exit(main())
