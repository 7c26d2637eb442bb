"""Fixtures: an emulated AWS (moto) with the real template deployed, and realistic accounts."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from typing import Any

import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

from emulator.stack import MOTO_CONFIG, Stack
from emulator.topology import NektNetwork, create_nekt_network

FAST_WAITS = {"PollIntervalSeconds": "0", "MaxPolls": "5"}


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"))
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # ~1,000 AMIs per account/region, unused


_shared_loader = functools.cache(botocore.loaders.create_loader)


@pytest.fixture(autouse=True)
def shared_botocore_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Speed only: every account_session() of the emulator would re-parse the service models."""
    monkeypatch.setattr(botocore.session, "create_loader", _shared_loader)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(config=MOTO_CONFIG):
        yield


@pytest.fixture
def deploy(aws: None) -> Iterator[Callable[..., Stack]]:
    """deploy(nekt, **parameters): the template deployed against that Nekt network."""
    stacks: list[Stack] = []

    def _deploy(nekt: NektNetwork, **parameters: str) -> Stack:
        stack = Stack({**nekt.stack_parameters(), **FAST_WAITS, **parameters}).deploy()
        stacks.append(stack)
        return stack

    yield _deploy
    for stack in stacks:
        stack.close()


@pytest.fixture
def nekt(aws: None) -> NektNetwork:
    """Nekt in its own account and region (us-east-1), as for most customers."""
    return create_nekt_network()


_FAULT_MATRIX: list[int] = []


@pytest.fixture
def fault_matrix() -> list[int]:
    """Where each fault-injection scenario records how many resources it leaked."""
    return _FAULT_MATRIX


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _FAULT_MATRIX:
        terminalreporter.write_line(
            f"fault matrix: {len(_FAULT_MATRIX)} scenarios, {sum(_FAULT_MATRIX)} leaked resources")
