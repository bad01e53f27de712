"""The layout is a design: each layer imports only from the layers below it, and nothing imports
in a circle (function-local imports included; ``if TYPE_CHECKING:`` imports are not imports).

The table mirrors docs/architecture.md. The engine's independence from the terminal is checked
twice: by the table, and by importing it in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "aiir"

# Lowest first. A module may import from its own package and from the packages of lower rows;
# packages in one row are siblings and import nothing of each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("aiir.redact", "aiir.timestamps"),
    ("aiir.errors",),  # a value quoted in an error is masked (aiir.redact) before it is cut
    ("aiir.formats", "aiir.sandbox"),
    ("aiir.validate",),
    ("aiir.incident",),
    ("aiir.outbound",),
    ("aiir.prompts",),
    ("aiir.environment",),
    ("aiir.reports",),
    ("aiir.engine", "aiir.terminal"),
    ("aiir.respond",),
    ("aiir.views",),
    ("aiir.exercises",),
    ("aiir.canary", "aiir.detect"),
    ("aiir.cli",),
    ("aiir.__main__",),
)
# ``aiir`` itself is the public facade (``aiir.load_runbook``, ``aiir.validate_paths``, the
# version): anything may import it, and its lazy imports reach into the layers it fronts.
FACADE = "aiir"
# Upward imports that are known and named, each with the change that removes it.
KNOWN: dict[tuple[str, str], str] = {}
TERMINAL = {"rich", "typer", "questionary", "prompt_toolkit"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path) -> Iterator[str]:
    """The aiir modules ``name`` imports anywhere in its body, ``TYPE_CHECKING`` blocks left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t if t in MODULES else base for t in targets]
        else:
            continue
        for target in targets:
            known = target
            while known and known not in MODULES:
                known = known.rpartition(".")[0]
            if known and known != name:
                yield known


GRAPH = {name: set(imported(name, path)) for name, path in MODULES.items()}


def layer_of(module: str) -> tuple[int, str]:
    for rank, row in enumerate(LAYERS):
        for package in row:
            if module == package or module.startswith(package + "."):
                return rank, package
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS (and the docs)")


def test_every_module_is_in_a_layer() -> None:
    for module in MODULES:
        if module != FACADE:
            layer_of(module)


def test_no_layer_imports_from_a_layer_above_it_or_a_sibling() -> None:
    wrong = []
    for module, targets in GRAPH.items():
        if module == FACADE:
            continue
        rank, package = layer_of(module)
        for target in sorted(targets - {FACADE}):
            target_rank, target_package = layer_of(target)
            if target_package == package or target_rank < rank:
                continue
            if (module, target) not in KNOWN:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_the_known_exceptions_still_exist() -> None:
    for module, target in KNOWN:
        assert target in GRAPH[module], f"{module} no longer imports {target}: drop it from KNOWN"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles() -> None:
    # a package's __init__ importing its own modules (which import it back) is no cycle
    graph = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in GRAPH.items()}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_importing_the_engine_loads_nothing_of_the_terminal() -> None:
    code = (
        "import sys, aiir.engine.walk\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not TERMINAL & set(loaded), TERMINAL & set(loaded)


# The process's variables are read in one place: the Environment that aiir.cli.main builds.
READS_THE_PROCESS = {"aiir.environment"}
PROCESS_VARIABLES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def process_reads(path: Path) -> list[int]:
    """Lines of ``path`` that touch ``os.environ`` and its kin (or import them from ``os``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in PROCESS_VARIABLES
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ) or (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and PROCESS_VARIABLES & {alias.name for alias in node.names}
        ):
            lines.append(node.lineno)
    return lines


def test_only_the_environment_reads_the_process_variables() -> None:
    wrong = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for module, path in MODULES.items()
        if module not in READS_THE_PROCESS
        for line in process_reads(path)
    ]
    assert not wrong, "read through the Environment instead: " + ", ".join(wrong)


def test_the_process_reader_finds_a_read(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom os import getenv\nx = os.environ.get('A')\n")
    assert process_reads(sample) == [2, 3]


MAX_LINES = 600  # a module longer than this is two modules: split it where its parts part


def test_no_module_is_longer_than_a_reader_can_hold() -> None:
    long = {
        name: count
        for name, path in MODULES.items()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"over {MAX_LINES} lines: {long}"
