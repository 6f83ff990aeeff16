"""The layer contract: imports point down, and no module imports itself round a circle.

Read from the source with `ast` (nothing is imported), so a violation fails here before
it can run. Every import counts: at module level, inside a function, under
`TYPE_CHECKING`. The layers, from the bottom:

- `engine/` (outside `engine/store/`) is the pure booking domain: the standard library
  and `engine` itself only (`engine.store` neither: the store depends on the domain);
- `engine/` imports nothing of `waitingroom/`, `workers/`, `api/` or `loadtests/`;
- `waitingroom/` imports nothing of `workers/`, `api/` or `loadtests/`;
- `workers/` imports nothing of `api/` or `loadtests/`;
- in `api/`, the feature rooms (`api.fan`, `api.organizer`, `api.ops`) import nothing
  of `api.launcher`: the launcher's composition roots read `Settings` and build what a
  process needs; the HTTP app carries the settings for its handlers
  (`api.http.appkeys` hands the feature rooms the `Settings` type), so `api.http` may
  import `api.launcher.settings` and nothing else of the launcher.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "waitingroom", "workers", "api", "loadtests")
EXCLUDED = ("engine/store/migrations/",)
"""Alembic's migration scripts are loaded by Alembic, not imported by the code."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if not relative.startswith(EXCLUDED):
                modules[_module_name(path)] = path
    return modules


MODULES = _project_modules()


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in the file, resolved to a project module
    where it names one (`from a import b` is `a.b` when that is a module)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                yield (submodule if submodule in MODULES else target), node.lineno


def _project_import(name: str) -> str | None:
    """The project module `name` is, or the nearest project package holding it."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


GRAPH: dict[str, dict[str, int]] = {}
EXTERNAL: dict[str, dict[str, int]] = {}
for _name, _path in MODULES.items():
    GRAPH[_name], EXTERNAL[_name] = {}, {}
    for _imported, _line in _imports(_name, _path):
        _target = _project_import(_imported) if _imported.split(".")[0] in PACKAGES else None
        if _target is not None and _target != _name:
            GRAPH[_name].setdefault(_target, _line)
        elif _target is None:
            EXTERNAL[_name].setdefault(_imported, _line)


def _where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(ROOT)}:{line}"


def _violations(importers: str, forbidden: tuple[str, ...],
                unless: tuple[str, ...] = ()) -> list[str]:
    found = []
    for module, targets in GRAPH.items():
        if not _in(module, importers):
            continue
        for target, line in targets.items():
            if any(_in(target, bad) for bad in forbidden) and not any(
                    _in(target, allowed) for allowed in unless):
                found.append(f"{_where(module, line)}: {module} imports {target}")
    return found


def test_the_engine_core_uses_only_the_standard_library_and_itself() -> None:
    rule = "engine/ (outside engine/store/) imports only the standard library and engine"
    found = []
    for module in GRAPH:
        if not _in(module, "engine") or _in(module, "engine.store"):
            continue
        for name, line in EXTERNAL[module].items():
            if name.split(".")[0] not in sys.stdlib_module_names | {"__future__"}:
                found.append(f"{_where(module, line)}: {module} imports {name}")
        for target, line in GRAPH[module].items():
            if not _in(target, "engine") or _in(target, "engine.store"):
                found.append(f"{_where(module, line)}: {module} imports {target}")
    assert not found, f"rule broken: {rule}\n" + "\n".join(found)


def test_the_engine_imports_no_layer_above_it() -> None:
    found = _violations("engine", ("waitingroom", "workers", "api", "loadtests"))
    assert not found, ("rule broken: engine/ imports nothing of waitingroom/, workers/, api/ "
                       "or loadtests/\n" + "\n".join(found))


def test_the_waiting_room_imports_no_layer_above_it() -> None:
    found = _violations("waitingroom", ("workers", "api", "loadtests"))
    assert not found, ("rule broken: waitingroom/ imports nothing of workers/, api/ or "
                       "loadtests/\n" + "\n".join(found))


def test_the_workers_import_no_layer_above_them() -> None:
    found = _violations("workers", ("api", "loadtests"))
    assert not found, ("rule broken: workers/ imports nothing of api/ or loadtests/\n"
                       + "\n".join(found))


def test_the_feature_rooms_do_not_reach_into_the_launcher() -> None:
    found = [violation for room in ("api.fan", "api.organizer", "api.ops")
             for violation in _violations(room, ("api.launcher",))]
    found += _violations("api.http", ("api.launcher",), unless=("api.launcher.settings",))
    assert not found, ("rule broken: only the launcher reads Settings: api.fan, "
                       "api.organizer and api.ops import nothing of api.launcher, and "
                       "api.http only api.launcher.settings\n" + "\n".join(found))


def _circles() -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in GRAPH:
        if start in index:
            continue
        work = [(start, iter(GRAPH[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(GRAPH[target])))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return groups


def test_no_module_imports_itself_round_a_circle() -> None:
    circles = _circles()
    described = []
    for group in circles:
        members = set(group)
        edges = [f"  {_where(module, line)}: {module} imports {target}"
                 for module in group for target, line in GRAPH[module].items()
                 if target in members]
        described.append(" <-> ".join(group) + "\n" + "\n".join(edges))
    assert not circles, "rule broken: no import circles\n" + "\n\n".join(described)


def test_the_contract_reads_the_whole_project() -> None:
    """A guard for the guard: the graph holds the modules and edges it must."""
    assert {"engine.inventory", "waitingroom.room", "workers.main", "api.http.app",
            "api.launcher.roots"} <= set(GRAPH)
    assert "api.http.routes" in GRAPH["api.http.app"]
    assert "engine.errors" in GRAPH["api.http.errors"]
