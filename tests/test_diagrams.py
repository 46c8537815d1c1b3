"""The architecture diagrams are current: each solutions/NN/diagrams/*.dot, rendered by Graphviz
now, gives exactly the .svg committed next to it (and copied to lessons/), and the lesson text
shows it. `make diagrams` regenerates them; the set-up installs Graphviz
(tools/ensure-system-packages.sh), so a missing `dot` is a failure, not a skip."""

import shutil
import subprocess

import pytest

from autograder.paths import LESSONS, SOLUTIONS

SOURCES = sorted(SOLUTIONS.glob("*/diagrams/*.dot"))


def relative(path) -> str:
    return str(path.relative_to(SOLUTIONS))


def test_there_are_diagrams_for_lessons_03_and_04():
    stages = {source.parents[1].name for source in SOURCES}
    assert {"03_celery_rooms", "04_production"} <= stages, stages


@pytest.mark.parametrize("source", SOURCES, ids=relative)
def test_the_svg_is_what_dot_renders_now(source):
    dot = shutil.which("dot")
    assert dot, "Graphviz's dot is missing: run `make setup` (tools/ensure-system-packages.sh)"
    rendered = subprocess.run(
        [dot, "-Tsvg", str(source)], capture_output=True, check=True, timeout=60
    ).stdout
    svg = source.with_suffix(".svg")
    assert svg.is_file(), f"{relative(svg)} is missing: run `make diagrams`"
    assert svg.read_bytes() == rendered, f"{relative(svg)} is stale: run `make diagrams`"
    copy = LESSONS / source.parents[1].name / "diagrams" / svg.name
    assert copy.read_bytes() == rendered, f"{copy} is stale: run `make diagrams`"


@pytest.mark.parametrize("source", SOURCES, ids=relative)
def test_the_lesson_text_shows_the_diagram(source):
    readme = (LESSONS / source.parents[1].name / "README.md").read_text()
    assert f"](diagrams/{source.with_suffix('.svg').name})" in readme
