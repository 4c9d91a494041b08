"""The architecture is checked, not hoped: the import contracts hold on the code, and each
check fails on a deliberately wrong import (so a green run means something).

- `lint-imports` (import-linter, contracts in pyproject.toml): apps import down the table;
  engines import no Django, ORM or Celery.
- No module imports a private name (`_name`) or a private module of another app.
- No app's modules import each other in a circle (lazy imports inside functions count too:
  a circle hidden in a function is still a circle).
- No module outside migrations is over 600 lines.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("medsync", "patients", "billing", "messaging", "scheduling", "reports")
MAX_MODULE_LINES = 600


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


def copy_of_the_code(tmp_path: Path) -> Path:
    """The apps' Python files and the contracts, in a scratch folder we may break."""
    for app in APPS:
        shutil.copytree(
            ROOT / app,
            tmp_path / app,
            ignore=shutil.ignore_patterns("static", "data", "samples", "__pycache__"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers_contract(tmp_path):
    code = copy_of_the_code(tmp_path)
    (code / "patients" / "upward.py").write_text("from scheduling.models import SyncCycle\n")
    result = lint_imports(code)
    assert result.returncode == 1
    assert "Apps import down the table only" in result.stdout
    assert "patients.upward -> scheduling.models" in result.stdout


def test_an_engine_importing_django_breaks_the_purity_contract(tmp_path):
    code = copy_of_the_code(tmp_path)
    engine = code / "billing" / "proration.py"
    engine.write_text("from django.db import models\n" + engine.read_text())
    result = lint_imports(code)
    assert result.returncode == 1
    assert "Engines are pure" in result.stdout
    assert "billing.proration -> django (l.1)" in result.stdout


# --- Private names -------------------------------------------------------------------------


def private_imports_across_apps(root: Path) -> list[str]:
    """`from other_app.x import _name` or `import other_app._x`, as 'file:line: what'."""
    found = []
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    target_app = node.module.split(".")[0]
                    if target_app not in APPS or target_app == app:
                        continue
                    names = [alias.name for alias in node.names]
                    private = [n for n in names if n.startswith("_") and not n.startswith("__")]
                    module_parts = node.module.split(".")[1:]
                    if private or any(p.startswith("_") for p in module_parts):
                        found.append(f"{path.relative_to(root)}:{node.lineno}: {node.module}")
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        parts = alias.name.split(".")
                        other_app = parts[0] in APPS and parts[0] != app
                        if other_app and any(p.startswith("_") for p in parts[1:]):
                            found.append(f"{path.relative_to(root)}:{node.lineno}: {alias.name}")
    return found


def test_no_app_imports_another_apps_private_names():
    assert private_imports_across_apps(ROOT) == []


def test_the_private_name_check_fails_on_a_private_import(tmp_path):
    code = copy_of_the_code(tmp_path)
    (code / "reports" / "peek.py").write_text(
        "from scheduling.selectors import _hidden\nimport messaging._internal\n"
    )
    assert private_imports_across_apps(code) == [
        "reports/peek.py:1: scheduling.selectors",
        "reports/peek.py:2: messaging._internal",
    ]


# --- Circles inside an app -----------------------------------------------------------------


def circles_within_apps(root: Path) -> list[list[str]]:
    """Each circle of imports among one app's modules. A package counts as its __init__
    module, so a topic file that imports its own package's re-exports is a circle too."""
    graph = import_graph(root)
    circles = []
    for app in APPS:
        modules = {m for m in graph if m.split(".")[0] == app}
        edges = {m: {t for t in graph[m] if t in modules} - {m} for m in modules}
        circles.extend(_cycles(edges))
    return circles


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the project modules it imports (read from the source with `ast`, so it
    describes the tree at `root` whatever this process has imported; imports under
    `if TYPE_CHECKING:` are left out, function-level imports are kept)."""
    files = {}
    for app in APPS:
        for path in (root / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join(parts)] = path
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        targets = set()
        for name in _imported_names(ast.parse(path.read_text()), module, is_package):
            while name and name not in files:
                name = name.rpartition(".")[0]  # `from pkg import name`: the package
            if name:
                targets.add(name)
        graph[module] = targets
    return graph


def _imported_names(tree: ast.Module, module: str, is_package: bool) -> list[str]:
    names = []
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            names.extend(f"{base}.{alias.name}" for alias in node.names)
    return names


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in edges:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_app_imports_itself_in_a_circle():
    assert circles_within_apps(ROOT) == []


def test_the_circle_check_finds_a_circle(tmp_path):
    code = copy_of_the_code(tmp_path)
    (code / "billing" / "ping.py").write_text("def ping():\n    from billing import pong\n")
    (code / "billing" / "pong.py").write_text("from billing.ping import ping\n")
    assert ["billing.ping", "billing.pong"] in circles_within_apps(code)


# --- Size ----------------------------------------------------------------------------------


def oversized_modules(root: Path) -> dict[str, int]:
    sizes = {}
    for app in APPS:
        for path in (root / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            lines = len(path.read_text().splitlines())
            if lines > MAX_MODULE_LINES:
                sizes[str(path.relative_to(root))] = lines
    return sizes


def test_no_module_outside_migrations_is_over_600_lines():
    assert oversized_modules(ROOT) == {}


@pytest.mark.parametrize("lines", [601, 1500])
def test_the_size_check_fails_on_a_long_module(tmp_path, lines):
    code = copy_of_the_code(tmp_path)
    (code / "reports" / "long.py").write_text("x = 1\n" * lines)
    assert oversized_modules(code)["reports/long.py"] == lines
