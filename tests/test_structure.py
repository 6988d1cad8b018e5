"""The house has one direction (issue #15): core ← inspection (ops_checks) ← Dagster definitions ← command
line; no import cycle, none hidden in a function; no module over 400 lines."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400

FACE = {
    "laiou_assets.cli",
    "laiou_assets.running",
    "laiou_assets.building",
    "laiou_assets.status",
    "laiou_assets.serve",
    "laiou_assets.publishing",
    "laiou_assets.reporting",
    "laiou_assets.superset.launch",
}
LAYERS = ("core", "inspection", "defs", "face")  # each may import its own layer and those before it


def layer(module: str) -> str:
    if module.startswith("ops_checks"):
        return "inspection"
    if module.startswith(("laiou_assets.defs", "laiou_assets.definitions")):
        return "defs"
    if module in FACE or module.startswith("bench"):
        return "face"
    return "core"


def modules() -> dict[str, Path]:
    found = {}
    for folder in ("laiou_assets", "ops_checks", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def imports_of(path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """(module imported, line, inside a function) for every import of the project's own modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = {
        node
        for top in ast.walk(tree)
        if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(top)
        if isinstance(node, ast.Import | ast.ImportFrom)
    }
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        target = next((n for n in names if n in known), None)
        if target:
            out.append((target, node.lineno, node in functions))
    return out


def test_every_import_points_down_the_layers():
    found = modules()
    wrong = []
    for name, path in found.items():
        for target, line, _ in imports_of(path, set(found)):
            if LAYERS.index(layer(target)) > LAYERS.index(layer(name)):
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {layer(name)} {name} imports {layer(target)} {target}")
    assert not wrong, "\n".join(wrong)


def test_the_import_graph_has_no_cycle_counting_imports_inside_functions():
    found = modules()
    graph = {name: {t for t, _, _ in imports_of(path, set(found)) if t != name} for name, path in found.items()}
    done, on_path, cycles = set(), [], []

    def visit(node):
        if node in on_path:
            cycles.append(" → ".join([*on_path[on_path.index(node) :], node]))
            return
        if node in done:
            return
        on_path.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        on_path.pop()
        done.add(node)

    for name in sorted(graph):
        visit(name)
    # A package imports its own modules (its __init__ re-exports them): not a cycle of the house.
    cycles = [c for c in cycles if not all(part.startswith(c.split(" → ")[0]) for part in c.split(" → "))]
    assert not cycles, "\n".join(cycles)


def test_no_module_is_over_400_lines():
    long = []
    for folder in ("laiou_assets", "ops_checks", "bench", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not long, "\n".join(long)
