"""The grader's rooms: every module of autograder/ has a floor, and imports only go down.

Read from the code's own import statements, so a new upward import or a circle fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

from autograder.paths import COURSE_ROOT

PACKAGE = COURSE_ROOT / "autograder"
# From the bottom up. A module may import modules on its own floor or below, never above.
FLOORS = {
    0: {
        "paths",
        "settings",
        "failures",
        "waiting",
        "report",
        "manifest",
        "progress",
        "workbook",
        "broken_variants",
        "fork_server",
    },
    1: {"containment", "websocket_frames"},
    2: {"harness", "readiness", "feedback", "swarm", "authoring.regions", "authoring.bugs"},
    3: {
        "services",
        "production",
        "venvs",
        "client",
        "browser",
        "hints",
        "student_tests",
        "other_origin",
        "queue_listener",
    },
    4: {"stages", "stages.common", "stages.devserver"},
    5: {"stages.lesson01", "stages.lesson02", "stages.lesson03", "stages.lesson04"},
    6: {"context"},
    7: {"checks"},
    8: {"checks.lesson01", "checks.lesson02", "checks.lesson03", "checks.lesson04"},
    9: {"runner", "serve", "verdict"},
    10: {"cli", "watch", "__main__", "regrade"},
    11: {
        "authoring",
        "authoring.make_lessons",
        "authoring.make_notebooks",
        "authoring.exercise_tables",
        "authoring.nbgrader_preprocessors",
        "authoring.partial",
    },
}
FLOOR_OF = {module: floor for floor, modules in FLOORS.items() for module in modules}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or "__init__"


def imports_of(path: Path) -> set[str]:
    """The autograder modules ``path`` imports (relative and absolute), as dotted names."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
            elif (node.module or "").startswith("autograder"):
                base = []
                module = node.module.removeprefix("autograder").lstrip(".")
                node = ast.ImportFrom(module, node.names, 1)
            else:
                continue
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            for alias in node.names:
                candidate = f"{target}.{alias.name}" if target else alias.name
                found.add(candidate if candidate in FLOOR_OF else target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("autograder."):
                    found.add(alias.name.removeprefix("autograder."))
    return {f for f in found if f and f != name}


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py") if module_name(p) != "__init__"}


def test_every_module_has_a_floor():
    assert set(MODULES) - set(FLOOR_OF) == set(), "give the new module a floor in FLOORS"
    assert set(FLOOR_OF) - set(MODULES) == set(), "FLOORS names a module that is gone"


def test_no_import_runs_up():
    upward = [
        f"{name} (floor {FLOOR_OF[name]}) imports {target} (floor {FLOOR_OF[target]})"
        for name, path in MODULES.items()
        for target in imports_of(path)
        if target in FLOOR_OF and FLOOR_OF[target] > FLOOR_OF[name]
    ]
    assert not upward, "\n".join(upward)


def test_no_circles():
    graph = {name: imports_of(path) & set(MODULES) for name, path in MODULES.items()}
    visiting, done, circles = set(), set(), []

    def visit(node, trail):
        if node in done:
            return
        if node in visiting:
            circles.append(trail[trail.index(node) :] + [node])
            return
        visiting.add(node)
        for target in sorted(graph[node]):
            visit(target, [*trail, node])
        visiting.discard(node)
        done.add(node)

    for name in sorted(graph):
        visit(name, [])
    assert not circles, circles
