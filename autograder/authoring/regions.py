"""Solution regions: the parts of solutions/ a student writes, and the stubs that replace them.

A region sits between nbgrader's markers, with a hint line just above it::

    # Exercise 1.3: acknowledge with the server's clock.
    ### BEGIN SOLUTION
    return {"server_time": time.time()}
    ### END SOLUTION

JavaScript uses ``// Exercise ...``, ``// BEGIN SOLUTION`` and ``// END SOLUTION``.

A stage keeps the markers of earlier lessons' exercises (solutions/03 still marks Exercise 2.3),
so ``diff -ru solutions/02_namespaces solutions/03_celery_rooms`` shows only what lesson 03
adds. What a student gets of a stage stubs that lesson's own regions and drops the markers of
earlier ones, keeping their code.
"""

import re
from dataclasses import dataclass

BEGIN = "BEGIN SOLUTION"
END = "END SOLUTION"
HINT = re.compile(r"^\s*(?:#|//)\s*Exercise (?P<id>\d+\.\d+):\s*(?P<text>.+?)\s*$")


class RegionError(ValueError):
    """A solution file whose markers are not well formed."""


@dataclass(frozen=True)
class Region:
    exercise: str
    hint: str
    indent: str
    first_line: int  # index of the BEGIN line
    last_line: int  # index of the END line

    @property
    def lesson(self) -> str:
        return self.exercise.split(".")[0].zfill(2)


def find_regions(text: str, filename: str = "<text>") -> list[Region]:
    lines = text.splitlines()
    regions, begin = [], None
    for index, line in enumerate(lines):
        if BEGIN in line:
            if begin is not None:
                raise RegionError(f"{filename}:{index + 1}: nested {BEGIN}")
            begin = index
        elif END in line:
            if begin is None:
                raise RegionError(f"{filename}:{index + 1}: {END} without {BEGIN}")
            hint = HINT.match(lines[begin - 1]) if begin > 0 else None
            if hint is None:
                raise RegionError(
                    f"{filename}:{begin + 1}: put an '# Exercise N.M: ...' hint line "
                    f"just above {BEGIN}"
                )
            indent = re.match(r"\s*", lines[begin]).group(0)
            regions.append(Region(hint["id"], hint["text"], indent, begin, index))
            begin = None
    if begin is not None:
        raise RegionError(f"{filename}:{begin + 1}: {BEGIN} without {END}")
    return regions


def stub_for(region: Region, filename: str, lesson_readme: str) -> str:
    where = f'see {lesson_readme}, "Exercise {region.exercise}"'
    if filename.endswith((".js", ".mjs")):
        return (
            f"{region.indent}// TODO Exercise {region.exercise}: not implemented yet ({where}).\n"
            f'{region.indent}console.warn("Exercise {region.exercise} is not implemented yet");'
        )
    message = f"Exercise {region.exercise} is not implemented yet ({where})"
    return f"{region.indent}raise NotImplementedError({message!r})"


def _rewrite(text: str, filename: str, lesson: str | None, own_region) -> str:
    """``text`` with each region of ``lesson`` (every region when None) replaced by
    ``own_region(region, code_lines)`` and each other region reduced to its code."""
    lines = text.splitlines()
    out, cursor = [], 0
    for region in find_regions(text, filename):
        out.extend(lines[cursor : region.first_line - 1])  # up to the hint line
        code = lines[region.first_line + 1 : region.last_line]
        if lesson is None or region.lesson == lesson:
            out.extend(own_region(region, code))
        else:
            out.extend(code)
        cursor = region.last_line + 1
    out.extend(lines[cursor:])
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def make_starter(text: str, filename: str, lesson_readme: str, lesson: str | None = None) -> str:
    """The student's copy of a solution file: every region of ``lesson`` replaced by its stub
    (every region when ``lesson`` is None), the markers of other lessons' regions dropped."""
    lines = text.splitlines()

    def stub(region: Region, code: list[str]) -> list[str]:
        return [lines[region.first_line - 1], stub_for(region, filename, lesson_readme)]

    return _rewrite(text, filename, lesson, stub)


def make_partial(
    text: str, filename: str, lesson_readme: str, lesson: str, solved: set[str]
) -> str:
    """A student's copy part-way through ``lesson``: the regions of the exercises in ``solved``
    keep their solution, the lesson's other regions get the starter's stubs."""
    lines = text.splitlines()

    def stub_unless_solved(region: Region, code: list[str]) -> list[str]:
        if region.exercise in solved:
            return code
        return [lines[region.first_line - 1], stub_for(region, filename, lesson_readme)]

    return _rewrite(text, filename, lesson, stub_unless_solved)


def only_own_markers(text: str, filename: str, lesson: str) -> str:
    """The solution file as a lesson's workbook writes it: the markers of ``lesson``'s own
    regions kept, those of earlier lessons dropped (their code stays)."""
    lines = text.splitlines()

    def keep(region: Region, code: list[str]) -> list[str]:
        return lines[region.first_line - 1 : region.last_line + 1]

    return _rewrite(text, filename, lesson, keep)
