"""What a workbook writes: the files of its ``%%writefile`` cells, read without running it."""

from __future__ import annotations

from pathlib import Path

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


def written_files(notebook, folder: str) -> dict[str, str]:
    """What the notebook's %%writefile cells write into ``folder``, by path inside it."""
    files = {}
    for cell in notebook.cells:
        target = writefile_target(cell.source) if cell.cell_type == "code" else None
        if target and target.startswith(f"{folder}/") and ".." not in Path(target).parts:
            files[target.removeprefix(f"{folder}/")] = writefile_body(cell.source)
    return files
