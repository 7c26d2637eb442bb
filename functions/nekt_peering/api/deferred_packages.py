"""Import a package's modules without running the package's __init__ until something needs it.

Some packages' __init__ import everything they have: Powertools' aws_lambda_powertools.event_handler
imports every resolver (AppSync with asyncio, Bedrock agents, VPC Lattice, ...), and its
utilities.data_classes every event class (about 35 modules). The API function uses the REST resolver
alone, and paid for the rest on every cold start: about a fifth of `import boto3`
(docs/benchmarks.md). Python runs a package's __init__ before any of its modules, so importing
event_handler.api_gateway by its full name does not avoid it.

defer_init(package) enters the package in sys.modules with its __path__, as the import system would,
but does not run its __init__. Its modules import as usual. A name asked of the package is taken from
the module its __init__ imports it from (read from the __init__'s text, not run), or is a module of the
package; anything else (a name the __init__ defines itself, `__all__`) runs the real __init__ then,
once, and the package ends as it would have been, only later. The code that runs is the package's
own: only what is loaded, and when, differs."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import threading
import types
from typing import Any

# `from .module import A, B as C` and `from package.module import (A, B)` in an __init__.
_FROM_IMPORT = re.compile(r"^from\s+([.\w]+)\s+import\s+(\([^)]*\)|[^\n]+)", re.MULTILINE)
_lock = threading.RLock()


def defer_init(package: str) -> None:
    """Make `package` importable without running its __init__; nothing if it is imported already."""
    with _lock:
        if package in sys.modules:
            return
        parent, _, child = package.rpartition(".")
        if parent:
            importlib.import_module(parent)
        spec = importlib.util.find_spec(package)
        if spec is None or spec.submodule_search_locations is None or spec.origin is None or spec.loader is None:
            raise ImportError(f"{package} is not a package with an __init__", name=package)
        module = importlib.util.module_from_spec(spec)
        with open(spec.origin, encoding="utf-8") as init:
            module.__dict__["__getattr__"] = _finder(module, _name_sources(package, init.read()))
        sys.modules[package] = module
        if parent:
            setattr(sys.modules[parent], child, module)


def _name_sources(package: str, text: str) -> dict[str, tuple[str, str]]:
    """Name -> (the module the __init__ imports it from, its name there)."""
    sources = {}
    for origin, names in _FROM_IMPORT.findall(text):
        origin = importlib.util.resolve_name(origin, package)
        for entry in names.strip("()").replace("\n", " ").split(","):
            words = entry.split("#")[0].split()  # "A" or "A as B"
            if words:  # `from . import module`: the module itself
                sources[words[-1]] = (f"{origin}.{words[0]}", "") if origin == package else (origin, words[0])
    return sources


def _finder(module: types.ModuleType, sources: dict[str, tuple[str, str]]) -> Any:
    def __getattr__(name: str) -> Any:
        with _lock:
            if name in module.__dict__:  # set by another thread meanwhile
                return module.__dict__[name]
            if name in sources:
                origin, attribute = sources[name]
                value = importlib.import_module(origin)
                value = getattr(value, attribute) if attribute else value
                setattr(module, name, value)
                return value
            if not name.startswith("__") and importlib.util.find_spec(f"{module.__name__}.{name}") is not None:
                return importlib.import_module(f"{module.__name__}.{name}")
            if name.startswith("__") and name != "__all__":
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
            # What only the __init__ itself can say: run it now, once.
            del module.__dict__["__getattr__"]
            module.__spec__.loader.exec_module(module)  # type: ignore[union-attr]
            return getattr(module, name)

    return __getattr__
