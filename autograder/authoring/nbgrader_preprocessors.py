"""nbgrader preprocessors for notebooks whose exercises are app files written by ``%%writefile``.

nbgrader's ClearSolutions swaps a solution region for the kernel's stub
(``raise NotImplementedError()``), which is wrong inside a JavaScript, HTML or CSS file.
Here a ``%%writefile`` cell gets the same stubs as the lessons/ starter
(autograder.regions.make_starter): Python raises a NotImplementedError that names the
exercise, JavaScript gets a ``// TODO Exercise N.M`` comment. Other cells are left to nbgrader.
"""

from __future__ import annotations

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import ClearSolutions

from .regions import make_starter

WRITEFILE = "%%writefile"


def writefile_target(source: str) -> str | None:
    """The path a ``%%writefile [-a] PATH`` cell writes, or None for any other cell."""
    first_line = source.split("\n", 1)[0].split()
    if not first_line or first_line[0] != WRITEFILE:
        return None
    arguments = [word for word in first_line[1:] if not word.startswith("-")]
    return arguments[-1] if arguments else None


def writefile_body(source: str) -> str:
    """What ``%%writefile`` writes: everything after the magic line (IPython adds a final
    newline when it is missing)."""
    body = source.split("\n", 1)[1] if "\n" in source else ""
    return body if body.endswith("\n") else body + "\n"


class ClearSolutionsInWrittenFiles(ClearSolutions):
    """ClearSolutions that stubs ``%%writefile`` cells in the language of the written file."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, cell_index: int):
        self._assignment = resources.get("nbgrader", {}).get("assignment", "")
        return super().preprocess_cell(cell, resources, cell_index)

    def _replace_solution_region(self, cell: NotebookNode, language: str) -> bool:
        target = writefile_target(cell.source) if cell.cell_type == "code" else None
        if target is None:
            return super()._replace_solution_region(cell, language)
        header, _, body = cell.source.partition("\n")
        lesson_text = f"lessons/{self._assignment}/README.md"
        starter = make_starter(body, target, lesson_text)
        cell.source = f"{header}\n{starter}"
        return starter != body
