"""The import graph of a package, read from its source (nothing is imported): for the layering test
(tests/unit/test_import_structure.py) and for a look at the architecture (`python -m tools.import_graph DIR`)."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path


def module_files(package_dir: Path) -> dict[str, Path]:
    """Every module of the package whose directory is `package_dir`, by dotted name."""
    root = package_dir.parent
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Each module of the package -> the modules of the same package it imports, at any depth of its code
    (an import inside a function counts: it is a dependency all the same)."""
    modules = module_files(package_dir)
    package = package_dir.name
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(name, is_package, node.level, node.module)
                imported.add(base)
                imported.update(f"{base}.{alias.name}" for alias in node.names)
        graph[name] = {_owning_module(target, modules) for target in imported
                       if target == package or target.startswith(package + ".")} - {name, ""}
    return graph


def _absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([target] if target else []))


def _owning_module(target: str, modules: Mapping[str, Path]) -> str:
    """`a.b.c` names module a.b.c, or the name c defined in module a.b."""
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_of(module: str, layers: Mapping[str, int]) -> int:
    """The layer of the longest prefix of `module` that `layers` names (a package names its modules)."""
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        prefix = ".".join(parts[:length])
        if prefix in layers:
            return layers[prefix]
    raise KeyError(f"{module} is in no layer: add it (or its package) to the layer table")


def upward_imports(graph: Mapping[str, Iterable[str]], layers: Mapping[str, int]) -> list[str]:
    """Each import of a module from a higher layer than its own, as 'importer -> imported'."""
    return sorted(f"{importer} (layer {layer_of(importer, layers)}) -> {imported} (layer {layer_of(imported, layers)})"
                  for importer, targets in graph.items() for imported in targets
                  if layer_of(imported, layers) > layer_of(importer, layers))


def main(argv: list[str]) -> int:
    graph = import_graph(Path(argv[0]).resolve())
    for module in sorted(graph):
        print(module, "->", " ".join(sorted(graph[module])) or "-")
    for component in cycles(graph):
        print("cycle:", " ".join(component))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
