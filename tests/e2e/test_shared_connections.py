"""Several connections on one network: the registry counts what each relies on, a disconnect removes
exactly what its connection added, and the locks keep runs on one connection or one network apart.

Real ASL on the strict emulator; assertions on both accounts and on the registry table afterwards."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from emulator.accounts import aws_calls, establish_peering, is_mutating, snapshot
from emulator.stack import DEFAULT_ACCOUNT, Execution, Stack
from emulator.topology import NektNetwork, account_session, add_database, create_database
from nekt_peering.registry import bookkeeping, store
from tests.conftest import hold_until_both_tried_the_locks, start_together

DISCONNECT = "DisconnectStateMachine"
REGION = "us-east-2"


def places(nekt: NektNetwork) -> list[tuple[str, str]]:
    return [(DEFAULT_ACCOUNT, REGION), (nekt.account_id, nekt.region)]


def connect_input(identifier: str) -> dict[str, Any]:
    return {"database": {"identifier": identifier, "region": REGION}}


def connect(stack: Stack, identifier: str) -> dict[str, Any]:
    execution = stack.run(connect_input(identifier))
    assert execution.status == "SUCCEEDED", execution.cause
    assert isinstance(execution.output, dict)
    return execution.output


def disconnect(stack: Stack, connection_id: str) -> Execution:
    return stack.run({"connectionId": connection_id, "region": REGION}, state_machine=DISCONNECT)


def dynamodb(stack: Stack) -> Any:
    return boto3.client("dynamodb", region_name=stack.region)


def item(stack: Stack, connection_id: str) -> Any:
    return store.get_connection(dynamodb(stack), stack.tables["ConnectionsTable"], connection_id)


def resources(stack: Stack) -> dict[str, list[str]]:
    """Every resource item of the table, by id, with its users."""
    items = dynamodb(stack).scan(TableName=stack.tables["ConnectionsTable"])["Items"]
    return {value["resourceId"]: value.get("users", []) for value in map(store.from_item, items)
            if value["pk"].startswith("network#")}


def network_changes(calls: Any) -> dict[Any, int]:
    """The calls that change either account's network (the registry's own writes are not)."""
    return {call: n for call, n in calls.items() if call[0] == "ec2" and is_mutating(call[1])}


@pytest.mark.parametrize("same_security_group", [True, False], ids=["one-group", "two-groups"])
def test_two_databases_of_one_vpc_share_what_they_rely_on(
    same_security_group: bool, deploy: Any, nekt: NektNetwork
) -> None:
    orders = create_database("orders-db")
    add_database(orders, "billing-db", same_security_group=same_security_group)
    stack = deploy(nekt)
    before = snapshot(places(nekt))

    first = connect(stack, "orders-db")
    second = connect(stack, "billing-db")

    assert second["peeringConnectionId"] == first["peeringConnectionId"]
    assert not any(route["created"] for route in second["routes"])  # the same VPC: the same routes
    assert second["ingress"]["created"] is not same_security_group
    peering = store.peering_id(first["peeringConnectionId"])
    assert resources(stack)[peering] == ["billing-db", "orders-db"]

    assert disconnect(stack, "orders-db").status == "SUCCEEDED"

    # billing-db still verifies, and connecting it again changes nothing in either account.
    with aws_calls() as calls:
        again = stack.run(connect_input("billing-db"))
    assert again.status == "SUCCEEDED", again.cause
    assert network_changes(calls) == {}
    assert item(stack, "orders-db")["state"] == "DISCONNECTED" and item(stack, "orders-db")["relies"] == []
    assert item(stack, "billing-db")["state"] == "CONNECTED"
    assert all(users == ["billing-db"] for users in resources(stack).values())

    assert disconnect(stack, "billing-db").status == "SUCCEEDED"

    assert snapshot(places(nekt)) == before
    assert resources(stack) == {}


def test_a_customers_own_peering_is_never_counted_as_ours(deploy: Any, nekt: NektNetwork) -> None:
    orders = create_database("orders-db")
    add_database(orders, "billing-db")
    theirs = establish_peering(
        account_session(DEFAULT_ACCOUNT, REGION).client("ec2"), account_session(nekt.account_id, nekt.region).client(
            "ec2"), VpcId=orders.vpc_id, PeerVpcId=nekt.vpc_id, PeerOwnerId=nekt.account_id, PeerRegion=nekt.region)
    stack = deploy(nekt)
    before = snapshot(places(nekt))
    connect(stack, "orders-db")
    connect(stack, "billing-db")

    assert disconnect(stack, "orders-db").status == "SUCCEEDED"
    assert disconnect(stack, "billing-db").status == "SUCCEEDED"

    after = snapshot(places(nekt))
    assert theirs in after[f"{DEFAULT_ACCOUNT}/{REGION}"]["peerings"]
    assert after == before


def test_two_databases_of_one_vpc_connected_at_the_same_moment_share_one_peering(
    deploy: Any, nekt: NektNetwork
) -> None:
    orders = create_database("orders-db")
    add_database(orders, "billing-db")
    stack = deploy(nekt, PollIntervalSeconds="1")
    hold_until_both_tried_the_locks(stack, "PreflightFunction")

    executions = start_together(stack, [(connect_input("orders-db"), "ConnectStateMachine"),
                                        (connect_input("billing-db"), "ConnectStateMachine")])

    assert [execution.status for execution in executions] == ["SUCCEEDED", "SUCCEEDED"], [
        execution.cause for execution in executions]
    assert len({execution.output["peeringConnectionId"] for execution in executions}) == 1
    # One waited for the other's network lock, then read the facts again (and found the peering).
    waited = [execution for execution in executions if "Wait for the locks" in execution.states_entered()]
    assert len(waited) == 1
    assert waited[0].states_entered().count("Discover") == 2
    live = snapshot(places(nekt))[f"{DEFAULT_ACCOUNT}/{REGION}"]["peerings"]
    assert len(live) == 1


def test_a_connect_and_a_disconnect_of_one_connection_never_run_at_once(deploy: Any, nekt: NektNetwork) -> None:
    create_database("orders-db")
    stack = deploy(nekt)
    connect(stack, "orders-db")
    hold_until_both_tried_the_locks(stack, "PreflightFunction", "RevokeIngressFunction")

    connecting, disconnecting = start_together(stack, [
        (connect_input("orders-db"), "ConnectStateMachine"),
        ({"connectionId": "orders-db", "region": REGION}, DISCONNECT)])

    outcomes = sorted([(connecting.status, connecting.error), (disconnecting.status, disconnecting.error)],
                      key=str)
    assert outcomes == [("FAILED", "ConnectionBusy"), ("SUCCEEDED", None)], [connecting.cause, disconnecting.cause]
    loser = connecting if connecting.status == "FAILED" else disconnecting
    assert "Nothing was changed" in (loser.error_message or "")
    # The registry says what the winner did; the loser wrote nothing over it.
    winner_state = "CONNECTED" if loser is disconnecting else "DISCONNECTED"
    assert item(stack, "orders-db")["state"] == winner_state
    assert item(stack, "orders-db")["currentExecutionArn"] != loser.arn


def _seed_lock(stack: Stack, scope: str, holder: str, expires_at: int) -> None:
    dynamodb(stack).put_item(TableName=stack.tables["ConnectionsTable"], Item={
        **store.lock_key(scope), **store.to_item({"holder": holder, "connectionId": "orders-db",
                                                        "workflow": "connect", "expiresAt": expires_at})})


def test_a_lock_whose_holder_died_is_taken_over(deploy: Any, nekt: NektNetwork) -> None:
    create_database("orders-db")
    stack = deploy(nekt)
    # A run that ended without releasing its lock (stopped: no catcher runs), its lease far from over.
    dead = stack.run({**connect_input("orders-db"), "dryRun": True}).arn
    _seed_lock(stack, "connection#orders-db", dead, int(time.time()) + 3600)
    # And a holder that is no execution (a function invoked by hand) whose lease has ended.
    vpc_id = account_session(DEFAULT_ACCOUNT, REGION).client("rds").describe_db_instances()["DBInstances"][0][
        "DBSubnetGroup"]["VpcId"]
    network = store.peering_network(DEFAULT_ACCOUNT, REGION, vpc_id, nekt.account_id, nekt.region, nekt.vpc_id)
    _seed_lock(stack, f"network#{network}", "sam-local-invoke", int(time.time()) - 1)

    execution = stack.run(connect_input("orders-db"))

    assert execution.status == "SUCCEEDED", execution.cause
    assert "Wait for the locks" not in execution.states_entered()
    locks = [value for value in map(store.from_item, dynamodb(stack).scan(
        TableName=stack.tables["ConnectionsTable"])["Items"]) if value["pk"].startswith("lock#")]
    assert len(locks) == 2 and not any("holder" in lock for lock in locks)  # taken over, then released


def test_a_live_holder_keeps_its_lock_until_its_lease_ends(deploy: Any, nekt: NektNetwork) -> None:
    create_database("orders-db")
    stack = deploy(nekt)
    settings: Any = SimpleNamespace(max_polls=5, poll_interval_seconds=0)
    network = "123456789012:us-east-2:vpc-0123456789abcdef0|111111111111:us-east-1:vpc-0fedcba9876543210"
    _seed_lock(stack, f"network#{network}", "sam-local-invoke", int(time.time()) + 60)
    now = {"t": time.time()}
    locks = bookkeeping.Locks(dynamodb(stack), boto3.client("stepfunctions", region_name=stack.region),
                              stack.tables["ConnectionsTable"], "orders-db", network,
                              f"arn:aws:states:{stack.region}:{DEFAULT_ACCOUNT}:execution:x-connect:run",
                              "connect", clock=lambda: now["t"])

    waiting = locks.take(settings, None, {})
    now["t"] += 61
    taken = locks.take(settings, waiting, {})

    assert waiting["acquired"] is False and waiting["heldBy"] == "sam-local-invoke"
    assert taken["acquired"] is True and taken["waited"] is True


def test_a_disconnect_names_the_connection_that_lost_what_it_relies_on(deploy: Any, nekt: NektNetwork) -> None:
    orders = create_database("orders-db")
    billing = add_database(orders, "billing-db", same_security_group=False)
    stack = deploy(nekt)
    connect(stack, "orders-db")
    rule = connect(stack, "billing-db")["ingress"]
    # Someone removes billing-db's rule by hand.
    account_session(DEFAULT_ACCOUNT, REGION).client("ec2").revoke_security_group_ingress(
        GroupId=billing.security_group_id, SecurityGroupRuleIds=[rule["ruleId"]])

    execution = disconnect(stack, "orders-db")

    assert execution.status == "FAILED" and execution.error == "SharedResourceMissing"
    assert "billing-db" in (execution.cause or "") and billing.security_group_id in (execution.cause or "")
    assert item(stack, "orders-db")["state"] == "DISCONNECTED"


def test_a_connection_made_before_the_registry_is_adopted(deploy: Any, nekt: NektNetwork) -> None:
    orders = create_database("orders-db")
    add_database(orders, "billing-db")
    stack = deploy(nekt)
    before = snapshot(places(nekt))
    connect(stack, "orders-db")
    with_orders = snapshot(places(nekt))
    table = stack.tables["ConnectionsTable"]
    for found in dynamodb(stack).scan(TableName=table)["Items"]:  # as it was before the registry existed
        dynamodb(stack).delete_item(TableName=table, Key={"pk": found["pk"], "sk": found["sk"]})

    connect(stack, "billing-db")  # reuses what orders-db's tags say was made for it
    assert disconnect(stack, "billing-db").status == "SUCCEEDED"
    assert snapshot(places(nekt)) == with_orders  # orders-db, unknown to the registry, kept all it relies on

    adopted = disconnect(stack, "orders-db")  # found by its tags

    assert adopted.status == "SUCCEEDED", adopted.cause
    assert snapshot(places(nekt)) == before
    assert resources(stack) == {}
    assert item(stack, "orders-db")["state"] == "DISCONNECTED"
