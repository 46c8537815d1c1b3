"""`make run` (python -m autograder.serve): it starts a stage, prints the URL that serves the
page, and Ctrl-C stops every process it started."""

import re
import signal
import subprocess
import sys
import time

import psutil
import pytest
import requests

from autograder.paths import COURSE_ROOT
from tests.conftest import gradable_lessons, wait_for

START_LIMIT = 60.0  # seconds for the whole stack of the biggest stage to come up
URL = re.compile(r"Open (http://\S+?)/? in your browser")


@pytest.mark.parametrize("number", gradable_lessons())
def test_make_run_serves_the_page_and_ctrl_c_stops_everything(number):
    serve = subprocess.Popen(
        [sys.executable, "-u", "-m", "autograder.serve", number, "--solution"],
        cwd=COURSE_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url, seen, deadline = None, [], time.monotonic() + START_LIMIT
        while url is None and time.monotonic() < deadline and serve.poll() is None:
            line = serve.stdout.readline()
            seen.append(line)
            if match := URL.search(line):
                url = match[1]
        assert url, "make run printed no URL:\n" + "".join(seen)
        children = psutil.Process(serve.pid).children(recursive=True)
        assert children, "make run started no process"

        page = requests.get(url + "/", timeout=5)
        assert page.status_code == 200 and "<script" in page.text

        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=20) == 0
        assert wait_for(
            lambda: not any(c.is_running() and c.status() != "zombie" for c in children), timeout=10
        ), f"left running after Ctrl-C: {[c.cmdline() for c in children if c.is_running()]}"
    finally:
        if serve.poll() is None:
            serve.kill()
        serve.wait()
