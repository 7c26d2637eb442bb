"""`make demo` (the README's first command): the CLI connects and disconnects the emulated accounts
over HTTP, and `--keep` leaves an emulator that the CLI, the events and env.json of `sam local` reach."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from emulator import demo
from emulator.lambda_runtime import LambdaContext, load_handler
from emulator.server import DEFAULT_PORT
from emulator.stack import _physical_name  # noqa: PLC2701 - the name the demo gives the table
from emulator.template import ROOT, Template


def test_demo_plans_connects_disconnects_and_leaves_both_accounts_as_they_were(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--port", "0", "--poll-seconds", "0"]) == 0

    out = capsys.readouterr().out
    assert "$ nekt-peering --endpoint-url http://127.0.0.1:" in out
    assert "PLANNED: 7 change(s), nothing done yet" in out
    for stage in ("Discover", "Request peering", "Accept peering", "Update routes", "Authorize ingress",
                  "Enable DNS resolution", "Verify"):
        assert re.search(rf"\d+\.\d\ds  ✓ {stage} \(\d+\.\d\ds\)", out), stage
    assert "CONNECTED: orders-db (orders-db." in out
    assert len(re.findall(r"│ route \((nekt|database)\)", out)) == 4 + 4  # orders-db's, then the warehouse's
    # The connect's 8 checks (the network ACLs and the probe among them; no DNS check: the demo database
    # is private), then the probe command's 3, then the resource-endpoint connect's 5, then the Redshift's 8.
    assert out.count("[ok]") == 16 + 8 and "FAILED" not in out
    # The cluster whose VPC overlaps Nekt's: auto says why it takes the resource-endpoint path, and the probe
    # reaches the real PostgreSQL through the endpoint's DNS name.
    assert "PLANNED: 8 change(s), nothing done yet, by resource-endpoint" in out
    assert "auto: analytics-db is private and cannot be peered with the Nekt VPC (CidrOverlap:" in out
    assert re.search(r"Nekt connects to vpce-[0-9a-f]+\.rcfg-[0-9a-f]+\.[0-9a-f]+\.vpc-lattice-rsc\.us-east-1\.on\.aws",
                     out)
    assert out.count("[ok] the probe in the Nekt VPC reached") == 4  # orders-db twice, analytics-db, warehouse
    # A Redshift cluster (--kind redshift), peered by the same workflow; the probe speaks PostgreSQL to it.
    assert "CONNECTED: warehouse (warehouse." in out and "DISCONNECTED: warehouse" in out
    assert "DISCONNECTED: analytics-db" in out
    assert "[ok] the probe in the Nekt VPC reached orders-db." in out
    # The facts of the real PostgreSQL behind the emulated endpoint, in the connect's summary and the probe's.
    assert out.count("│ DNS       │ 10.0.1.10 (inside the database VPC)") == 2
    assert out.count("│ handshake │ PostgreSQL asks for SASL (SCRAM) without TLS") == 4  # and endpoint, Redshift
    assert "REACHABLE: orders-db" in out
    assert "ec2 describe-vpc-peering-connections" in out
    # orders-db and the warehouse: a peering, 4 routes and a rule each; analytics-db: its endpoint and its group,
    # configuration, share, rule, gateway and its group.
    assert "DISCONNECTED: orders-db" in out and out.count("  removed ") == 6 + 6 + 7
    assert "Both accounts are back as they were before the connect" in out and "network ACLs (never changed)" in out


def test_keep_serves_the_connected_accounts_to_the_cli_and_to_the_sam_local_events(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    stop = threading.Event()
    demo_thread = threading.Thread(target=demo.main, args=(["--port", "0", "--keep", "--poll-seconds", "0"], stop))
    demo_thread.start()
    try:
        endpoint = _wait_for(capsys, r"keeps running at (http://127\.0\.0\.1:\d+)")

        # The console script, another process, over HTTP, as the demo prints it.
        status = _nekt_peering("--endpoint-url", endpoint, "--region", "us-east-1", "status", "orders-db")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "CONNECTED" in status.stdout and "DISCONNECTED" not in status.stdout
        # status shows the probe's facts, from the connect's result
        assert "│ handshake │ PostgreSQL asks for SASL (SCRAM) without TLS" in status.stdout

        # What `sam local invoke <Function> -e events/<name>.json --env-vars events/env.json` runs.
        for name, value in _sam_local_environment("DiscoverFunction", endpoint).items():
            monkeypatch.setenv(name, value)
        discovered = _invoke("DiscoverFunction", "discover.json")
        assert discovered["database"]["identifier"] == "orders-db"
        assert discovered["nekt"]["vpcId"] == json.loads((ROOT / "events" / "discover.json").read_text())[
            "settings"]["nektVpcId"]
        for name, value in _sam_local_environment("ApiFunction", endpoint).items():
            monkeypatch.setenv(name, value)
        answer = _invoke("ApiFunction", "api.json")
        assert answer["statusCode"] == 200 and json.loads(answer["body"])["status"] == "CONNECTED"
    finally:
        stop.set()
        demo_thread.join(timeout=60)
    assert not demo_thread.is_alive()
    assert "DISCONNECTED" not in capsys.readouterr().out  # --keep stops after the connect


def test_env_json_only_sets_what_the_template_declares_and_points_at_the_demo() -> None:
    """sam local ignores a variable the template does not declare for that function."""
    template = Template()
    environment = json.loads((ROOT / "events" / "env.json").read_text())
    everywhere = set(template.globals["Environment"]["Variables"])
    for function, variables in environment.items():
        declared = everywhere if function == "Parameters" else everywhere | set(
            template.resources[function]["Properties"].get("Environment", {}).get("Variables", {}))
        assert set(variables) <= declared, function
        assert variables["AWS_ENDPOINT_URL"] == f"http://host.docker.internal:{DEFAULT_PORT}"
        # The registry table as the demo's stack names it (CloudFormation's <stack>-<logical id>-<suffix>).
        assert variables.get("CONNECTIONS_TABLE", TABLE) == TABLE, function
    needs_table = {function for function, resource in template.resources.items()
                   if "CONNECTIONS_TABLE" in resource.get("Properties", {}).get("Environment", {}).get("Variables", {})}
    assert needs_table <= set(environment), "give each function that reads the registry its table in env.json"


TABLE = _physical_name("nekt-peering", "ConnectionsTable")


def _wait_for(capsys: pytest.CaptureFixture[str], pattern: str, timeout: float = 60) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += capsys.readouterr().out
        found = re.search(pattern, seen)
        if found:
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"the demo never printed {pattern!r}:\n{seen}")


def _nekt_peering(*arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / part) for part in ("cli", "functions"))}
    return subprocess.run([sys.executable, "-m", "nekt_peering_cli", *arguments], capture_output=True, text=True,
                          env=environment, cwd=ROOT, timeout=120, check=False)


def _sam_local_environment(function: str, endpoint: str) -> dict[str, str]:
    """env.json's variables for the function, with the Docker host name the test does not need."""
    environment = json.loads((ROOT / "events" / "env.json").read_text())
    merged = {**environment.get("Parameters", {}), **environment.get(function, {})}
    return {name: value.replace(f"http://host.docker.internal:{DEFAULT_PORT}", endpoint)
            for name, value in merged.items()}


def _invoke(function: str, event_file: str) -> Any:
    event = json.loads((ROOT / "events" / event_file).read_text())
    handler = load_handler(Template().functions()[function])
    return handler(event, LambdaContext(function_name=function, invoked_function_arn=f"arn:aws:lambda:::{function}"))


def test_a_taken_port_is_named_with_what_to_do_instead_of_a_hang(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert demo.main(["--port", str(taken.getsockname()[1])]) == 1

    assert "--port 5124'; 0 for any free one" in capsys.readouterr().err
