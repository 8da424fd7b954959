"""docs/architecture.md's module table says what the code does: one row per module of salesgan_utils (a
subpackage's modules as `gan.config`, its `__init__` as `gan`), and its "imports" and "lazy imports" columns name
exactly the package modules that module imports at its top level and inside functions. Top-level imports have no
cycles."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "salesgan_utils"
ROW = re.compile(r"^\| `([\w.]+)` \| (.+?) \| (.*?) \| (.*?) \|$")


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name relative to it (the package's own __init__ left out)."""
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            names[".".join(parts)] = path
    return names


def package_imports(path: Path, known: set[str] | None = None, source: str | None = None) -> tuple[set[str], set[str]]:
    """(top-level, lazy-only) package modules that one module (its file, or `source` as if at `path`) imports.

    `from X import name` imports the module X.name when that is a module, else X (or its nearest known package).
    """
    known = set(module_names()) if known is None else known
    here = list(path.relative_to(PACKAGE).parent.parts)  # the package this module sits in, relative to the root
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"))
    top_nodes = {id(node) for node in tree.body}
    top, lazy = set(), set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level >= 1:
            parts = [*here[:len(here) - (node.level - 1)], *(node.module.split(".") if node.module else [])]
        elif node.module and node.module.split(".")[0] == "salesgan_utils":
            parts = node.module.split(".")[1:]
        else:
            continue
        names = set()
        for alias in node.names:
            name = ".".join([*parts, alias.name])
            if name not in known:
                name = ".".join(parts)
                while name and name not in known:
                    name = name.rpartition(".")[0]
            if name:
                names.add(name)
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


def test_import_resolution_on_known_cases():
    known = {"data", "gan", "gan.config", "gan.module"}
    at_root, inside = PACKAGE / "probe.py", PACKAGE / "gan" / "probe.py"
    cases = [(at_root, "from .gan import GanConfig", {"gan"}), (at_root, "from .gan.config import X", {"gan.config"}),
             (at_root, "from . import gan, data", {"gan", "data"}),
             (at_root, "from salesgan_utils.gan import module", {"gan.module"}),
             (inside, "from .config import X\nfrom ..data import Y", {"gan.config", "data"}),
             (inside, "from . import module", {"gan.module"})]
    for path, source, expected in cases:
        assert package_imports(path, known, source)[0] == expected, source
    assert package_imports(at_root, known, "def f():\n    from .data import x")[1] == {"data"}


def test_every_module_has_a_row_with_its_true_imports():
    modules = module_names()
    rows = documented()
    assert set(rows) == set(modules), f"missing rows: {set(modules) - set(rows)}; stale: {set(rows) - set(modules)}"
    for name, path in modules.items():
        assert rows[name] == package_imports(path), f"docs/architecture.md row of `{name}` is out of date"


def test_top_level_imports_have_no_cycle():
    graph = {name: package_imports(path)[0] for name, path in module_names().items()}
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
def test_no_module_is_over_600_lines():
    long = {name: n for name, path in module_names().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 600}
    assert not long, f"split these modules (one concept each): {long}"
