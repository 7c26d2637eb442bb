"""Integration tier: the handlers and the strict emulator on moto (tests/emulated.py's fixtures), the
template deployed, no state machine run, no database server."""

import fcntl
import shutil
import subprocess
from pathlib import Path

import pytest

from emulator.template import ROOT
from tests.emulated import api, aws, deploy, nekt, speedups, strict

__all__ = ["api", "aws", "deploy", "nekt", "release_build", "speedups", "strict"]


@pytest.fixture(scope="session")
def release_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make build`, as `make release` runs it (test_release.py, test_onboarding.py publish it), copied in a
    checkout's layout (the built template names ../../statemachine and ../../api). One build at a time: each
    pytest-xdist worker builds under a lock, then reads its own copy while another worker builds again."""
    checkout = tmp_path_factory.mktemp("checkout")
    (ROOT / ".aws-sam").mkdir(exist_ok=True)
    with open(ROOT / ".aws-sam" / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(["make", "--no-print-directory", "build"], cwd=ROOT, check=True, capture_output=True,
                       timeout=600)
        shutil.copytree(ROOT / ".aws-sam" / "build", checkout / ".aws-sam" / "build")
    for source in ("statemachine", "api"):
        (checkout / source).symlink_to(ROOT / source)
    return checkout / ".aws-sam" / "build"
