"""Integration tier: the handlers and the strict emulator on moto (tests/emulated.py's fixtures), the
template deployed, no state machine run, no database server."""

import subprocess
from pathlib import Path

import pytest

from emulator.template import ROOT
from tests.emulated import api, aws, deploy, nekt, speedups, strict

__all__ = ["api", "aws", "deploy", "nekt", "release_build", "speedups", "strict"]


@pytest.fixture(scope="session")
def release_build() -> Path:
    """`make build`, as `make release` runs it (test_release.py, test_onboarding.py publish it)."""
    subprocess.run(["make", "--no-print-directory", "build"], cwd=ROOT, check=True, capture_output=True, timeout=600)
    return ROOT / ".aws-sam" / "build"
