"""Lesson 04's processes share one bytecode cache per run where the venv holds no compiled
modules (stages.lesson04.bytecode_cache), and leave the venv's own alone where it does."""

import importlib.util
import subprocess
import sys

from autograder.harness import Harness
from autograder.stages import lesson04


def test_a_venv_without_bytecode_gets_the_runs_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(importlib.util, "cache_from_source", lambda path: str(tmp_path / "none"))
    with Harness() as harness:
        env = lesson04.bytecode_cache(harness)
        assert env == {
            "PYTHONDONTWRITEBYTECODE": "",
            "PYTHONPYCACHEPREFIX": str(harness.work_dir / "pycache"),
        }
        # a process started with it writes there, and nowhere near the sources
        command = [sys.executable, "-c", "import flask_socketio"]
        subprocess.run(command, env=env | {"PATH": "/usr/bin:/bin"}, check=True, timeout=60)
        assert list((harness.work_dir / "pycache").rglob("flask_socketio/__init__*.pyc"))


def test_a_compiled_venv_is_left_alone(monkeypatch, tmp_path):
    compiled = tmp_path / "module.pyc"
    compiled.write_bytes(b"")
    monkeypatch.setattr(importlib.util, "cache_from_source", lambda path: str(compiled))
    with Harness() as harness:
        assert lesson04.bytecode_cache(harness) == {}
