"""docs/architecture.md's module table says what the code does: one row per module of salesgan_utils, and its
"imports" and "lazy imports" columns name exactly the package modules that module imports at its top level and
inside functions. Top-level imports have no cycles."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "salesgan_utils"
ROW = re.compile(r"^\| `(\w+)` \| (.+?) \| (.*?) \| (.*?) \|$")


def package_imports(path: Path) -> tuple[set[str], set[str]]:
    """(top-level, lazy-only) package modules that one module imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_nodes = {id(node) for node in tree.body}
    top, lazy = set(), set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 1:
            names = [node.module.split(".")[0]] if node.module else [alias.name for alias in node.names]
        elif node.level == 0 and node.module and node.module.split(".")[0] == "salesgan_utils":
            parts = node.module.split(".")
            names = [parts[1]] if len(parts) > 1 else [alias.name for alias in node.names]
        else:
            continue
        (top if id(node) in top_nodes else lazy).update(names)
    return top, lazy - top


def documented() -> dict[str, tuple[set[str], set[str]]]:
    rows = {}
    for line in (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            name, _, imports, lazy = match.groups()
            rows[name] = tuple({n.strip() for n in column.split(",")} - {"–", ""} for column in (imports, lazy))
    return rows


def test_every_module_has_a_row_with_its_true_imports():
    modules = {p.stem: p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    rows = documented()
    assert set(rows) == set(modules), f"missing rows: {set(modules) - set(rows)}; stale: {set(rows) - set(modules)}"
    for name, path in modules.items():
        assert rows[name] == package_imports(path), f"docs/architecture.md row of `{name}` is out of date"


def test_top_level_imports_have_no_cycle():
    graph = {p.stem: package_imports(p)[0] for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for child in sorted(graph.get(node, ())):
            assert state.get(child) != "open", f"import cycle: {' -> '.join([*trail, node, child])}"
            if child not in state:
                visit(child, [*trail, node])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
