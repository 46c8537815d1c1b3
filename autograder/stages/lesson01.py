"""Lesson 01: ``python app.py``, the development server, nothing else."""

from __future__ import annotations

from pathlib import Path

from ..harness import Scope
from . import Stack, Stage
from .devserver import start_dev_server


def start(scope: Scope, stage_dir: Path) -> Stack:
    url, app = start_dev_server(scope, stage_dir, "app.py")
    return Stack(url, stage_dir, scope, app)


STAGE = Stage("01", start)
