"""`make bench BENCH_ARGS=--quick`, made smaller: the bench runs all three servers and writes its
table. The figures themselves are the bench's business (bench/results/), not a test's."""

import json
import subprocess
import sys

import pytest

from autograder.paths import COURSE_ROOT
from bench.report import read_json
from bench.servers import COURSE_SERVERS, SERVERS

pytestmark = pytest.mark.slow

CLIENTS, WAVES = 20, 3
TIME_LIMIT = 240.0  # about 60 s here: three servers, a Redis and a Celery worker each


def test_quick_bench_runs_every_server_and_writes_its_table(tmp_path):
    command = [sys.executable, "-m", "bench", "--quick", "--levels", str(CLIENTS)]
    command += ["--waves", str(WAVES), "--out", str(tmp_path), "--no-plot"]
    done = subprocess.run(
        command, cwd=COURSE_ROOT, capture_output=True, text=True, timeout=TIME_LIMIT
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    document, rows = read_json(tmp_path / "lesson04_vs_node_quick.json")
    assert [row.server for row in rows] == SERVERS
    for row in rows:
        assert row.note == "", f"{row.server}: {row.note}"
        assert row.held == CLIENTS, f"{row.server} held {row.held} of {CLIENTS}"
        assert len(row.waves_ms) == WAVES and row.waves_complete == WAVES, row
        assert row.kib_per_connection is not None
        if row.server in COURSE_SERVERS:  # a Celery task reaches them through Redis
            assert row.worker_to_client_ms, f"no worker -> client ticks reached {row.server}"
    assert json.loads((tmp_path / "lesson04_vs_node_quick.json").read_text()) == document

    table = (tmp_path / "lesson04_vs_node_quick.md").read_text()
    header = next(line for line in table.splitlines() if line.startswith("| clients"))
    assert all(server in header for server in SERVERS)
    for measure in ("connects per second", "KiB per idle connection", "send → last client"):
        assert f"| {CLIENTS} | {measure}" in table
    assert "## Goals (issue 12)" in table
    assert not (tmp_path / "lesson04_vs_node_quick.png").exists()  # --no-plot
