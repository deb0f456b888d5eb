"""The layering of the package: data flows one way and the folders show it.

Every import in every module (top level, inside functions and under
``TYPE_CHECKING``) is read from the source with :mod:`ast`. A module may import
its own layer or a lower one; siblings of one layer are independent; no import
circle exists between modules. README, docs and notebooks use the public front.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

import acctgraph

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "acctgraph"

# Bottom to top. Names in one entry are siblings: neither may import the other.
LAYERS: list[tuple[str, ...]] = [
    ("core",),
    ("load",),
    ("features",),
    ("spark",),  # the traffic stages on Spark: load and reductions (optional dependency)
    ("graph",),
    ("cluster",),
    ("runfolder",),
    ("cards",),
    ("report", "viz", "investigate"),
    ("run",),
    ("evaluation", "simulate"),
    ("__init__",),  # the public front: names from every layer, imported on first use
    ("cli",),  # a thin layer over the front
]
RANK = {name: (rank, name) for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part(module: str) -> str:
    """The layer entry a module belongs to: its first name under ``acctgraph``."""
    names = module.split(".")
    return names[1] if len(names) > 1 else "__init__"


def imports(path: Path) -> set[str]:
    """Every acctgraph module ``path`` imports, resolved to modules that exist."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
    return {name for name in found if name == "acctgraph" or name.startswith("acctgraph.")}


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: imports(path) - {name} for name, path in MODULES.items()}


def test_every_module_belongs_to_a_layer() -> None:
    unknown = sorted({part(name) for name in MODULES} - set(RANK))
    assert not unknown, f"add these to LAYERS in {__file__}: {unknown}"


def against_layering(graph: dict[str, set[str]]) -> list[str]:
    """``"a imports b"`` for every import of a higher layer or a sibling in ``graph``."""
    wrong = []
    for name, targets in graph.items():
        for target in targets:
            mine, theirs = RANK[part(name)], RANK[part(target)]
            if theirs[0] > mine[0] or (theirs[0] == mine[0] and theirs[1] != mine[1]):
                wrong.append(f"{name} imports {target}")
    return sorted(wrong)


def import_circle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of ``graph`` (first module repeated at the end), or ``[]``."""
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state[target] == 1:
                return stack[stack.index(target) :] + [target]
            if state[target] == 0 and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for module in sorted(graph):
        if state[module] == 0 and (found := visit(module)):
            return found
    return []


def test_no_module_imports_a_higher_layer_or_a_sibling() -> None:
    wrong = against_layering(GRAPH)
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_the_lowest_layer_imports_no_other_layer() -> None:
    for name, targets in GRAPH.items():
        if part(name) == "core":
            assert {part(t) for t in targets} <= {"core"}, name


def test_no_import_circle() -> None:
    circle = import_circle(GRAPH)
    assert not circle, "import circle: " + " -> ".join(circle)


def test_the_checks_catch_a_planted_upward_import_and_circle(tmp_path: Path) -> None:
    source = tmp_path / "planted.py"
    source.write_text(
        "def f():\n    from acctgraph.run.pipeline import run_pipeline\n", encoding="utf-8"
    )
    assert imports(source) == {"acctgraph.run.pipeline"}
    planted = {**GRAPH, "acctgraph.core.schema": {imports(source).pop()}}
    assert against_layering(planted) == ["acctgraph.core.schema imports acctgraph.run.pipeline"]
    assert against_layering({"acctgraph.viz.pages": {"acctgraph.report.document"}})  # siblings
    circle = import_circle(
        {
            "acctgraph.cards.model": {"acctgraph.cards.compute"},
            "acctgraph.cards.compute": {"acctgraph.cards.model"},
        }
    )
    assert circle == ["acctgraph.cards.compute", "acctgraph.cards.model", "acctgraph.cards.compute"]


def test_the_front_resolves_every_public_name() -> None:
    assert set(acctgraph.__all__) == {"__version__", *acctgraph._FRONT}
    for name in acctgraph.__all__:
        assert getattr(acctgraph, name) is not None, name
    assert set(acctgraph.__all__) <= set(dir(acctgraph))
    with pytest.raises(AttributeError):
        acctgraph.no_such_name  # noqa: B018


def _user_facing_code() -> list[tuple[Path, str]]:
    """Python in the README, the docs and the notebooks (code cells and fenced blocks)."""
    out = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if path.name == "benchmarks.md":  # measurements and history, not usage
            continue
        for block in re.findall(
            r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S
        ):
            out.append((path, block))
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        out += [(path, "".join(c["source"])) for c in cells if c["cell_type"] == "code"]
    return out


# Documented subpackages a user may import besides the front.
DOCUMENTED = {
    "acctgraph",
    "acctgraph.features",
    "acctgraph.cards",
    "acctgraph.viz",
    "acctgraph.simulate",
    "acctgraph.evaluation.tuning",
}


def test_readme_docs_and_notebooks_import_only_the_front() -> None:
    code = _user_facing_code()
    assert len(code) > 10
    wrong = []
    for path, text in code:
        for module in re.findall(r"^\s*(?:from|import)\s+(acctgraph[\w.]*)", text, flags=re.M):
            if module not in DOCUMENTED:
                wrong.append(f"{path.name}: {module}")
    assert not wrong, "use the public front (acctgraph.__all__):\n" + "\n".join(wrong)


def test_the_command_line_calls_the_front() -> None:
    allowed = {"acctgraph", "acctgraph.simulate"}
    wrong = sorted(
        target
        for target in GRAPH["acctgraph.cli"]
        if target not in allowed and part(target) != "core"
    )
    assert not wrong, f"acctgraph/cli.py should call the public front, not {wrong}"
