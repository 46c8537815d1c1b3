"""The maintained alternative: `gunicorn -k gevent` + simple-websocket in .venv-simple-websocket.

The venv is made by the same code `make venv-simple-websocket` runs and kept between runs.
"""

import time

import pytest

from autograder.client import Probe
from autograder.harness import Harness, free_port
from autograder.paths import SIMPLE_WEBSOCKET_VENV, SOLUTIONS
from autograder.production import GEVENT_WORKER, start_gunicorn
from autograder.services import start_redis
from autograder.stages.common import CHAT
from autograder.stages.lesson04 import TOKENS, origins_for, production_env, start_simple_websocket
from autograder.venvs import main

pytestmark = pytest.mark.slow

STAGE = SOLUTIONS / "04_production"
REQUIREMENTS = "requirements-simple-websocket.txt"  # the deployment's own, for Docker
VENV_LIMIT = 120.0  # seconds to make the venv from scratch (about 10 s here)


@pytest.fixture(scope="module")
def simple_venv():
    started = time.monotonic()
    assert main(["simple-websocket"]) == 0
    seconds = time.monotonic() - started
    print(f"{SIMPLE_WEBSOCKET_VENV.name} ready in {seconds:.1f} s")
    assert seconds < VENV_LIMIT
    return SIMPLE_WEBSOCKET_VENV / "bin"


def chat_round_trip(url: str) -> str:
    with Probe(url, namespaces=[CHAT], auth={"token": TOKENS["alice"]}) as probe:
        assert probe.sio.transport() == "websocket"
        probe.call("send_message", {"text": "over simple-websocket"}, namespace=CHAT)
        got = probe.expect("message", namespace=CHAT)
        return got["text"]


def test_gevent_worker_with_simple_websocket_serves_websocket(simple_venv):
    assert (simple_venv / "gunicorn").exists()
    with Harness() as harness:
        redis = start_redis(harness)
        app = start_simple_websocket(harness.scope(), STAGE, redis)
        assert chat_round_trip(app.url) == "over simple-websocket"
        log = app.app.log_path.read_text()
        # gunicorn.conf.py chose the plain gevent worker: gevent-websocket is not there.
        assert "Using worker: gevent\n" in log, log
        packages = [
            line for line in (STAGE / REQUIREMENTS).read_text().splitlines() if line[:1].isalpha()
        ]
        assert not [p for p in packages if p.lower().startswith("gevent-websocket")]


def test_plain_gevent_worker_loses_websocket_where_gevent_websocket_is_installed():
    """Why the two cannot share a venv: in .venv (which has gevent-websocket) `-k gevent`
    makes engine.io hand the upgrade to gevent-websocket, whose handler is not running."""
    with Harness() as harness:
        redis = start_redis(harness)
        port = free_port()
        env = production_env(harness, redis.url, origins_for(port))
        url, _ = start_gunicorn(harness, STAGE, env, worker_class=GEVENT_WORKER, port=port)
        with pytest.raises(AssertionError, match="could not connect"):
            chat_round_trip(url)
