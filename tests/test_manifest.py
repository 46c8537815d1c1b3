"""The manifests (course/NN_name.toml), the solution markers, the checks and the lesson text
agree: each exercise is listed once, and everything else follows the manifest."""

from __future__ import annotations

import re
import subprocess

import pytest

from autograder.authoring.regions import find_regions
from autograder.checks import load_checks
from autograder.manifest import ManifestError, all_manifests, parse
from autograder.paths import COURSE_ROOT, LESSONS, SOLUTIONS, source_files

MANIFESTS = all_manifests()
HEADING = re.compile(r"^## Exercise (\d+\.\d+): (.+)$", re.MULTILINE)


def own_regions(stage: str) -> dict[str, set[str]]:
    """exercise id -> the files of solutions/<stage> with a region of it (this lesson's only)."""
    found: dict[str, set[str]] = {}
    for relative in source_files(SOLUTIONS / stage):
        if relative.suffix not in {".py", ".js"}:
            continue
        for region in find_regions((SOLUTIONS / stage / relative).read_text(), str(relative)):
            if region.lesson == stage[:2]:
                found.setdefault(region.exercise, set()).add(relative.as_posix())
    return found


@pytest.fixture(params=MANIFESTS, ids=lambda m: m.stage)
def lesson(request):
    return request.param


def test_every_stage_has_a_manifest():
    stages = {p.name for p in SOLUTIONS.iterdir() if p.is_dir() and p.name[:2].isdigit()}
    assert {m.stage for m in MANIFESTS} == stages


def test_exercises_are_the_solution_regions_in_the_files_listed(lesson):
    regions = own_regions(lesson.stage)
    written = [e for e in lesson.exercises if not e.bug]  # a bug hunt has a patch, no region
    assert {e.id for e in written} == set(regions), (
        "course/ and the solution markers list other exercises"
    )
    for exercise in written:
        assert set(exercise.files) == regions[exercise.id], (
            f"{exercise.id}: files = {sorted(exercise.files)}, "
            f"but its regions are in {sorted(regions[exercise.id])}"
        )


def test_the_lesson_text_has_a_section_per_exercise_with_the_manifest_title(lesson):
    text = (LESSONS / lesson.stage / "README.md").read_text()
    assert text.splitlines()[0] == f"# {lesson.title}"
    headings = dict(HEADING.findall(text))
    assert set(headings) == set(lesson.ids)
    for exercise in lesson.exercises:
        assert headings[exercise.id] == exercise.title, exercise.id


def test_every_check_is_in_the_manifest_and_every_exercise_has_one(lesson):
    checks = load_checks(lesson.number).checks
    assert [c.name for c in checks] == [n for e in lesson.exercises for n in e.check_names]
    for exercise in lesson.exercises:
        assert exercise.check_names, f"{exercise.id} has no check"
        assert len(exercise.hints) >= 2, f"{exercise.id}: hints come in levels"
    assert {c.points for c in checks} and all(c.points > 0 for c in checks)


def test_a_manifest_that_disagrees_with_its_checks_is_refused(tmp_path, monkeypatch):
    from autograder.checks import CheckSet

    source = (COURSE_ROOT / "course" / "01_basics.toml").read_text()
    bad = tmp_path / "01_basics.toml"
    bad.write_text(source.replace("server_time_is_acknowledged = 2", "no_such_check = 2"))
    checks = CheckSet("01")
    checks.check("1.3", "a check the manifest does not list")(lambda ctx: None)
    monkeypatch.setattr(CheckSet, "manifest", parse(bad))
    with pytest.raises(ManifestError, match="does not list check"):
        checks.checks  # noqa: B018


@pytest.mark.parametrize(
    "change, message",
    [
        (('id = "1.2"', 'id = "2.2"'), "is not 1.N"),
        (('id = "1.2"', 'id = "1.1"'), "appears twice"),
        (("depends_on = []", 'depends_on = ["1.9"]'), "not exercises listed before it"),
        (("checks = { server_time_is_acknowledged = 2 }", "checks = {}"), "has no checks"),
    ],
)
def test_malformed_manifests_say_what_is_wrong(change, message, tmp_path):
    source = (COURSE_ROOT / "course" / "01_basics.toml").read_text()
    assert change[0] in source
    bad = tmp_path / "01_basics.toml"
    bad.write_text(source.replace(change[0], change[1], 1))
    with pytest.raises(ManifestError, match=message):
        parse(bad)


def test_stage_diffs_show_only_what_the_next_lesson_adds():
    """A later stage keeps the earlier lessons' markers: no diff line removes one."""
    stages = sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and p.name[:2].isdigit())
    for before, after in zip(stages[1:], stages[2:], strict=False):
        diff = subprocess.run(
            ["diff", "-ru", str(SOLUTIONS / before), str(SOLUTIONS / after)],
            capture_output=True,
            text=True,
        ).stdout
        removed = [
            line
            for line in diff.splitlines()
            if line.startswith("-") and not line.startswith("---")
            if re.search(r"(BEGIN|END) SOLUTION|Exercise \d+\.\d+:", line)
        ]
        assert not removed, f"{before} -> {after} removes markers: {removed[:3]}"


def test_lesson_01_and_02_front_ends_share_a_name():
    assert (SOLUTIONS / "01_basics" / "static" / "app.js").is_file()
    assert (SOLUTIONS / "02_namespaces" / "static" / "app.js").is_file()
