"""`sam local invoke` for real: the built functions in a Lambda container (Docker), against the
emulator of `make demo DEMO_ARGS=--keep`, with the events of events/ — the README's sam local
section, command for command. Not part of `make test` (it needs Docker): `make test-sam-local`,
which .ci/run runs after `make test`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from emulator.template import ROOT

pytestmark = pytest.mark.sam_local
DEMO_PORT = 5123


def make(*arguments: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["make", "--no-print-directory", *arguments], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"make {' '.join(arguments)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


def docker_answers() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "info"], capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="module")
def docker() -> Iterator[None]:
    """Docker's daemon: the one running, or (as root, as in CI) one started here and stopped after."""
    if docker_answers():
        yield
        return
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        pytest.fail("no Docker daemon answers `docker info`: start Docker (CI: apt-get install docker.io, as root)")
    with tempfile.TemporaryDirectory() as logs:
        log = Path(logs, "dockerd.log")
        with log.open("w") as output:
            daemon = subprocess.Popen(["dockerd"], stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not docker_answers():
                assert daemon.poll() is None and time.monotonic() < deadline, log.read_text()[-4000:]
                time.sleep(0.5)
            yield
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)


@pytest.fixture(scope="module")
def demo(docker: None) -> Iterator[None]:
    """`make demo DEMO_ARGS=--keep`: connected accounts on 127.0.0.1:5123, until the test ends."""
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", DEMO_PORT)) != 0, f"127.0.0.1:{DEMO_PORT} is taken: stop what serves it"
    process = subprocess.Popen(["make", "--no-print-directory", "demo", "DEMO_ARGS=--keep"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        _wait_for_line(process, f"keeps running at http://127.0.0.1:{DEMO_PORT}")
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # make and the demo: the process group this test started
        process.wait(timeout=60)


def _wait_for_line(process: subprocess.Popen[str], text: str) -> None:
    seen: list[str] = []
    stream: IO[str] | None = process.stdout
    assert stream is not None
    for line in stream:
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"make demo ended without {text!r}:\n{''.join(seen)[-4000:]}")


@pytest.fixture(scope="module")
def built(docker: None) -> None:
    """The README's one-time steps: the base image (a stand-in when it cannot be pulled), then the build."""
    make("lambda-image")
    make("build")


def invoke(function: str, event: str) -> tuple[Any, str]:
    """`make invoke`: (the function's answer, what SAM and the container logged)."""
    done = make("invoke", f"FUNCTION={function}", f"EVENT={event}", timeout=300)
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_discover_runs_in_a_lambda_container_and_reads_the_demo_accounts(built: None, demo: None) -> None:
    recorded = json.loads((ROOT / "events" / "discover.json").read_text())

    facts, log = invoke("DiscoverFunction", "events/discover.json")

    assert "Invoking nekt_peering.handlers.discover.discover (python3.13)" in log
    assert "DependenciesLayer is a local Layer" in log
    assert "REPORT RequestId:" in log  # the runtime interface emulator's report: it ran in the container
    assert facts["database"]["identifier"] == "orders-db"
    assert facts["nekt"]["vpcId"] == recorded["settings"]["nektVpcId"]
    # The demo left orders-db connected: Discover finds its peering, active, tagged as this product's.
    [peering] = facts["peerings"]
    assert peering["status"] == "active" and peering["tags"]["nekt:managed-by"] == "nekt-peering"


def test_the_api_function_answers_api_gateways_event_with_the_connection(built: None, demo: None) -> None:
    answer, log = invoke("ApiFunction", "events/api.json")

    assert "Invoking nekt_peering.handlers.api.api (python3.13)" in log
    assert answer["statusCode"] == 200, answer
    body = json.loads(answer["body"])
    assert body["connectionId"] == "orders-db" and body["status"] == "CONNECTED"
