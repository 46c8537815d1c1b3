"""nbgrader configuration of the course directory notebooks/ (run nbgrader from this folder).

The layout is `nbgrader quickstart`'s: source/ is committed; release/, submitted/,
autograded/, feedback/ and gradebook.db are made by nbgrader's commands (and gitignored).
"""

import os
import sys
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ComputeChecksums,
    GetGrades,
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    SaveCells,
)

from autograder.authoring.make_notebooks import APP_FOLDER
from autograder.authoring.nbgrader_preprocessors import ClearSolutionsInWrittenFiles
from autograder.notebook import GRADE_TIME_LIMIT, REPORT_NAME

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "production-websockets"

# nbgrader runs `alembic` by name for the gradebook: use the one installed next to this Python,
# so commands work without activating the virtualenv.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

# The app a notebook writes (app/) and the grader's report belong to the run that made them.
# Ignoring them means nbgrader never copies them: not from source/ into release/ (that would
# hand out the solution), not from a submission into autograded/ (a forged report is never
# trusted), and not when Autograde overwrites a submission's files with the source versions
# (so Autograde.exclude_overwriting is not needed). The graded notebook writes app/ again when
# it is executed, so the files graded are always the student's.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    APP_FOLDER,
    REPORT_NAME,
    "*.log",
]

# Stub solution regions in %%writefile cells in the written file's language (JavaScript too).
c.GenerateAssignment.preprocessors = [
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    ClearSolutionsInWrittenFiles,
    ClearOutput,
    CheckCellMetadata,
    ComputeChecksums,
    SaveCells,
    ClearHiddenTests,
    ClearMarkScheme,
    ComputeChecksums,
    CheckCellMetadata,
]

# A test cell may grade a whole stage: the grader's own limit plus time to start and stop.
c.Execute.timeout = int(GRADE_TIME_LIMIT) + 30

# Feedback shows the outcome of hidden tests, never their code.
c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, ClearHiddenTests]
