"""nbgrader preprocessors for notebooks whose exercises are app files written by ``%%writefile``.

nbgrader's ClearSolutions swaps a solution region for the kernel's stub
(``raise NotImplementedError()``), which is wrong inside a JavaScript, HTML or CSS file.
Here a ``%%writefile`` cell gets the same stubs as the lessons/ starter
(autograder.regions.make_starter): Python raises a NotImplementedError that names the
exercise, JavaScript gets a ``// TODO Exercise N.M`` comment, and a lesson's bug hunt puts its
defect in first (bugs.py), as make_lessons does. Other cells are left to nbgrader.
"""

from __future__ import annotations

from nbformat.notebooknode import NotebookNode
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions, OverwriteCells

from ..workbook import writefile_target
from .bugs import with_bug
from .make_notebooks import APP_FOLDER
from .regions import make_starter


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
        relative = target.removeprefix(f"{APP_FOLDER}/")
        buggy = with_bug(self._assignment, relative, body) if self._assignment else body
        starter = make_starter(buggy, target, lesson_text)
        cell.source = f"{header}\n{starter}"
        return starter != body


class OverwriteCellsQuietly(OverwriteCells):
    """OverwriteCells without the warning every honest submission gets.

    A released test cell lacks its hidden tests, so nbgrader's OverwriteCells finds its
    checksum changed and warns ("Attribute 'checksum' for cell test_2_3 has changed!") on every
    such cell of every student, drowning the warning that means tampering. Here a locked cell
    that is exactly what generate_assignment released is restored quietly; any other change
    still gets nbgrader's warning.
    """

    def preprocess_cell(self, cell: NotebookNode, resources: dict, cell_index: int):
        self._as_released = self._is_as_released(cell)
        return super().preprocess_cell(cell, resources, cell_index)

    def _is_as_released(self, cell: NotebookNode) -> bool:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not grade_id or not cell.metadata.get("nbgrader", {}).get("locked"):
            return False
        try:
            source_cell = self.gradebook.find_source_cell(
                grade_id, self.notebook_id, self.assignment_id
            )
        except MissingEntry:
            return False
        released = NotebookNode({"cell_type": cell.cell_type, "source": source_cell.source})
        ClearHiddenTests()._remove_hidden_test_region(released)
        return cell.source == released.source

    def report_change(self, name: str, attr: str, old, new) -> None:
        if attr == "checksum" and self._as_released:
            self.log.debug("Cell %s is as released: its hidden tests are restored.", name)
            return
        super().report_change(name, attr, old, new)
