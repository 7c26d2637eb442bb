"""What every tier shares: offline AWS credentials, the Hypothesis profile, the tier markers, the fault
matrix's summary and the order of the files.

The tiers are directories (README, "Tests"): tests/unit (logic only: no moto, no database server, no
network; tests/unit/conftest.py enforces it), tests/integration (handlers and the strict emulator on moto,
no state machine run), tests/e2e (the real ASL run on moto's Step Functions, the real database servers,
the CLI and the demo over HTTP, sam local). Each test is marked with its directory's tier
(`pytest -m unit`). This file imports nothing of moto or the emulator: the emulated AWS's fixtures are in
tests/emulated.py, which the integration and end-to-end conftests import.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# tests/emulated.py's assertions (Api.call's, Gate's) say what they compared, as a test file's do.
pytest.register_assert_rewrite("tests.emulated")

TESTS = Path(__file__).parent
TIERS = ("unit", "integration", "e2e")

# The same examples on every run: a property test that fails in CI fails the same way on a laptop.
# HYPOTHESIS_PROFILE=explore searches afresh.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"))
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # ~1,000 AMIs per account/region, unused


# The helpers test files import as `from tests.conftest import Api, Gate, ...` live in tests/emulated.py
# (it imports moto): handed over on first use, so that importing this file (every tier does) costs nothing.
_EMULATED = frozenset({"Api", "FAST_WAITS", "Gate", "Reply", "hold_until_both_tried_the_locks", "start_together"})


def __getattr__(name: str) -> Any:
    if name in _EMULATED:
        return getattr(importlib.import_module("tests.emulated"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_FAULT_MATRIX: list[int] = []


@pytest.fixture
def fault_matrix() -> list[int]:
    """Where each fault-injection scenario records how many resources it leaked."""
    return _FAULT_MATRIX


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist each worker has its own matrix: hand it to the controller, which reports."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fault_matrix"] = json.dumps(_FAULT_MATRIX)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    _FAULT_MATRIX.extend(json.loads(getattr(node, "workeroutput", {}).get("fault_matrix", "[]")))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _FAULT_MATRIX:
        terminalreporter.write_line(
            f"fault matrix: {len(_FAULT_MATRIX)} scenarios, {sum(_FAULT_MATRIX)} leaked resources")


def tier_of(path: Path) -> str | None:
    """unit, integration or e2e: the directory under tests/ the file is in."""
    try:
        tier = Path(path).resolve().relative_to(TESTS.resolve()).parts[0]
    except (ValueError, IndexError):
        return None
    return tier if tier in TIERS else None


# The longest files first, longest first (make test's session runs with --no-loadscope-reorder, which
# keeps this order; xdist would otherwise order the files by their number of tests): under --dist loadfile
# a worker runs a file whole, so the longest starts at once while the other worker takes the rest, and
# what is left for the end is short, instead of a long file last with a worker idle. Seconds per file
# measured in `make test` (a 2-core machine; scaled from a run beside other work); a file not listed comes after these,
# in collection order.
LONGEST_FILES = (
    "tests/e2e/test_strict_iam.py",  # 215 s
    # Second: the first release test builds (sam build, ~40 s) while the other worker runs test_strict_iam.py,
    # so that the later files of the release (onboarding, the install) find the build made (release_build).
    "tests/integration/test_release.py",  # 26 s with the build
    "tests/e2e/test_rollback.py",  # 79 s
    "tests/e2e/test_convergence_retried.py",  # 53 s
    "tests/e2e/test_cli.py",  # 48 s
    "tests/e2e/test_resource_endpoint.py",  # 42 s
    "tests/e2e/test_database_kinds.py",  # 40 s
    "tests/e2e/test_convergence_rolled_back.py",  # 34 s
    "tests/e2e/test_shared_connections.py",  # 29 s
    "tests/e2e/test_disconnect.py",  # 26 s
    "tests/integration/test_onboarding.py",  # 23 s
    "tests/integration/test_api_bad_input.py",  # 23 s
    "tests/e2e/test_api.py",  # 22 s
    "tests/e2e/test_demo.py",  # 20 s
    "tests/e2e/test_path.py",  # 18 s
    "tests/e2e/test_connect_workflow.py",  # 15 s
    "tests/e2e/test_strict_network.py",  # 14 s
    "tests/integration/test_fuzz_least_privilege.py",  # 14 s
    "tests/integration/test_resource_path.py",  # 13 s
    "tests/e2e/test_sweep.py",  # 12 s
    "tests/e2e/test_repair.py",  # 11 s
    "tests/e2e/test_result_events.py",  # 10 s
    "tests/e2e/test_events.py",  # 10 s
    "tests/e2e/test_install_from_release.py",  # 10 s
    "tests/integration/test_strict_lattice.py",  # 9 s
    "tests/integration/test_api_contract.py",  # 8 s
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks each test with its tier, and puts the longest files first (LONGEST_FILES)."""
    for item in items:
        tier = tier_of(item.path)
        if tier is None:
            raise pytest.UsageError(f"{item.nodeid}: a test belongs in tests/unit, tests/integration or tests/e2e")
        item.add_marker(getattr(pytest.mark, tier))
    rank = {path: index for index, path in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
