"""The package's shape, checked: modules stay small, and folders import only folders below them
(docs/layout.md), so that no import cycle can form between capabilities."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mlpkit"
# From the top down: a folder may import the folders after it, never one before it. The modules
# at the package's top level ("") are the building blocks every folder uses.
ORDER = ["cli", "sweep", "tune", "cv", "runs", "report", "plots", "export", "sklearn", "training",
         "stacked", "distributed", "inference", "callbacks", "data", "config", "io", "realmlp",
         ""]  # fmt: skip
FACES = {"__init__.py", "__main__.py"}  # the package's faces hand out names from everywhere
LINE_BUDGET = 400


def folder_of(module: str) -> str:
    """``mlpkit.training.fit`` -> ``training``; a top-level module -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else ""


def imports(path: Path) -> set[str]:
    """The mlpkit modules ``path`` imports, leaving out imports only type checkers see."""
    tree = ast.parse(path.read_text())
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for n in ast.walk(node))
    package = ["mlpkit", *path.relative_to(PACKAGE).parent.parts]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped or not isinstance(node, ast.ImportFrom):
            continue
        base = package[: len(package) - node.level + 1] if node.level else []
        module = ".".join([*base, *([node.module] if node.module else [])])
        if module.startswith("mlpkit"):
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if (PACKAGE.parent / m.replace(".", "/")).exists()
            or (PACKAGE.parent / (m.replace(".", "/") + ".py")).exists()}  # fmt: skip


def test_folders_import_only_the_folders_below_them():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent == PACKAGE and path.name in FACES:
            continue
        here = folder_of(".".join(["mlpkit", *path.relative_to(PACKAGE).with_suffix("").parts]))
        assert here in ORDER, f"{here}/ is not in ORDER; place it in docs/layout.md and here"
        for module in imports(path):
            there = folder_of(module)
            if there in ORDER and ORDER.index(there) < ORDER.index(here):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not wrong, "imports that run up the layout:\n" + "\n".join(sorted(wrong))


def test_every_module_stays_within_the_line_budget():
    sizes = {p.relative_to(PACKAGE): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert sizes, "no modules found"
    assert {p: n for p, n in sizes.items() if n > LINE_BUDGET} == {}
