"""A connect either ends connected and verified, or leaves both accounts as it found them.

Each scenario runs the real ASL on moto with one stage made to fail (before it acts, or half
way through its own work), then compares a snapshot of both accounts with the one taken
before: live peerings and their options and tags, every route of every route table, every
security-group rule. What existed before (a reused peering, its route, an unrelated rule)
is in the snapshot too, so it must come out untouched.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.retries.standard
import pytest

from emulator.accounts import aws_calls, establish_peering, is_mutating, snapshot
from emulator.stack import DEFAULT_ACCOUNT, Execution, Stack
from emulator.topology import (
    CustomerDatabase,
    NektNetwork,
    account_session,
    add_database,
    create_database,
    create_nekt_network,
)
from nekt_peering.registry import store
from tests.conftest import hold_until_both_tried_the_locks, start_together


class InjectedFault(Exception):
    """Stands for any permanent failure of a stage."""


@dataclass
class World:
    nekt: NektNetwork
    database: CustomerDatabase
    stack: Stack
    input: dict[str, Any]

    @property
    def places(self) -> list[tuple[str, str]]:
        return sorted({(DEFAULT_ACCOUNT, self.database.region), (self.nekt.account_id, self.nekt.region)})

    def snapshot(self) -> dict[str, Any]:
        return snapshot(self.places)


def build_world(topology: str, deploy: Any) -> World:
    if topology.startswith("resource-endpoint"):  # a VPC overlapping Nekt's: auto takes the resource-endpoint path
        nekt = create_nekt_network()
        database = create_database(region=nekt.region, cidr="10.100.0.0/16", kind="cluster", engine="postgresql")
    elif topology == "same-account":
        nekt = create_nekt_network(account_id=DEFAULT_ACCOUNT, region="us-east-1")
        database = create_database(region="us-east-1", cidr="10.20.0.0/16")
    else:
        nekt = create_nekt_network()
        database = create_database(region="us-east-2", publicly_accessible=topology == "public")
    if topology == "reused-peering":
        add_what_a_customer_already_had(nekt, database)
    stack = deploy(nekt)
    if topology in ("second-database", "resource-endpoint-second-database"):
        # another database of the VPC, on its own group, is connected already
        add_database(database, "ledger-db", same_security_group=False)
        neighbour = stack.run({"database": {"identifier": "ledger-db", "region": database.region}})
        assert neighbour.status == "SUCCEEDED", neighbour.cause
    return World(nekt, database, stack, {"database": {"identifier": "orders-db", "region": database.region}})


def add_what_a_customer_already_had(nekt: NektNetwork, database: CustomerDatabase) -> None:
    """An active peering they made by hand, one of its routes, and an unrelated rule on the DB group."""
    ec2 = account_session(DEFAULT_ACCOUNT, database.region).client("ec2")
    peering_id = establish_peering(
        ec2, account_session(nekt.account_id, nekt.region).client("ec2"),
        VpcId=database.vpc_id, PeerVpcId=nekt.vpc_id, PeerOwnerId=nekt.account_id, PeerRegion=nekt.region)
    ec2.create_route(RouteTableId=database.route_table_ids[0], DestinationCidrBlock=nekt.cidr,
                     VpcPeeringConnectionId=peering_id)
    ec2.authorize_security_group_ingress(GroupId=database.security_group_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.50.0.0/16"}]}])


def registry_items(stack: Stack) -> dict[str, Any]:
    """The registry table, by key, without the timestamps and versions a write changes."""
    items = boto3.client("dynamodb", region_name=stack.region).scan(TableName=stack.tables["ConnectionsTable"])["Items"]
    plain = (store.from_item(item) for item in items)
    return {f"{value['pk']}/{value['sk']}": {key: inner for key, inner in value.items()
                          if key not in ("updatedAt", "version", "executions", "releasedAt", "acquiredAt")}
            for value in plain}


def fail_before(world: World, function: str) -> None:
    def fault(event: dict[str, Any]) -> None:
        raise InjectedFault(f"injected: {function} failed before acting")

    world.stack.runtime.before_invoke(function, fault)


def fail_after(world: World, function: str) -> None:
    """The stage did its work, then its answer was lost (a timeout, a crash on the way out)."""
    def fault(event: dict[str, Any], result: Any) -> None:
        raise InjectedFault(f"injected: {function} acted, then failed")

    world.stack.runtime.after_invoke(function, fault)


def run_and_compare(world: World, expected_error: str, fault_matrix: list[int]) -> Execution:
    before = world.snapshot()

    execution = world.stack.run(world.input)

    after = world.snapshot()
    fault_matrix.append(_differences(before, after))
    assert execution.status == "FAILED"
    assert execution.error == expected_error, execution.cause
    assert execution.cause and "Rolled back:" in execution.cause, execution.cause
    assert after == before
    return execution


def _differences(before: dict[str, Any], after: dict[str, Any]) -> int:
    count = 0
    for place in before:
        for kind in ("peerings", "routes", "rules", "resourcePath"):
            old, new = before[place][kind], after[place][kind]
            if kind == "resourcePath":
                count += sum(len(set(old[key]) ^ set(new[key])) for key in old)
                continue
            if isinstance(old, dict):
                count += sum(old.get(key) != new.get(key) for key in set(old) | set(new))
            else:
                count += len(set(old) ^ set(new))
    return count


RESOURCE_ENDPOINT_STAGES = ["ShareDatabaseFunction", "CreateResourceEndpointFunction", "VerifyFunction",
                            "RecordConnectionFunction"]
PEERING_STAGES = ["RequestPeeringFunction", "PeeringStatusFunction", "AcceptPeeringFunction",
                  "UpdateRoutesFunction", "AuthorizeIngressFunction", "EnableDnsResolutionFunction", "VerifyFunction"]
MATRIX = (
    [("same-account", stage) for stage in PEERING_STAGES]
    + [("cross-account-cross-region", stage) for stage in PEERING_STAGES]
    # With an active peering reused there is nothing to request-wait-accept: the request step takes it.
    + [("reused-peering", stage) for stage in ["RequestPeeringFunction", "UpdateRoutesFunction",
                                                "AuthorizeIngressFunction", "EnableDnsResolutionFunction",
                                                "VerifyFunction"]]
    + [("public", stage) for stage in ["AuthorizeIngressFunction", "VerifyFunction"]]
    # The network is shared with a connection that must come out untouched (the snapshot holds its resources).
    + [("second-database", stage) for stage in ["RequestPeeringFunction", "UpdateRoutesFunction",
                                                 "AuthorizeIngressFunction", "VerifyFunction",
                                                 "RecordConnectionFunction"]]
    + [("cross-account-cross-region", "RecordConnectionFunction")]
    # A database shared as a VPC resource (its VPC overlaps Nekt's), alone and next to a connected one.
    + [("resource-endpoint", stage) for stage in RESOURCE_ENDPOINT_STAGES]
    + [("resource-endpoint-second-database", stage) for stage in RESOURCE_ENDPOINT_STAGES]
)
LAST_COMPENSATION = {"resource-endpoint": "UnshareDatabaseFunction",
                     "resource-endpoint-second-database": "UnshareDatabaseFunction"}


@pytest.mark.parametrize(("topology", "stage"), MATRIX, ids=[f"{t}:{s}" for t, s in MATRIX])
def test_a_stage_that_fails_leaves_both_accounts_as_they_were(
    topology: str, stage: str, deploy: Any, fault_matrix: list[int]
) -> None:
    world = build_world(topology, deploy)
    fail_before(world, stage)
    registry_before = registry_items(world.stack)

    execution = run_and_compare(world, "InjectedFault", fault_matrix)
    # The other connection's record and what it relies on are as they were; this one is FAILED.
    after = registry_items(world.stack)
    assert {key: value for key, value in after.items() if not key.startswith(("connection#orders-db", "lock#"))} == {
        key: value for key, value in registry_before.items() if not key.startswith("lock#")}
    assert after["connection#orders-db/connection"]["state"] == "FAILED"

    assert f"injected: {stage} failed before acting" in (execution.cause or "")
    # The last compensation ran, then the registry recorded the outcome and released the locks.
    assert [call.logical_id for call in world.stack.runtime.invocations[-2:]] == [
        LAST_COMPENSATION.get(topology, "DeletePeeringFunction"), "RecordFailureFunction"]


ACTED_THEN_FAILED = [("cross-account-cross-region", stage) for stage in [
    "RequestPeeringFunction", "AcceptPeeringFunction", "AuthorizeIngressFunction", "EnableDnsResolutionFunction"]] + [
    ("resource-endpoint", stage) for stage in ["ShareDatabaseFunction", "CreateResourceEndpointFunction"]]


@pytest.mark.parametrize(("topology", "stage"), ACTED_THEN_FAILED, ids=[f"{t}:{s}" for t, s in ACTED_THEN_FAILED])
def test_a_stage_that_acted_and_then_failed_is_undone_too(topology: str, stage: str, deploy: Any,
                                                          fault_matrix: list[int]) -> None:
    world = build_world(topology, deploy)
    fail_after(world, stage)

    run_and_compare(world, "InjectedFault", fault_matrix)


def test_routes_failing_half_way_are_undone_down_to_the_ones_created(deploy: Any, fault_matrix: list[int]) -> None:
    world = build_world("reused-peering", deploy)
    created = {"routes": 0}

    def refuse_the_third_route(service: str, operation: str) -> tuple[str, int] | None:
        if operation == "CreateRoute":
            created["routes"] += 1
            if created["routes"] == 3:
                return "UnauthorizedOperation", 403
        return None

    with aws_calls(refuse_the_third_route) as calls:
        execution = run_and_compare(world, "AccessDenied", fault_matrix)

    assert calls[("ec2", "DeleteRoute")] == 2, "the two routes created before the refusal, and no other"
    assert "CreateRoute" in (execution.cause or "")


def test_a_rollback_that_aws_refuses_fails_as_rollback_failed_naming_what_is_left(deploy: Any) -> None:
    world = build_world("cross-account-cross-region", deploy)
    fail_before(world, "VerifyFunction")

    def refuse_deleting_routes(service: str, operation: str) -> tuple[str, int] | None:
        return ("UnauthorizedOperation", 403) if operation == "DeleteRoute" else None

    with aws_calls(refuse_deleting_routes):
        execution = world.stack.run(world.input)

    assert execution.status == "FAILED" and execution.error == "RollbackFailed"
    cause = execution.cause or ""
    assert "left behind" in cause and "UnauthorizedOperation" in cause
    for route_table_id in [world.nekt.private_route_table_id, *world.database.route_table_ids]:
        assert route_table_id in cause
    assert "injected: VerifyFunction" in cause
    assert "ingress rule sgr-" in cause.split("Undone:")[1], "what could be undone still was"


def test_a_compensation_that_cannot_run_fails_as_rollback_failed(deploy: Any) -> None:
    world = build_world("cross-account-cross-region", deploy)
    fail_before(world, "VerifyFunction")
    fail_before(world, "DeleteRoutesFunction")

    execution = world.stack.run(world.input)

    assert execution.status == "FAILED" and execution.error == "RollbackFailed"
    assert "nekt:connection-id=orders-db" in (execution.cause or "")
    assert "Rollback could not run" in execution.states_entered()
    # Recorded all the same: the connection FAILED with the error, its locks released.
    items = registry_items(world.stack)
    connection = items["connection#orders-db/connection"]
    assert connection["state"] == "FAILED" and connection["lastError"]["error"] == "RollbackFailed"
    assert [key for key, item in items.items() if key.startswith("lock#") and item.get("holder")] == []


def test_aws_throttling_is_absorbed_by_retries(deploy: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore still retries each throttled call as configured; it only does not wait its backoff in real time.
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    world = build_world("cross-account-cross-region", deploy)
    dice = random.Random(7)
    throttled = {"attempts": 0}

    def throttle_a_third_of_ec2(service: str, operation: str) -> tuple[str, int] | None:
        if service == "ec2" and dice.random() < 0.3:
            throttled["attempts"] += 1
            return "RequestLimitExceeded", 503
        return None

    with aws_calls(throttle_a_third_of_ec2):
        execution = world.stack.run(world.input)

    assert execution.status == "SUCCEEDED", execution.cause
    assert throttled["attempts"] >= 5


def test_a_repeat_connect_makes_no_mutating_call(deploy: Any) -> None:
    world = build_world("cross-account-cross-region", deploy)
    with aws_calls() as first_calls:
        first = world.stack.run(world.input)
    assert first.status == "SUCCEEDED"
    assert any(is_mutating(operation) for _, operation in first_calls)

    with aws_calls() as calls:
        second = world.stack.run(world.input)

    assert second.status == "SUCCEEDED", second.cause
    assert {call: n for call, n in calls.items() if is_mutating(call[1])} == {}
    output = second.output
    assert output["ingress"]["created"] is False and output["dnsResolution"]["changed"] is False
    assert not any(route["created"] for route in output["routes"])


def test_every_stage_run_twice_leaves_no_duplicate(deploy: Any) -> None:
    world = build_world("cross-account-cross-region", deploy)
    world.stack.runtime.repeat = 2

    execution = world.stack.run(world.input)

    assert execution.status == "SUCCEEDED", execution.cause
    after = world.snapshot()
    database_place = f"{DEFAULT_ACCOUNT}/{world.database.region}"
    assert len(after[database_place]["peerings"]) == 1
    rules = [rule for rule in after[database_place]["rules"] if rule[0] == world.database.security_group_id
             and not rule[1]]
    assert len(rules) == 1


def test_a_connection_can_be_connected_again_after_a_failure(deploy: Any) -> None:
    world = build_world("cross-account-cross-region", deploy)
    fail_before(world, "VerifyFunction")
    assert world.stack.run(world.input).error == "InjectedFault"
    world.stack.runtime.before.clear()

    again = world.stack.run(world.input)

    assert again.status == "SUCCEEDED", again.cause


def test_the_same_connection_started_twice_at_once_runs_once(deploy: Any) -> None:
    world = build_world("cross-account-cross-region", deploy)
    hold_until_both_tried_the_locks(world.stack, "PreflightFunction")

    executions = start_together(world.stack, [(world.input, "ConnectStateMachine")] * 2)

    assert sorted(execution.status for execution in executions) == ["FAILED", "SUCCEEDED"]
    busy = next(execution for execution in executions if execution.status == "FAILED")
    assert busy.error == "ConnectionBusy", busy.cause
    assert busy.states_entered() == ["Load settings", "Discover", "Take the locks", "Failed before any change"]
    after = world.snapshot()
    assert len(after[f"{DEFAULT_ACCOUNT}/{world.database.region}"]["peerings"]) == 1


def test_two_databases_connect_to_the_same_nekt_vpc_at_once(deploy: Any, nekt: NektNetwork) -> None:
    create_database("orders-db", cidr="10.0.0.0/16")
    create_database("billing-db", cidr="10.30.0.0/16")
    stack = deploy(nekt)

    executions = start_together(stack, [({"database": {"identifier": name, "region": "us-east-2"}},
                                         "ConnectStateMachine") for name in ("orders-db", "billing-db")])

    assert [execution.status for execution in executions] == ["SUCCEEDED", "SUCCEEDED"], [
        execution.cause for execution in executions]
    nekt_routes = account_session(nekt.account_id, nekt.region).client("ec2").describe_route_tables(
        RouteTableIds=[nekt.private_route_table_id])["RouteTables"][0]["Routes"]
    destinations = {route["DestinationCidrBlock"] for route in nekt_routes if "VpcPeeringConnectionId" in route}
    assert destinations == {"10.0.0.0/16", "10.30.0.0/16"}
