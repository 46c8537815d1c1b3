"""Solution regions and the starters made from them (autograder/authoring/regions.py)."""

import shutil
import subprocess
import sys
import textwrap

import pytest

from autograder.authoring.make_lessons import expected_lesson, solution_stages
from autograder.authoring.regions import RegionError, find_regions, make_starter
from autograder.client import Probe
from autograder.harness import Harness
from autograder.paths import LESSONS
from autograder.stages import lesson01, start_stack

README = "lessons/01_basics/README.md"
MAKE_LESSONS = [sys.executable, "-m", "autograder.authoring.make_lessons"]

PYTHON_SOURCE = textwrap.dedent(
    """\
    def on_server_time():
        # Exercise 1.3: acknowledge with the server's clock.
        ### BEGIN SOLUTION
        return {"server_time": time.time()}
        ### END SOLUTION


    def untouched():
        return 42
    """
)

JS_SOURCE = textwrap.dedent(
    """\
    const socket = io();
    // Exercise 3.2: show the progress.
    // BEGIN SOLUTION
    socket.on("progress", (p) => show(p));
    // END SOLUTION
    """
)


def test_a_region_knows_its_exercise_hint_and_place():
    [region] = find_regions(PYTHON_SOURCE, "app.py")
    assert region.exercise == "1.3"
    assert region.hint == "acknowledge with the server's clock."
    assert region.indent == "    "
    assert (region.first_line, region.last_line) == (2, 4)


def test_a_python_stub_names_the_exercise_and_the_lesson_text():
    starter = make_starter(PYTHON_SOURCE, "app.py", README)
    stub = starter.splitlines()[2]
    assert stub == (
        "    raise NotImplementedError('Exercise 1.3 is not implemented yet "
        '(see lessons/01_basics/README.md, "Exercise 1.3")\')'
    )
    assert "time.time()" not in starter and "SOLUTION" not in starter
    assert "# Exercise 1.3: acknowledge" in starter, "the hint line stays for the student"
    assert starter.endswith("def untouched():\n    return 42\n"), "the rest is left alone"
    compile(starter, "app.py", "exec")


def test_a_javascript_stub_is_a_todo_that_still_runs():
    starter = make_starter(JS_SOURCE, "static/chat.js", README)
    assert "// TODO Exercise 3.2: not implemented yet" in starter
    assert 'console.warn("Exercise 3.2 is not implemented yet");' in starter
    assert 'socket.on("progress"' not in starter and "SOLUTION" not in starter


@pytest.mark.parametrize(
    "source, line, message",
    [
        ("# Exercise 1.1: a\n### BEGIN SOLUTION\n### BEGIN SOLUTION\n", 3, "nested"),
        ("x = 1\n### END SOLUTION\n", 2, "END SOLUTION without BEGIN SOLUTION"),
        ("# Exercise 1.1: a\n### BEGIN SOLUTION\nx = 1\n", 2, "BEGIN SOLUTION without END"),
        ("x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION\n", 2, "hint line"),
        ("### BEGIN SOLUTION\n### END SOLUTION\n", 1, "hint line"),
        ("// Exercise 1: a\n// BEGIN SOLUTION\n// END SOLUTION\n", 2, "hint line"),
    ],
    ids=["nested", "end-without-begin", "begin-without-end", "no-hint", "first-line", "bad-id"],
)
def test_malformed_markers_are_reported_with_file_and_line(source, line, message):
    with pytest.raises(RegionError, match=rf"^app\.py:{line}: .*{message}"):
        find_regions(source, "app.py")


def test_make_lessons_reports_a_malformed_marker_without_writing(tmp_path):
    solutions, lessons = tmp_path / "solutions", tmp_path / "lessons"
    (solutions / "01_demo").mkdir(parents=True)
    (solutions / "01_demo" / "app.py").write_text("### BEGIN SOLUTION\n### END SOLUTION\n")
    done = subprocess.run(
        [*MAKE_LESSONS, "--solutions", str(solutions), "--lessons", str(lessons)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "01_demo/app.py:1: put an '# Exercise N.M: ...' hint line" in done.stderr
    assert "Traceback" not in done.stderr
    assert not lessons.exists(), "nothing is written when a marker is wrong"


@pytest.mark.parametrize("stage", solution_stages(), ids=lambda p: p.name)
def test_every_generated_starter_is_valid_code(stage, tmp_path):
    for relative, data in expected_lesson(stage).items():
        if relative.suffix == ".py":
            compile(data, str(relative), "exec")
        elif relative.suffix in (".js", ".mjs") and shutil.which("node"):
            module = tmp_path / (relative.stem + ".mjs")
            module.write_bytes(data)
            checked = subprocess.run(
                ["node", "--check", str(module)], capture_output=True, text=True, timeout=30
            )
            assert checked.returncode == 0, f"{relative}: {checked.stderr}"


def test_the_starter_boots_and_a_stubbed_event_says_it_is_not_implemented():
    with Harness() as harness:
        app = start_stack(harness, lesson01.start, LESSONS / "01_basics")
        with Probe(app.url, name="student") as probe:
            ack = probe.call("server_time")
            error = probe.expect("error", where=lambda d: d.get("event") == "server_time")
        assert app.alive(), "a stub must not crash the server"
    assert ack["ok"] is False
    assert ack["error"].startswith("Exercise 1.3 is not implemented yet")
    assert README in ack["error"]
    assert error["error"] == ack["error"]
