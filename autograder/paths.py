"""Where things live in the course repository."""

import hashlib
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = COURSE_ROOT / "solutions"
LESSONS = COURSE_ROOT / "lessons"
NOTEBOOKS = COURSE_ROOT / "notebooks"
MANIFESTS = COURSE_ROOT / "course"
SOCKETIO_CLIENT_DIST = COURSE_ROOT / "node_modules" / "socket.io-client" / "dist"
VENV_BIN = COURSE_ROOT / ".venv" / "bin"
SIMPLE_WEBSOCKET_VENV = COURSE_ROOT / ".venv-simple-websocket"
UV = COURSE_ROOT / ".venv-tools" / "bin" / "uv"

# Files that belong to a running app, never to the course's source.
IGNORED_NAMES = {"__pycache__", ".pytest_cache", "instance", ".ipynb_checkpoints"}
IGNORED_SUFFIXES = {".pyc", ".log", ".sqlite3", ".db"}


def stage_dir_name(number: str) -> str:
    """'01' -> '01_basics', from whatever stages exist under solutions/."""
    for folder in sorted(SOLUTIONS.iterdir()):
        if folder.is_dir() and folder.name.split("_", 1)[0] == number.zfill(2):
            return folder.name
    known = ", ".join(p.name for p in sorted(SOLUTIONS.iterdir()) if p.is_dir())
    raise SystemExit(f"No stage {number!r}. Known stages: {known}")


def source_files(stage_dir: Path) -> list[Path]:
    """The stage's files relative to its folder, without runtime leftovers."""
    files = []
    for path in sorted(stage_dir.rglob("*")):
        relative = path.relative_to(stage_dir)
        if any(part in IGNORED_NAMES for part in relative.parts):
            continue
        if path.is_file() and path.suffix not in IGNORED_SUFFIXES:
            files.append(relative)
    return files


def folder_digest(folder: Path) -> str:
    """Changes whenever a source file of the folder changes (runtime leftovers aside)."""
    digest = hashlib.sha256()
    for relative in source_files(folder):
        try:
            data = (folder / relative).read_bytes()
        except OSError:  # removed while we looked: the next digest will differ anyway
            data = b"\0missing"
        digest.update(str(relative).encode() + b"\0" + data + b"\0")
    return digest.hexdigest()
