"""The `nekt-peering` CLI against the emulator served over HTTP (moto's server), found by its stack's
CloudFormation outputs as in AWS: the real state machines run the real handlers, and the tests
look at both accounts afterwards."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner

from emulator.accounts import aws_calls, snapshot
from emulator.registry import seed
from emulator.server import EmulatedAws
from emulator.stack import DEFAULT_ACCOUNT, Stack
from emulator.topology import CustomerDatabase, NektNetwork, account_session, create_database, create_nekt_network
from nekt_peering.core.errors import WHAT_TO_DO, VerificationFailed
from nekt_peering_cli.app import app, main
from tests.conftest import Gate


@dataclass
class Served:
    endpoint_url: str
    stack: Stack
    nekt: NektNetwork
    database: CustomerDatabase

    def run(self, *arguments: str) -> Any:
        result = CliRunner().invoke(app, ["--endpoint-url", self.endpoint_url, "--region", "us-east-1", *arguments])
        print(result.output)  # shown when a test fails
        return result

    def state(self) -> dict[str, Any]:
        return snapshot([(self.nekt.account_id, self.nekt.region), (DEFAULT_ACCOUNT, "us-east-2")])


@pytest.fixture
def served() -> Iterator[Served]:
    with EmulatedAws(port=0) as aws:
        nekt = create_nekt_network()
        database = create_database()
        stack = Stack({**nekt.stack_parameters(), "PollIntervalSeconds": "0", "MaxPolls": "5"}).deploy()
        stack.publish_outputs()
        try:
            yield Served(aws.endpoint_url, stack, nekt, database)
        finally:
            stack.close()


def test_connect_follows_each_stage_and_shows_what_it_made(served: Served) -> None:
    result = served.run("connect", "--db", "orders-db", "--region", "us-east-2")

    assert result.exit_code == 0
    for stage in ("Discover", "Preflight", "Request peering", "Accept peering", "Update routes",
                  "Authorize ingress", "Enable DNS resolution", "Verify"):
        assert f"▶ {stage}" in result.output and f"✓ {stage} (" in result.output
    assert "CONNECTED: orders-db" in result.output
    (pcx,) = served.state()[f"{DEFAULT_ACCOUNT}/us-east-2"]["peerings"]
    assert served.state()[f"{DEFAULT_ACCOUNT}/us-east-2"]["peerings"][pcx]["status"] == "active"
    assert f"│ peering          │ {pcx}" in result.output
    assert result.output.count(f"→ {pcx}") == 4  # the routes, both sides
    assert f"tcp/5432 from {served.nekt.cidr}" in result.output
    # ingress, peering, 4 routes, network ACLs; no DNS check: a private database needs no DNS option
    assert result.output.count("[ok]") == 7
    assert "not needed" in result.output
    assert "network ACLs allow the database's port and the replies, both sides" in result.output


def test_plan_prints_the_changes_and_changes_nothing(served: Served) -> None:
    before = served.state()

    result = served.run("plan", "--db", "orders-db", "--region", "us-east-2")

    assert result.exit_code == 0
    assert "PLANNED: 7 change(s), nothing done yet" in result.output  # no DNS option: a private database
    assert "CreateVpcPeeringConnection" in result.output and "AuthorizeSecurityGroupIngress" in result.output
    assert served.state() == before


def test_status_and_list_report_a_connection_and_disconnect_removes_it(served: Served) -> None:
    before = served.state()
    assert served.run("connect", "--db", "orders-db", "--region", "us-east-2").exit_code == 0

    status = served.run("status", "orders-db")
    listed = served.run("list")
    disconnected = served.run("disconnect", "orders-db")
    after = served.run("status", "orders-db")

    assert status.exit_code == 0 and "│ status    │ CONNECTED" in status.output
    assert "CONNECTED: orders-db" in status.output
    assert listed.exit_code == 0 and "│ orders-db  │ CONNECTED" in listed.output
    assert disconnected.exit_code == 0 and "DISCONNECTED: orders-db" in disconnected.output
    assert disconnected.output.count("  removed ") == 6
    assert after.exit_code == 0 and "│ status    │ DISCONNECTED" in after.output
    assert "│ request   │ {\"database\": {\"identifier\": \"orders-db\", \"region\": \"us-east-2\"}" in after.output
    assert served.state() == before


def test_a_failing_connect_exits_1_with_the_error_the_cause_and_what_to_do(served: Served) -> None:
    def lose_a_route(event: dict[str, Any]) -> None:
        raise VerificationFailed("the connection is incomplete: rtb-x has no route to 10.100.0.0/23. Run again")

    served.stack.runtime.before_invoke("VerifyFunction", lose_a_route)
    before = served.state()

    result = served.run("connect", "--db", "orders-db", "--region", "us-east-2")

    assert result.exit_code == 1
    assert "✗ Verify: VerificationFailed" in result.output
    assert "▶ Undo: delete peering" in result.output
    assert "FAILED: VerificationFailed" in result.output
    assert "Cause: the connection is incomplete: rtb-x has no route to 10.100.0.0/23. Run again" in result.output
    assert "Rolled back:" in result.output
    assert f"What to do: {WHAT_TO_DO['VerificationFailed']}" in result.output
    assert served.state() == before
    assert served.run("status", "orders-db").exit_code == 1  # its last run failed


def test_a_refused_start_changes_nothing_and_a_missing_connection_is_a_failure(served: Served) -> None:
    before = served.state()

    overlapping = create_database("analytics-db", cidr="10.100.0.0/16")
    refused = served.run("connect", "--db", overlapping.identifier, "--region", "us-east-2")
    unknown = served.run("status", "never-made")
    undisconnectable = served.run("disconnect", "never-made")

    assert refused.exit_code == 1 and "FAILED: CidrOverlap" in refused.output
    assert f"What to do: {WHAT_TO_DO['CidrOverlap']}" in refused.output
    assert unknown.exit_code == 1 and "no connection never-made" in unknown.output
    assert undisconnectable.exit_code == 1 and "no connection never-made" in undisconnectable.output
    assert served.state()[f"{DEFAULT_ACCOUNT}/us-east-2"]["peerings"] == before[f"{DEFAULT_ACCOUNT}/us-east-2"][
        "peerings"] == {}


def test_a_database_on_ec2_connects_by_its_instance_and_port(served: Served) -> None:
    warehouse = create_database("warehouse", cidr="10.30.0.0/16", kind="ec2")

    result = served.run("connect", "--kind", "ec2", "--instance-id", warehouse.instance_id, "--port", "5432",
                        "--engine", "postgres", "--region", "us-east-2")

    assert result.exit_code == 0
    assert f"CONNECTED: {warehouse.instance_id}" in result.output
    assert f"tcp/5432 from {served.nekt.cidr}" in result.output


@pytest.mark.parametrize(("arguments", "says"), [
    (["connect", "--region", "us-east-2"], "database.identifier is required"),
    (["connect", "--kind", "ec2", "--port", "5432"], "database.instanceId is required"),
    (["connect", "--kind", "address", "--host", "10.0.1.4", "--port", "5432", "--vpc-id", "vpc-0abc1234",
      "--endpoint", "reader"], "database.endpoint does not apply"),
    (["connect", "--db", "orders-db", "--engine", "postgres"], "database.engine does not apply"),
    (["connect", "--kind", "mongo"], "Invalid value for '--kind'"),
    (["connect", "--db", "orders-db", "--mode", "sideways"], "Invalid value for '--mode'"),
    (["connect", "--db", "orders db!"], "database.identifier"),
    (["connect", "--db", "orders-db", "--connection-id", "-starts-with-a-dash"], "connectionId"),
    (["status", "not/an id"], "connectionId"),
    (["list", "--limit", "0"], "Invalid value for '--limit'"),
    (["explode"], "No such command 'explode'"),
])
def test_bad_usage_exits_2_naming_what_is_wrong_and_starts_nothing(
        served: Served, arguments: list[str], says: str) -> None:
    result = served.run(*arguments)

    assert result.exit_code == 2
    assert says in result.output
    assert served.stack.sfn.list_executions(
        stateMachineArn=served.stack.state_machine_arns["ConnectStateMachine"])["executions"] == []


def test_a_stack_that_is_not_there_is_named_with_what_to_do(served: Served) -> None:
    result = served.run("--stack", "nekt-peering-typo", "list")

    assert result.exit_code == 1
    assert "no stack nekt-peering-typo in us-east-1" in result.output and "--stack" in result.output


def test_aws_refusing_a_call_of_the_cli_is_a_failure_in_plain_words(
        served: Served, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def deny_start(service: str, operation: str) -> tuple[str, int] | None:
        return ("AccessDeniedException", 400) if operation == "StartExecution" else None

    monkeypatch.setattr(sys, "argv", ["nekt-peering", "--endpoint-url", served.endpoint_url, "--region", "us-east-1",
                                      "connect", "--db", "orders-db", "--region", "us-east-2"])
    with aws_calls(deny_start), pytest.raises(SystemExit) as exited:
        main()

    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert error == "error: AWS refused StartExecution: AccessDeniedException: injected AccessDeniedException\n"


def test_a_connection_busy_with_another_request_is_refused_with_exit_1(served: Served) -> None:
    gate = Gate(served.stack, "RequestPeeringFunction")
    running = served.stack.start({"database": {"identifier": "orders-db", "region": "us-east-2"}},
                                 name="orders-db_0123456789abcdef")
    try:
        assert gate.reached.wait(timeout=30)
        following = served.run("status", "orders-db")
        other = served.run("plan", "--db", "orders-db", "--region", "us-east-2")
        disconnect = served.run("disconnect", "orders-db")
    finally:
        gate.released.set()
    assert served.stack.wait(running).status == "SUCCEEDED"

    assert following.exit_code == 0 and "│ status    │ CONNECTING" in following.output
    assert "│ workflow  │ connect (RUNNING)" in following.output
    assert "│ stage     │ Request peering" in following.output
    assert other.exit_code == 1
    assert "refused: connection orders-db is being connected with another request" in other.output
    assert disconnect.exit_code == 1 and "refused: connection orders-db is being connected" in disconnect.output


def test_probe_rechecks_a_connected_connection_and_changes_nothing(served: Served) -> None:
    refused = served.run("probe", "orders-db")
    assert refused.exit_code == 1 and "no connection orders-db" in refused.output
    assert served.run("connect", "--db", "orders-db", "--region", "us-east-2").exit_code == 0
    before = served.state()

    result = served.run("probe", "orders-db")

    assert result.exit_code == 0
    assert "✓ Check path (" in result.output and "REACHABLE: orders-db" in result.output
    assert "path: configuration verified, path not probed" in result.output  # no probe in this stack
    assert served.state() == before


def test_a_drifted_connection_shows_degraded_in_status_and_list_and_repair_restores_it(served: Served) -> None:
    assert served.run("repair", "orders-db").exit_code == 1, "nothing to repair before a connect"
    assert served.run("connect", "--db", "orders-db", "--region", "us-east-2").exit_code == 0
    connected = served.state()
    table = served.database.route_table_ids[0]
    account_session(DEFAULT_ACCOUNT, "us-east-2").client("ec2").delete_route(
        RouteTableId=table, DestinationCidrBlock=served.nekt.cidr)
    assert served.run("probe", "orders-db").exit_code == 1

    degraded = served.run("status", "orders-db")
    listed = served.run("list")

    assert degraded.exit_code == 0 and "DEGRADED since" in degraded.output and table in degraded.output
    assert "VerificationFailed" in degraded.output
    assert [line.split("│")[3].strip() for line in listed.output.splitlines() if "│ orders-db" in line] == ["DEGRADED"]

    repaired = served.run("repair", "orders-db")

    assert repaired.exit_code == 0 and "repairing orders-db" in repaired.output
    assert served.state() == connected
    assert "HEALTHY since" in served.run("status", "orders-db").output
    assert [line.split("│")[3].strip() for line in served.run("list").output.splitlines()
            if "│ orders-db" in line] == ["HEALTHY"]


def _listed(output: str) -> list[str]:
    return [line.split("│")[1].strip() for line in output.splitlines() if line.startswith("│ db-")]


def test_list_pages_through_more_than_1000_connections(served: Served) -> None:
    newest_first = seed(served.stack.tables["ConnectionsTable"], 1_050)

    every = served.run("list", "--all", "--limit", "100")
    pages, arguments = [], ["list", "--limit", "100"]
    while True:
        page = served.run(*arguments)
        assert page.exit_code == 0
        pages.append(_listed(page.output))
        more = [line for line in page.output.splitlines() if line.startswith("more: nekt-peering list")]
        if not more:
            break
        arguments = more[0].removeprefix("more: nekt-peering ").split()

    assert every.exit_code == 0 and _listed(every.output) == newest_first
    assert "1050 connection(s)" in every.output
    assert [cid for page in pages for cid in page] == newest_first
    assert all(len(page) <= 100 for page in pages) and len(pages) >= 11
    assert "│ db-01049   │ CONNECTED │ —      │ connect  │ db-01049 (us-east-2) │" in every.output  # no health yet


def test_list_refuses_a_token_it_did_not_give_and_says_when_there_is_nothing(served: Served) -> None:
    empty = served.run("list")
    forged = served.run("list", "--next-token", "bm90LWEtdG9rZW4")

    assert empty.exit_code == 0 and "no connections in stack nekt-peering" in empty.output
    assert forged.exit_code == 2 and "nextToken: the page token is not one this API gave" in forged.output


def test_status_of_a_connected_connection_whose_rerun_failed_says_both_and_exits_0(served: Served) -> None:
    assert served.run("connect", "--db", "orders-db", "--region", "us-east-2").exit_code == 0

    def lose_a_route(event: dict[str, Any]) -> None:
        raise VerificationFailed("the connection is incomplete: rtb-x has no route to 10.100.0.0/23. Run again")

    served.stack.runtime.before_invoke("VerifyFunction", lose_a_route)
    assert served.run("connect", "--db", "orders-db", "--region", "us-east-2").exit_code == 1

    status = served.run("status", "orders-db")

    assert status.exit_code == 0
    assert "│ status    │ CONNECTED" in status.output and "CONNECTED: orders-db" in status.output
    assert "its last connect failed and was rolled back; it is still CONNECTED" in status.output
    assert "FAILED: VerificationFailed" in status.output


def test_connect_follows_a_run_step_functions_does_not_know_yet(served: Served) -> None:
    """DescribeExecution and GetExecutionHistory are eventually consistent: just after the start, they may
    not know the execution."""
    unknown = {"DescribeExecution": 2, "GetExecutionHistory": 1}

    def not_yet(service: str, operation: str) -> tuple[str, int] | None:
        if service == "sfn" and unknown.get(operation, 0) > 0:
            unknown[operation] -= 1
            return ("ExecutionDoesNotExist", 400)
        return None

    with aws_calls(not_yet):
        result = served.run("connect", "--db", "orders-db", "--region", "us-east-2")

    assert result.exit_code == 0 and "CONNECTED: orders-db" in result.output
    assert unknown == {"DescribeExecution": 0, "GetExecutionHistory": 0}


def test_check_all_runs_the_sweep_and_exits_1_while_a_connection_is_degraded(served: Served) -> None:
    assert served.run("check").exit_code == 2, "one connection is `probe ID`; the sweep is --all"
    assert served.run("connect", "--db", "orders-db", "--region", "us-east-2").exit_code == 0
    before = served.state()

    healthy = served.run("check", "--all")

    assert healthy.exit_code == 0
    assert "✓ Check path (" in healthy.output and "1 healthy, 0 degraded" in healthy.output
    assert served.state() == before
    ec2 = account_session(DEFAULT_ACCOUNT, "us-east-2").client("ec2")
    ec2.delete_route(RouteTableId=served.database.route_table_ids[0], DestinationCidrBlock=served.nekt.cidr)

    degraded = served.run("check", "--all")

    assert degraded.exit_code == 1 and "0 healthy, 1 degraded" in degraded.output
