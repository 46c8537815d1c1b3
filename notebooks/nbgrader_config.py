"""nbgrader configuration of the course directory notebooks/ (run nbgrader from this folder).

The layout is `nbgrader quickstart`'s: source/ is committed; release/, submitted/,
autograded/, feedback/, exchange/ and gradebook.db are made by nbgrader's commands (and
gitignored). Two environment variables let one machine hold several offerings:
NBGRADER_COURSE_ID (default "production-websockets") and NBGRADER_EXCHANGE (default
notebooks/exchange, no root needed).
"""

import os
import sys
import tempfile
import warnings
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ComputeChecksums,
    DeduplicateIds,
    GetGrades,
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    OverwriteKernelspec,
    SaveCells,
)

from autograder.authoring.nbgrader_preprocessors import (
    ClearSolutionsInWrittenFiles,
    OverwriteCellsQuietly,
)
from autograder.verdict import GRADE_TIME_LIMIT, HIDDEN_DETAILS

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file
HERE = Path(__file__).resolve().parent

c.CourseDirectory.course_id = os.environ.get("NBGRADER_COURSE_ID", "production-websockets")
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", str(HERE / "exchange"))

# nbgrader runs `alembic` by name for the gradebook: use the one installed next to this Python,
# so commands work without activating the virtualenv.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

# Only notebooks travel. A workbook writes its app (app/) itself when it runs, so nothing else
# is ever copied: not from source/ into release/ (that would hand out the solution), not from
# a submission into autograded/ (no forged report, no `autograder/` package of the student's
# own next to the notebook), and not when Autograde overwrites a submission's files with the
# source versions. nbgrader has only name globs to exclude with, so these say "any name that
# does not end in .ipynb": one glob per character of the suffix.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*[!b]",
    "*[!n]b",
    "*[!y]nb",
    "*[!p]ynb",
    "*[!i]pynb",
    "*[!.]ipynb",
    "b",
    "nb",
    "ynb",
    "pynb",
    "ipynb",
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

# Restoring the hidden tests of a cell exactly as released is not a change worth a warning;
# anything else a student changed in a locked cell still is (see nbgrader_preprocessors.py).
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCellsQuietly,
    CheckCellMetadata,
]
# nbgrader's gradebook models trip an SQLAlchemy 2 warning the first time they are used.
warnings.filterwarnings("ignore", module="nbgrader.api")
warnings.filterwarnings("ignore", message=".*relationship .* will copy column.*")

# The kernel talks to nbgrader over Unix sockets, not loopback TCP: nothing else on the machine
# can reach it, and ipykernel has no reason to warn that TCP is unencrypted.
# With ipc, "ip" is the sockets' path prefix: absolute, so the kernel (which runs in the
# notebook's folder) and nbgrader find the same files.
c.KernelManager.transport = "ipc"
c.KernelManager.ip = str(Path(tempfile.gettempdir()) / f"nbgrader-kernel-{os.getpid()}")

# A test cell runs the grader twice (its visible check, then the hidden ones).
c.Execute.timeout = 2 * int(GRADE_TIME_LIMIT) + 30

# Hidden checks: their results always count; their names and details reach students only in
# feedback, and only when this is "1".
os.environ.setdefault(HIDDEN_DETAILS, "0")

# Feedback shows the outcome of hidden tests, never their code.
c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, ClearHiddenTests]
