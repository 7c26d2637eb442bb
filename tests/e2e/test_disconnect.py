"""The disconnect workflow, end to end: the real disconnect.asl.json on moto, each task the real handler.

A disconnect removes what this product created for the connection (found by its tags) and nothing
else, waits until the peering is deleted, and is content with nothing left to remove. Connect then
disconnect leaves both accounts as they were before the connect.
"""

from __future__ import annotations

from typing import Any

import pytest

from emulator.accounts import aws_calls, establish_peering, is_mutating, set_peering_status, snapshot
from emulator.stack import DEFAULT_ACCOUNT, Execution, Stack
from emulator.topology import NektNetwork, account_session, create_database, create_nekt_network
from tools.generate_openapi import release_version

DISCONNECT = "DisconnectStateMachine"


def places(nekt: NektNetwork, region: str = "us-east-2") -> list[tuple[str, str]]:
    return sorted({(DEFAULT_ACCOUNT, region), (nekt.account_id, nekt.region)})


def connect(stack: Stack, identifier: str = "orders-db", region: str = "us-east-2", **extra: Any) -> dict[str, Any]:
    execution = stack.run({"database": {"identifier": identifier, "region": region}, **extra})
    assert execution.status == "SUCCEEDED", execution.cause
    assert isinstance(execution.output, dict)
    return execution.output


def disconnect(stack: Stack, connection_id: str = "orders-db", region: str | None = "us-east-2") -> Execution:
    execution_input: dict[str, Any] = {"connectionId": connection_id}
    if region:
        execution_input["region"] = region
    return stack.run(execution_input, state_machine=DISCONNECT)


def results(stack: Stack) -> list[tuple[str, str]]:
    return [(event["detail-type"], event["detail"]["status"]) for event in stack.published()]


@pytest.mark.parametrize("topology", ["cross-account-cross-region", "same-account", "public", "aurora"])
def test_connect_then_disconnect_leaves_both_accounts_as_before_the_connect(topology: str, deploy: Any) -> None:
    if topology == "same-account":
        nekt = create_nekt_network(account_id=DEFAULT_ACCOUNT, region="us-east-1")
        database = create_database(region="us-east-1", cidr="10.20.0.0/16")
    else:
        nekt = create_nekt_network()
        database = create_database(publicly_accessible=topology == "public",
                                   kind="cluster" if topology == "aurora" else "instance",
                                   engine="mysql" if topology == "aurora" else "postgres",
                                   secondary_cidr="10.1.0.0/16" if topology == "aurora" else None)
    stack = deploy(nekt)
    before = snapshot(places(nekt, database.region))
    connected = connect(stack, region=database.region)
    assert snapshot(places(nekt, database.region)) != before

    execution = disconnect(stack, region=database.region)

    assert execution.status == "SUCCEEDED", execution.cause
    assert snapshot(places(nekt, database.region)) == before
    output = execution.output
    assert output["status"] == "DISCONNECTED" and output["connectionId"] == "orders-db"
    if connected["peeringConnectionId"]:
        assert output["peering"] == output["peering"] | {"peeringConnectionId": connected["peeringConnectionId"],
                                                         "status": "deleted"}
        assert f"peering {connected['peeringConnectionId']}" in output["removed"]
        assert sum(what.startswith("route ") for what in output["removed"]) == len(connected["routes"])
    assert any(what.startswith(f"ingress rule {connected['ingress']['ruleId']}") for what in output["removed"])
    assert results(stack) == [("Connection Connected", "CONNECTED"), ("Connection Disconnected", "DISCONNECTED")]
    assert stack.published()[-1]["detail"] == output | {"version": release_version()}


def test_disconnecting_twice_is_success_and_the_second_changes_nothing(deploy: Any, nekt: NektNetwork) -> None:
    create_database()
    stack = deploy(nekt)
    connect(stack)
    assert disconnect(stack).status == "SUCCEEDED"

    with aws_calls() as calls:
        again = disconnect(stack)

    assert again.status == "SUCCEEDED", again.cause
    assert again.output == {"status": "DISCONNECTED", "connectionId": "orders-db", "region": "us-east-2",
                            "peering": None, "removed": []}
    assert {call: n for call, n in calls.items() if is_mutating(call[1])} == {}
    assert "Wait for deleted" not in again.states_entered()


