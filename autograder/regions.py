"""Solution regions: the parts of solutions/ a student writes, and the stubs that replace them.

A region sits between nbgrader's markers, with a hint line just above it::

    # Exercise 1.3: acknowledge with the server's clock.
    ### BEGIN SOLUTION
    return {"server_time": time.time()}
    ### END SOLUTION

JavaScript uses ``// Exercise ...``, ``// BEGIN SOLUTION`` and ``// END SOLUTION``.
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


def make_starter(text: str, filename: str, lesson_readme: str) -> str:
    """The student's copy of a solution file: every region replaced by its stub."""
    lines = text.splitlines()
    regions = find_regions(text, filename)
    out, cursor = [], 0
    for region in regions:
        out.extend(lines[cursor : region.first_line])
        out.append(stub_for(region, filename, lesson_readme))
        cursor = region.last_line + 1
    out.extend(lines[cursor:])
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")
