"""lessons/ is exactly what make_lessons generates from solutions/ (README.md excepted)."""

import shutil
import subprocess
import sys

import pytest

from autograder.paths import COURSE_ROOT, LESSONS, SOLUTIONS

MAKE_LESSONS = [sys.executable, "-m", "autograder.authoring.make_lessons"]
STAGE = "01_basics"


def make_lessons(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*MAKE_LESSONS, *arguments],
        cwd=COURSE_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_repository_lessons_match_the_solutions():
    done = make_lessons("--check")
    assert done.returncode == 0, f"{done.stdout}{done.stderr}\nrun `make lessons`"
    assert done.stdout == ""


@pytest.fixture
def tree(tmp_path):
    """A private copy of stage 01's solution and lesson, and the roots to pass to make_lessons."""
    solutions, lessons = tmp_path / "solutions", tmp_path / "lessons"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(SOLUTIONS / STAGE, solutions / STAGE, ignore=ignore)
    shutil.copytree(LESSONS / STAGE, lessons / STAGE, ignore=ignore)
    return solutions, lessons, ("--solutions", str(solutions), "--lessons", str(lessons))


def test_a_fresh_copy_is_in_sync(tree):
    *_, roots = tree
    done = make_lessons("--check", *roots)
    assert (done.returncode, done.stdout) == (0, "")


def test_an_edited_lesson_file_is_reported_and_fixed_by_regenerating(tree):
    solutions, lessons, roots = tree
    edited = lessons / STAGE / "app.py"
    edited.write_text(edited.read_text().replace("MAX_MESSAGE_LENGTH = 500", "MAX = 1"))
    (lessons / STAGE / "static" / "style.css").unlink()
    (lessons / STAGE / "stray.py").write_text("print('not from solutions/')\n")
    readme = (lessons / STAGE / "README.md").read_bytes()

    done = make_lessons("--check", *roots)
    assert done.returncode == 1
    assert f"differs: lessons/{STAGE}/app.py" in done.stdout
    assert f"missing: lessons/{STAGE}/static/style.css" in done.stdout
    assert f"not in solutions/: lessons/{STAGE}/stray.py" in done.stdout
    assert "run `make lessons`" in done.stdout

    assert make_lessons(*roots).returncode == 0
    assert make_lessons("--check", *roots).returncode == 0
    assert (lessons / STAGE / "README.md").read_bytes() == readme, "the lesson text is kept"
    assert not (lessons / STAGE / "stray.py").exists()


def test_an_edited_solution_shows_up_as_a_stale_lesson(tree):
    solutions, lessons, roots = tree
    app = solutions / STAGE / "app.py"
    app.write_text(app.read_text() + "\n# a new line the lesson does not have yet\n")
    done = make_lessons("--check", *roots)
    assert done.returncode == 1
    assert f"differs: lessons/{STAGE}/app.py" in done.stdout


def test_a_missing_lesson_text_is_reported(tree):
    solutions, lessons, roots = tree
    (lessons / STAGE / "README.md").unlink()
    done = make_lessons("--check", *roots)
    assert done.returncode == 1
    assert f"no lesson text: lessons/{STAGE}/README.md" in done.stdout
