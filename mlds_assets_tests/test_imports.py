"""The package's layers import downwards only: no import circle, counting imports inside functions (a circle
"broken" by a function-level import is still a circle), and every module imports on its own with no other
package module loaded before it (an order-dependent import would fail there)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mlds_assets"


def module_names(package: Path = PACKAGE) -> list[str]:
    names = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The package modules a file imports anywhere in it (module level or inside a function)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            candidates = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {name for name in candidates if name in known}
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    known = set(module_names(package))
    graph = {}
    for name in known:
        path = package.parent / (name.replace(".", "/") + ".py")
        path = path if path.exists() else package.parent / name.replace(".", "/") / "__init__.py"
        graph[name] = imports_of(path, known) - {name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
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
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_circle_finder_finds_a_circle(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import f\n")
    (package / "b.py").write_text("def f():\n    from pkg import c\n")  # broken at run time, still a circle
    (package / "c.py").write_text("import pkg.a\n")
    (package / "d.py").write_text("from pkg.a import x\n")
    assert circles(import_graph(package)) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_no_import_circle_in_the_package():
    assert circles(import_graph()) == []


# Forks a child per module from an interpreter that has imported the heavy libraries the package builds on,
# and none of the package: each module still imports with no other package module loaded before it (what an
# order-dependent import needs to fail), at a fraction of the cost of a fresh interpreter each (171 s here).
IMPORT_EACH_IN_A_FORK = """
import os, sys, traceback
import dagster, numpy, pandas, pyarrow, pydantic, yaml  # third-party only
assert not [m for m in sys.modules if m.split(".")[0] == "mlds_assets"]
failed = 0
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            __import__(name)
        except BaseException:
            sys.stderr.write(f"FAILED {name}\\n{traceback.format_exc()[-1500:]}\\n")
            os._exit(1)
        os._exit(0)
    failed += os.waitpid(pid, 0)[1] != 0
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_alone_with_no_other_package_module_loaded():
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH_IN_A_FORK, *module_names()], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-6000:]


def test_a_module_that_needs_another_imported_first_fails_alone(tmp_path):
    """The fork runner can fail: a module that only works after its sibling ran."""
    package = tmp_path / "orderpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "first.py").write_text("import sys\nsys.modules['orderpkg'].ready = True\n")
    (package / "second.py").write_text("import orderpkg\nassert orderpkg.ready\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    run = [sys.executable, "-c", IMPORT_EACH_IN_A_FORK]
    alone = subprocess.run([*run, "orderpkg.second"], capture_output=True, text=True, env=env, timeout=300)
    assert alone.returncode == 1 and "FAILED orderpkg.second" in alone.stderr
    assert subprocess.run([*run, "orderpkg.first"], env=env, timeout=300).returncode == 0
