"""A connection's health: the check-path state machine (the read-only re-check the health sweep is to run for every
connected connection) records HEALTHY or DEGRADED in the registry item, with since when, the cause and when last
checked, and publishes `Connection Degraded` and `Connection Restored` when the health changes, and only then."""

from __future__ import annotations

from typing import Any

import boto3

from emulator.accounts import snapshot
from emulator.stack import DEFAULT_ACCOUNT, Stack
from emulator.topology import NektNetwork, account_session, create_database
from nekt_peering.registry import store

CONNECT = {"database": {"identifier": "orders-db", "region": "us-east-2"}}
CHECK = {**CONNECT, "connectionId": "orders-db"}


def health(stack: Stack) -> dict[str, Any]:
    item = boto3.client("dynamodb", region_name=stack.region).get_item(
        TableName=stack.tables["ConnectionsTable"], Key=store.connection_key("orders-db"), ConsistentRead=True)["Item"]
    return dict(store.from_item(item)["health"])


def health_events(stack: Stack) -> list[tuple[str, dict[str, Any]]]:
    return [(event["detail-type"], event["detail"]) for event in stack.published()
            if event["detail-type"] in ("Connection Degraded", "Connection Restored")]


def test_a_route_removed_by_hand_is_degraded_naming_it_and_restored_once_it_is_back(
        deploy: Any, nekt: NektNetwork) -> None:
    database = create_database()
    stack = deploy(nekt)
    connected = stack.run(CONNECT)
    assert connected.status == "SUCCEEDED", connected.cause
    checked = stack.run(CHECK, state_machine="CheckPathStateMachine")
    assert checked.status == "SUCCEEDED" and checked.output["status"] == "REACHABLE", checked.cause
    healthy = health(stack)
    assert healthy["state"] == "HEALTHY" and "cause" not in healthy
    assert health_events(stack) == []  # nothing changed: nothing published

    # Someone tidies the database's route table.
    ec2 = account_session(DEFAULT_ACCOUNT, database.region).client("ec2")
    table = database.route_table_ids[0]
    ec2.delete_route(RouteTableId=table, DestinationCidrBlock=nekt.cidr)
    places = [(DEFAULT_ACCOUNT, database.region), (nekt.account_id, nekt.region)]
    before = snapshot(places)

    broken = stack.run(CHECK, state_machine="CheckPathStateMachine")

    assert (broken.status, broken.error) == ("FAILED", "VerificationFailed")
    assert table in (broken.cause or "")
    degraded = health(stack)
    assert degraded["state"] == "DEGRADED" and degraded["error"] == "VerificationFailed"
    assert table in degraded["cause"] and degraded["since"] == degraded["lastCheckedAt"] > healthy["since"]
    assert health_events(stack) == [("Connection Degraded", {"connectionId": "orders-db", "health": degraded})]
    assert snapshot(places) == before, "a check changes nothing in either account"

    still = stack.run(CHECK, state_machine="CheckPathStateMachine")
    assert still.error == "VerificationFailed"
    assert health(stack)["since"] == degraded["since"] < health(stack)["lastCheckedAt"]
    assert len(health_events(stack)) == 1, "the same drift is published once"

    ec2.create_route(RouteTableId=table, DestinationCidrBlock=nekt.cidr,
                     VpcPeeringConnectionId=connected.output["peeringConnectionId"])
    restored_run = stack.run(CHECK, state_machine="CheckPathStateMachine")

    assert restored_run.status == "SUCCEEDED", restored_run.cause
    restored = health(stack)
    assert restored["state"] == "HEALTHY" and restored["since"] > degraded["since"] and "cause" not in restored
    assert health_events(stack)[1:] == [("Connection Restored", {"connectionId": "orders-db", "health": restored})]
