"""Temporary runner for the lesson 03/04 mistakes corpus (until tests/test_mistakes.py reads it).

Each tests/mistakes/NN_name/*.patch starts with a header, then a unified diff against
solutions/NN_name:

    # exercises: 3.2,3.3
    # check: result_reaches_only_the_room
    # message: another room

The runner applies each patch to a fresh copy of the solution, grades it with
`python -m autograder NN COPY --only EXERCISES --json`, and says whether the named check failed
with the phrase in its message (summary, expected or received), whether any check ERRORed, and
how long the grading took.

    .venv/bin/python tools/try_mistakes.py 03 [NAME ...]
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def header(patch: Path) -> dict[str, str]:
    fields = {}
    for line in patch.read_text().splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(":")
        fields[key.strip()] = value.strip()
    return fields


def try_case(number: str, patch: Path) -> dict:
    stage = next((ROOT / "solutions").glob(f"{number}_*"))
    fields = header(patch)
    with tempfile.TemporaryDirectory(prefix=f"mistake-{number}-") as tmp:
        copy = Path(tmp) / stage.name
        shutil.copytree(stage, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        applied = subprocess.run(
            ["patch", "-p1", "-s", "--no-backup-if-mismatch", "-d", str(copy), "-i", str(patch)],
            capture_output=True,
            text=True,
        )
        if applied.returncode:
            return {"case": patch.name, "verdict": "PATCH FAILED", "why": applied.stdout}
        report_path = Path(tmp) / "report.json"
        started = time.monotonic()
        command = [sys.executable, "-m", "autograder", number, str(copy)]
        command += ["--only", fields["exercises"], "--json", str(report_path)]
        run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
        took = time.monotonic() - started
        if not report_path.is_file():
            return {"case": patch.name, "verdict": "NO REPORT", "why": run.stdout[-800:], "s": took}
        report = json.loads(report_path.read_text())
    results = report["results"]
    errors = [r["check"] for r in results if r["status"] == "ERROR"]
    named = [r for r in results if r["check"] == fields["check"]]
    phrase = fields["message"].lower()
    killed = False
    shown = ""
    if named:
        result = named[0]
        shown = " | ".join(str(result.get(k)) for k in ("summary", "expected", "received"))
        killed = result["status"] == "FAIL" and phrase in shown.lower()
    verdict = "KILLED" if killed and not errors else "MISSED"
    if errors:
        verdict += f" (ERROR in {errors})"
    failed = [
        f"{r['check']}: {r['summary']}"
        + ("" if r["check"] == fields["check"] else f" {r['received']}"[:300])
        for r in results
        if r["status"] == "FAIL"
    ]
    return {
        "case": patch.name,
        "verdict": verdict,
        "s": round(took, 1),
        "failed": failed,
        "why": shown[:600] if not killed else shown[:200],
        "setup_error": report.get("setup_error"),
        "seconds": {r["check"]: r["seconds"] for r in results},
    }


def main() -> int:
    number, names = sys.argv[1].zfill(2), sys.argv[2:]
    folder = next((ROOT / "tests" / "mistakes").glob(f"{number}_*"))
    patches = sorted(folder.glob("*.patch"))
    if names:
        patches = [p for p in patches if any(n in p.name for n in names)]
    killed = 0
    for patch in patches:
        outcome = try_case(number, patch)
        killed += outcome["verdict"] == "KILLED"
        print(json.dumps(outcome), flush=True)
    print(f"lesson {number}: {killed}/{len(patches)} killed")
    return 0 if killed == len(patches) else 1


if __name__ == "__main__":
    sys.exit(main())
