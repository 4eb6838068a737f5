"""The runtime's shape: no import cycle between product modules, nothing happens when one is imported."""

import ast
import json
import subprocess
import sys
from pathlib import Path

from kpiwatch.paths import REPO_ROOT

PACKAGES = ("kpiwatch", "orchestration", "metrics")


def product_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Product modules `path` imports anywhere in its body, function-local imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found |= {name for name in names if name in known}
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_product_modules_import_each_other_without_a_cycle():
    modules = product_modules()
    graph = {name: imported_modules(path, set(modules)) - {name} for name, path in modules.items()}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


IMPORT_EVERYTHING = r"""
import importlib, json, os, sys
events = []
root = sys.argv[2]
watched = tuple(f"{root}/{folder}" for folder in ("expectations", "dbt_project", ".dagster_home", "data", "monitoring"))
tools = ("dbt", "dagster", "prometheus", "alertmanager", "promtool", "amtool")


def audit(event, args):
    if event == "subprocess.Popen" and any(tool in str(args[1]) for tool in tools):
        events.append(f"subprocess: {args[1]}")
    elif event == "open" and isinstance(args[0], str) and args[0].startswith(watched):
        events.append(f"open: {args[0]}")


def ours(environ):
    # Variables kpiwatch, Dagster or dbt read (libraries may set their own, e.g. Arrow's memory pool).
    return {k: v for k, v in environ.items() if k.startswith(("KPIWATCH_", "DAGSTER_", "DBT_"))}


environ_before = ours(os.environ)
import kpiwatch.settings as settings
calls = []
original = settings.load_settings
settings.load_settings = lambda *a, **k: calls.append(1) or original(*a, **k)
sys.addaudithook(audit)
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
changed = ours(os.environ) != environ_before
print(json.dumps({"events": events, "settings_loaded": len(calls), "environ_changed": changed}))
"""


def test_importing_any_product_module_does_no_work():
    """No dbt parse, no server, no checks.yml or suite read, no settings resolved, no environment written."""
    names = sorted(product_modules())
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING, json.dumps(names), str(REPO_ROOT)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"events": [], "settings_loaded": 0, "environ_changed": False}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every product module `start` imports, directly or through others."""
    seen, queue = set(), [start]
    while queue:
        for nxt in graph.get(queue.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def import_graph() -> dict[str, set[str]]:
    modules = product_modules()
    return {name: imported_modules(path, set(modules)) for name, path in modules.items()}


def test_dependencies_point_one_way():
    """The settings know nothing of the metrics; the Dagster definitions never reach the CLI or its start-up
    code (the workers are handed to them as a type, kpiwatch.run_workers)."""
    graph = import_graph()
    assert not {m for m in reachable(graph, "kpiwatch.settings") if m.startswith("metrics")}
    for module in (m for m in graph if m.startswith("orchestration")):
        assert not reachable(graph, module) & {"kpiwatch.cli", "kpiwatch.prestart"}, module