def test_a_connection_never_made_disconnects_as_nothing_to_remove(deploy: Any, nekt: NektNetwork) -> None:
    create_database()
    stack = deploy(nekt)
    before = snapshot(places(nekt))

    execution = disconnect(stack, connection_id="never-connected", region=None)

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["removed"] == [] and execution.output["region"] == "us-east-1"
    assert snapshot(places(nekt)) == before


def test_only_what_this_connection_owns_is_removed(deploy: Any, nekt: NektNetwork) -> None:
    """Another connection to the same Nekt VPC, a customer's own rule identical in port, and a route to
    another destination in the same tables: all stay."""
    orders = create_database("orders-db", cidr="10.0.0.0/16")
    create_database("billing-db", cidr="10.30.0.0/16")
    stack = deploy(nekt)
    db_ec2 = account_session(DEFAULT_ACCOUNT, "us-east-2").client("ec2")
    db_ec2.authorize_security_group_ingress(GroupId=orders.security_group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.50.0.0/16"}]}])
    before_orders = snapshot(places(nekt))
    connect(stack, "orders-db")
    billing = connect(stack, "billing-db")
    with_both = snapshot(places(nekt))

    assert disconnect(stack, "orders-db").status == "SUCCEEDED"

    after = snapshot(places(nekt))
    # What billing-db's connect added is all still there, and orders-db's additions are all gone.
    for place in after:
        for kind in ("routes",):
            for table, routes in with_both[place][kind].items():
                kept = {route for route in routes if route[1] == billing["peeringConnectionId"]}
                assert kept <= set(after[place][kind][table])
        assert billing["peeringConnectionId"] in after[f"{DEFAULT_ACCOUNT}/us-east-2"]["peerings"]
    assert disconnect(stack, "billing-db").status == "SUCCEEDED"
    assert snapshot(places(nekt)) == before_orders


def test_a_customers_own_peering_is_kept_and_everything_the_connect_added_goes(
    deploy: Any, nekt: NektNetwork
) -> None:
    """The peering the customer made stays; the routes through it and the rule the connect added go: both
    accounts are as they were before the connect."""
    database = create_database(publicly_accessible=True)
    db_ec2 = account_session(DEFAULT_ACCOUNT, "us-east-2").client("ec2")
    theirs = establish_peering(
        db_ec2, account_session(nekt.account_id, nekt.region).client("ec2"),
        VpcId=database.vpc_id, PeerVpcId=nekt.vpc_id, PeerOwnerId=nekt.account_id, PeerRegion=nekt.region)
    for account_id, region, vpc_id in ((nekt.account_id, nekt.region, nekt.vpc_id),
                                       (DEFAULT_ACCOUNT, "us-east-2", database.vpc_id)):
        account_session(account_id, region).client("ec2").modify_vpc_attribute(
            VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    stack = deploy(nekt)
    before = snapshot(places(nekt))
    connected = connect(stack, mode="peering")
    assert connected["peeringConnectionId"] == theirs
    assert connected["dnsResolution"]["changed"] is True  # a public database through the peering

    execution = disconnect(stack)

    assert execution.status == "SUCCEEDED", execution.cause
    assert snapshot(places(nekt)) == before
    removed = execution.output["removed"]
    rule = connected["ingress"]["ruleId"]
    assert f"ingress rule {rule} (tcp/5432 from {nekt.cidr}) on {database.security_group_id}" in removed
    assert any(step.startswith("DNS resolution option turned back off") for step in removed)
    assert sum(step.startswith("route ") for step in removed) == len(connected["routes"])


def test_it_waits_until_aws_reports_the_peering_deleted(deploy: Any, nekt: NektNetwork) -> None:
    create_database()
    stack = deploy(nekt)
    peering_id = connect(stack)["peeringConnectionId"]
    polls = {"n": 0}
    stack.runtime.after_invoke("DeletePeeringFunction", lambda event, result: set_peering_status(
        DEFAULT_ACCOUNT, "us-east-2", peering_id, "deleting"))

    def deleted_on_the_third_poll(event: dict[str, Any]) -> None:
        polls["n"] += 1
        set_peering_status(DEFAULT_ACCOUNT, "us-east-2", peering_id, "deleted" if polls["n"] >= 3 else "deleting")

    stack.runtime.before_invoke("PeeringStatusFunction", deleted_on_the_third_poll)

    execution = disconnect(stack)

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.states_entered().count("Check peering deleted") == 3
    assert execution.output["peering"]["status"] == "deleted"


def test_a_peering_that_is_never_deleted_times_out_and_says_so(deploy: Any, nekt: NektNetwork) -> None:
    create_database()
    stack = deploy(nekt)
    peering_id = connect(stack)["peeringConnectionId"]
    stack.runtime.before_invoke("PeeringStatusFunction", lambda event: set_peering_status(
        DEFAULT_ACCOUNT, "us-east-2", peering_id, "deleting"))

    execution = disconnect(stack)

    assert execution.status == "FAILED" and execution.error == "PeeringTimeout"
    assert "waiting for 'deleted'" in (execution.error_message or "")
    event = stack.published()[-1]
    assert event["detail-type"] == "Connection Disconnect Failed"
    assert event["detail"] | {"error": "PeeringTimeout", "executionArn": execution.arn,
                              "version": release_version()} == event["detail"]


def test_a_removal_aws_refuses_fails_as_disconnect_failed_naming_what_is_left(
    deploy: Any, nekt: NektNetwork
) -> None:
    create_database()
    stack = deploy(nekt)
    connected = connect(stack)

    def refuse_deleting_routes(service: str, operation: str) -> tuple[str, int] | None:
        return ("UnauthorizedOperation", 403) if operation == "DeleteRoute" else None

    with aws_calls(refuse_deleting_routes):
        execution = disconnect(stack)

    assert execution.status == "FAILED" and execution.error == "DisconnectFailed"
    cause = execution.cause or ""
    assert cause.startswith("Left behind (remove by hand): route ") and "UnauthorizedOperation" in cause
    assert f"Removed: ingress rule {connected['ingress']['ruleId']}" in cause
    assert "Wait for deleted" not in execution.states_entered()
    assert results(stack)[-1] == ("Connection Disconnect Failed", "FAILED")
    # Fixing the cause and disconnecting again completes it.
    assert disconnect(stack).status == "SUCCEEDED"
    assert live_routes_to(nekt, connected["peeringConnectionId"]) == []


def live_routes_to(nekt: NektNetwork, peering_id: str) -> list[str]:
    tables = account_session(nekt.account_id, nekt.region).client("ec2").describe_route_tables()["RouteTables"]
    return [table["RouteTableId"] for table in tables for route in table["Routes"]
            if route.get("VpcPeeringConnectionId") == peering_id]


@pytest.mark.parametrize(("execution_input", "field"), [
    ({}, "connectionId"),
    ({"connectionId": "orders db"}, "connectionId"),
    ({"connectionId": "orders-db", "region": "Ohio"}, "region"),
    ({"connectionId": "orders-db", "force": True}, "must not contain"),
])
def test_bad_input_fails_as_invalid_input_before_any_change(
    execution_input: dict[str, Any], field: str, deploy: Any, nekt: NektNetwork
) -> None:
    stack = deploy(nekt)

    execution = stack.run(execution_input, state_machine=DISCONNECT)

    assert execution.status == "FAILED" and execution.error == "InvalidInput"
    assert field in (execution.error_message or "")
    # An input that names no valid connection publishes no result event, as in the connect workflow.
    assert execution.states_entered() == ["Load settings", "Find what to remove", "Disconnect failed"]
    assert stack.published() == []
