"""Every command the lessons' "When it doesn't work" sections show, run against the real stage.

The sections show files under solutions/NN/troubleshooting/ (copied to lessons/NN/), and this
runs each one against the stage started the way the grader starts it, with a real redis-server
from lesson 03 on, and checks that its output says what the lesson text says it does.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import socketio

from autograder.harness import Harness
from autograder.paths import LESSONS, SOLUTIONS
from autograder.services import start_redis
from autograder.stages import load_stage, start_stack
from autograder.stages.common import REPORTS, app_env
from autograder.stages.devserver import start_dev_server

STAGES = ["01_basics", "02_namespaces", "03_celery_rooms", "04_production"]
COMMAND_TIMEOUT = 30
QUOTED = {
    # What each section quotes, in the order engineio_requests.sh asks.
    "handshake": ("HTTP/1.1 200", '{"sid":"', '"upgrades":["websocket"]', '"pingInterval":'),
    "origin": ("400 BAD REQUEST", '"Not an accepted origin."'),
    "session": ("400 BAD REQUEST", '"Invalid session not-a-session"'),
    "version": (
        "400 BAD REQUEST",
        '"The client is using an unsupported version of the Socket.IO or Engine.IO protocols"',
    ),
}


def run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def answers(output: str) -> dict[str, str]:
    """engineio_requests.sh's output, one block of text per request, in order."""
    blocks = [block for block in output.split("== ") if block.strip()]
    assert len(blocks) == len(QUOTED), output
    return dict(zip(QUOTED, blocks, strict=True))


def tokens_of(stack) -> dict[str, str]:
    pairs = [pair.split(":", 1) for pair in stack.env.get("CHAT_TOKENS", "").split(",") if pair]
    return {user: token for token, user in pairs}


@pytest.fixture
def harness():
    with Harness() as harness:
        yield harness


@pytest.fixture(params=STAGES)
def stack(request, harness):
    stage_dir = SOLUTIONS / request.param
    stack = start_stack(harness, load_stage(request.param[:2]).start, stage_dir)
    yield stack
    stack.stop()


def test_every_stage_ships_its_troubleshooting_files():
    for stage in STAGES:
        for root in (SOLUTIONS, LESSONS):
            files = {p.name for p in (root / stage / "troubleshooting").iterdir()}
            assert {"engineio_requests.sh", "run_logged.py"} <= files, (root, stage)
            readme = (LESSONS / stage / "README.md").read_text()
            for name in files:
                assert f"troubleshooting/{name}" in readme, f"{stage}'s README never shows {name}"


def test_the_four_engineio_requests_answer_as_the_lesson_says(stack):
    output = run(["sh", "troubleshooting/engineio_requests.sh", stack.url], stack.stage_dir)
    for name, block in answers(output).items():
        for quoted in QUOTED[name]:
            assert quoted in block, f"{name}: expected {quoted!r} in\n{block}"


@pytest.mark.parametrize("stage", STAGES)
def test_run_logged_shows_every_packet_and_event(stage, harness):
    stage_dir = SOLUTIONS / stage
    scope = harness.scope()
    env = {}
    if stage != "01_basics":
        env = app_env(scope, stage[:2])
    if stage[:2] in ("03", "04"):
        env["REDIS_URL"] = start_redis(scope).url
    url, process = start_dev_server(scope, stage_dir, "troubleshooting/run_logged.py", env=env)
    client = socketio.Client(reconnection=False)
    if stage == "01_basics":
        client.connect(url, transports=["websocket"])
        client.call("chat_message", {"name": "ada", "text": "hello"}, timeout=10)
        event, namespace = "chat_message", "/"
    else:
        client.connect(url, namespaces=["/chat"], auth={"token": "alice-dev-token"})
        client.call("send_message", {"text": "hello"}, namespace="/chat", timeout=10)
        event, namespace = "send_message", "/chat"
    client.disconnect()
    time.sleep(0.5)
    log = process.log_tail(200)
    assert "engineio.server: Server initialized for threading." in log, log
    assert f'received event "{event}" from' in log and f"[{namespace}]" in log, log
    assert "Sending packet MESSAGE data" in log and "Received packet MESSAGE data" in log, log
    scope.stop()


def test_a_second_instance_does_not_know_the_first_ones_session(harness):
    stack = start_stack(harness, load_stage("04").start, SOLUTIONS / "04_production")
    first, second = (instance.url for instance in stack.instances)
    output = run(["sh", "troubleshooting/sticky_sessions.sh", first, second], stack.stage_dir)
    sid = output.split("== session ", 1)[1].split(" ", 1)[0]
    assert len(sid) > 10, output
    assert "400 BAD REQUEST" in output and f'"Invalid session {sid}"' in output, output


@pytest.mark.parametrize("stage", ["03_celery_rooms", "04_production"])
def test_redis_cli_shows_the_worker_publish_and_the_task_queued(stage, harness):
    assert shutil.which("redis-cli"), "redis-cli comes with redis-server (the set-up installs it)"
    stack = start_stack(harness, load_stage(stage[:2]).start, SOLUTIONS / stage)
    redis_url = stack.env["REDIS_URL"]
    watchers = {
        name: subprocess.Popen(
            ["sh", f"troubleshooting/{name}.sh", redis_url],
            cwd=stack.stage_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("watch_emits", "watch_redis")
    }
    try:
        time.sleep(1.0)  # both have subscribed / started monitoring
        token = tokens_of(stack)["alice"]
        client = socketio.Client(reconnection=False)
        done = []
        client.on("result", lambda data=None: done.append(data), namespace=REPORTS)
        client.connect(
            stack.url, namespaces=[REPORTS], auth={"token": token}, transports=["websocket"]
        )  # the grader's nginx has no ip_hash: websocket only
        answer = client.call("start_report", {"title": "q3"}, namespace=REPORTS, timeout=10)
        assert answer["ok"], answer
        deadline = time.monotonic() + 20
        while not done and time.monotonic() < deadline:
            time.sleep(0.1)
        client.disconnect()
        time.sleep(0.5)
    finally:
        outputs = {}
        for name, watcher in watchers.items():
            watcher.terminate()
            outputs[name] = watcher.communicate(timeout=10)[0]
    assert done, "the report never finished"
    emits = outputs["watch_emits"]
    assert "subscribe" in emits and "progress" in emits and "/reports" in emits, emits[:2000]
    assert "report:alice:" in emits, emits[:2000]  # the room the worker emits to
    commands = outputs["watch_redis"]
    assert "OK" in commands.splitlines()[0], commands[:500]
    for command in ('"LPUSH" "celery"', '"BRPOP" "celery"', '"PUBLISH"'):
        assert command in commands, (command, commands[:3000])
