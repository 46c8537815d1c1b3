"""The exercise tables in the READMEs, generated from the manifests (course/NN_name.toml).

Each README holds its table between two marker lines; everything else in it is hand-written.
`make lessons` rewrites the tables, and a test fails when one is stale.
"""

from __future__ import annotations

from pathlib import Path

from ..manifest import LessonManifest, all_manifests
from ..paths import COURSE_ROOT, LESSONS

BEGIN = "<!-- BEGIN GENERATED: exercise table, from course/*.toml by `make lessons` -->"
END = "<!-- END GENERATED -->"


class TableError(ValueError):
    pass


def _builds_on(ids: tuple[str, ...]) -> str:
    return ", ".join(ids) or "—"


def lesson_table(lesson: LessonManifest) -> str:
    rows = [
        "| Exercise | Points | Builds on | Checks (`autograder/checks/lesson"
        f"{lesson.number}.py`) |",
        "| --- | --- | --- | --- |",
    ]
    for exercise in lesson.exercises:
        checks = ", ".join(f"`{name}`" for name in exercise.check_names)
        rows.append(
            f"| {exercise.id} {exercise.title} | {exercise.points} | "
            f"{_builds_on(exercise.depends_on)} | {checks} |"
        )
    total = sum(e.points for e in lesson.exercises)
    rows.append(f"| Total | {total} | | `make check LESSON={lesson.number}` |")
    return "\n".join(rows)


def course_table(lessons: list[LessonManifest]) -> str:
    rows = ["| Lesson | Exercises | Points |", "| --- | --- | --- |"]
    for lesson in lessons:
        titles = "; ".join(f"{e.id} {e.title}" for e in lesson.exercises)
        total = sum(e.points for e in lesson.exercises)
        rows.append(f"| {lesson.stage} | {titles} | {total} |")
    return "\n".join(rows)


def replace_table(text: str, table: str, where: str) -> str:
    if text.count(BEGIN) != 1 or text.count(END) < 1:
        raise TableError(f"{where} needs one pair of lines {BEGIN!r} ... {END!r}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def expected_documents() -> dict[Path, str]:
    """Every README with a table, as it should read."""
    lessons = all_manifests()
    documents = {}
    readme = COURSE_ROOT / "README.md"
    documents[readme] = replace_table(readme.read_text(), course_table(lessons), "README.md")
    for lesson in lessons:
        path = LESSONS / lesson.stage / "README.md"
        if path.is_file():
            where = str(path.relative_to(COURSE_ROOT))
            documents[path] = replace_table(path.read_text(), lesson_table(lesson), where)
    return documents


def stale_documents() -> list[Path]:
    return [path for path, text in expected_documents().items() if path.read_text() != text]


def write_documents() -> None:
    for path, text in expected_documents().items():
        if path.read_text() != text:
            path.write_text(text)
            print(f"{path.relative_to(COURSE_ROOT)}: exercise table updated")
