"""The documents point at things that exist: links, file paths and exercise sections."""

import re
from pathlib import Path

import pytest

from autograder.paths import COURSE_ROOT, LESSONS

DOCUMENTS = [
    COURSE_ROOT / "README.md",
    *sorted(LESSONS.glob("*/README.md")),
    *sorted((COURSE_ROOT / "notebooks").glob("README.md")),
    *sorted(
        path
        for path in (COURSE_ROOT / "bench").glob("**/README.md")
        if "node_modules" not in path.parts  # the Node reference server's packages
    ),
]
LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)#\s]+)")
CODE_PATH = re.compile(r"`([\w.-]+/[\w./-]+\.(?:py|js|html|css|toml|json|conf|yml|md|ipynb))`")
# Placeholders (lessonNN.py, the README's example lesson 05) and what nbgrader's commands
# produce are not files to look for.
NOT_A_REAL_PATH = re.compile(r"NN|05_name|lesson05|^(release|submitted|autograded|feedback)/")


def relative_name(path: Path) -> str:
    return str(path.relative_to(COURSE_ROOT))


@pytest.mark.parametrize("document", DOCUMENTS, ids=relative_name)
def test_links_resolve(document):
    broken = [
        target
        for target in LINK.findall(document.read_text())
        if not (document.parent / target).exists()
    ]
    assert not broken, f"{relative_name(document)} links to missing files: {broken}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=relative_name)
def test_code_paths_exist(document):
    """A path in backticks (with a folder) names a real file, next to the document, in the
    stage's solution or from the course root."""
    stage = document.parent
    solution = COURSE_ROOT / "solutions" / stage.name
    missing = [
        name
        for name in set(CODE_PATH.findall(document.read_text()))
        if not NOT_A_REAL_PATH.search(name)
        and not any((base / name).exists() for base in (stage, COURSE_ROOT, solution))
    ]
    assert not missing, f"{relative_name(document)} names files that do not exist: {missing}"


def test_readme_gives_the_two_commands():
    readme = (COURSE_ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme


def test_ci_runs_the_readme_test_command():
    assert "make test" in (COURSE_ROOT / ".ci" / "run").read_text()


def test_browser_tests_share_one_playwright():
    """pytest-playwright keeps one sync Playwright running for the session; a test that starts
    its own fails with "Sync API inside the asyncio loop" whenever it runs after another."""
    tests = COURSE_ROOT / "tests"
    offenders = [
        relative_name(path)
        for path in tests.rglob("*.py")
        if "sync_playwright" + "(" in path.read_text() and path.name != "conftest.py"
    ]
    assert not offenders, f"use the `browser` fixture from tests/conftest.py in: {offenders}"
