"""Unit tier: logic only. A unit test that reaches for the emulator, a database server, the network or
another program fails, naming what it reached for; such a test belongs in tests/integration or tests/e2e.

- imports: moto, the emulator's servers (emulator.databases, emulator.server) and tests/emulated.py are
  refused while a unit test file is imported and while a unit test runs. Exact under `make unit`, which
  runs this tier in a process of its own; when one pytest process runs every tier, modules another tier
  imported first are already loaded, and starting moto's mock is refused instead.
- network: every socket but a Unix one (a socket pair) is refused (pytest-socket's disable_socket).
- programs: subprocess may run this Python only (`python -c`, as test_handlers.py does), nothing else.
"""

from __future__ import annotations

import importlib.abc
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

FORBIDDEN_MODULES = ("moto", "emulator.databases", "emulator.server", "tests.emulated")
HERE = Path(__file__).parent.resolve()


class EmulatorImported(ImportError):
    pass


def _forbidden(name: str) -> bool:
    return any(name == module or name.startswith(module + ".") for module in FORBIDDEN_MODULES)


class _RefuseEmulator(importlib.abc.MetaPathFinder):
    """On sys.meta_path while a unit test file is imported or a unit test runs."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: Any = None) -> None:
        if _forbidden(fullname):
            raise EmulatorImported(
                f"a unit test imported {fullname} (the emulator or a database server): "
                "move the test to tests/integration or tests/e2e, or import what it needs without it")


_GUARD = _RefuseEmulator()


def _in_unit(path: Path) -> bool:
    return HERE in Path(path).resolve().parents


class _guarded:  # noqa: N801 - used as a context manager, `with _guarded():`
    def __enter__(self) -> None:
        sys.meta_path.insert(0, _GUARD)

    def __exit__(self, *exc: object) -> None:
        sys.meta_path.remove(_GUARD)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    if isinstance(collector, pytest.Module) and _in_unit(collector.path):
        with _guarded():
            return (yield)
    return (yield)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _in_unit(item.path):
            item.add_marker(pytest.mark.disable_socket)  # pytest-socket; --allow-unix-socket keeps socket pairs


def _refuse_program(real: Any) -> Any:
    def popen(self: Any, args: Any, *rest: Any, **kwargs: Any) -> None:
        program = args if isinstance(args, (str, bytes, os.PathLike)) else args[0]
        if kwargs.get("shell") or os.path.realpath(program) != os.path.realpath(sys.executable):
            raise RuntimeError(f"a unit test ran {args!r}: only this Python may run in the unit tier "
                               "(a server or another program belongs in tests/integration or tests/e2e)")
        real(self, args, *rest, **kwargs)
    return popen


@pytest.fixture(autouse=True)
def logic_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse_program(subprocess.Popen.__init__))
    models = sys.modules.get("moto.core.models")
    if models is not None:  # moto loaded by another tier in this process: starting its mock is what is refused
        def refuse(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("a unit test started moto's mock: it belongs in tests/integration or tests/e2e")
        monkeypatch.setattr(models.MockAWS, "start", refuse)
    with _guarded():
        yield
