"""The registry's AWS rules on the strict emulator: how IAM authorizes a DynamoDB transaction, and
locks that do not trust what DescribeExecution cannot know yet."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from emulator.stack import DEFAULT_ACCOUNT, Stack
from emulator.strict import acting_as
from emulator.topology import NektNetwork
from nekt_peering import bookkeeping, registry

NETWORK = "123456789012:us-east-2:vpc-0123456789abcdef0|111111111111:us-east-1:vpc-0fedcba9876543210"


def test_a_transaction_needs_each_write_it_carries(deploy: Any, nekt: NektNetwork) -> None:
    """RecordFailureFunction may PutItem and DeleteItem, not UpdateItem: a transaction that carries an
    Update is refused as a whole, one with a Put is not (there is no dynamodb:TransactWriteItems)."""
    stack: Stack = deploy(nekt)
    table = stack.tables["ConnectionsTable"]
    put = {"Put": {"TableName": table, "Item": {"pk": {"S": "connection#a"}, "sk": {"S": "connection"}}}}
    update = {"Update": {"TableName": table, "Key": {"pk": {"S": "connection#b"}, "sk": {"S": "connection"}},
                         "UpdateExpression": "SET x = :x", "ExpressionAttributeValues": {":x": {"S": "1"}}}}
    dynamodb = boto3.client("dynamodb", region_name=stack.region)

    with acting_as(stack.role_arns["RecordFailureFunction"]):
        dynamodb.transact_write_items(TransactItems=[put])
        with pytest.raises(ClientError) as refused:
            dynamodb.transact_write_items(TransactItems=[update])

    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "dynamodb:UpdateItem" in error["Message"] and table in error["Message"]
    assert "Item" not in dynamodb.get_item(TableName=table, Key=update["Update"]["Key"])


def _locks(stack: Stack, execution: str = "run") -> bookkeeping.Locks:
    return bookkeeping.Locks(
        boto3.client("dynamodb", region_name=stack.region), boto3.client("stepfunctions", region_name=stack.region),
        stack.tables["ConnectionsTable"], "orders-db", NETWORK,
        f"arn:aws:states:{stack.region}:{DEFAULT_ACCOUNT}:execution:nekt-peering-connect:{execution}", "connect")


def _hold(stack: Stack, holder: str) -> None:
    boto3.client("dynamodb", region_name=stack.region).put_item(
        TableName=stack.tables["ConnectionsTable"],
        Item={**registry.lock_key(f"network#{NETWORK}"), **registry.to_item(
            {"holder": holder, "connectionId": "billing-db", "workflow": "connect",
             "expiresAt": int(time.time()) + 3600})})


def test_a_holder_describe_execution_does_not_know_yet_keeps_its_lock(deploy: Any, nekt: NektNetwork) -> None:
    """DescribeExecution is eventually consistent: ExecutionDoesNotExist may mean 'just started'."""
    stack: Stack = deploy(nekt)
    settings: Any = SimpleNamespace(max_polls=5, poll_interval_seconds=0)
    unknown = f"arn:aws:states:{stack.region}:{DEFAULT_ACCOUNT}:execution:nekt-peering-connect:just-started"
    _hold(stack, unknown)

    waiting = _locks(stack).take(settings, None, {})

    assert waiting["acquired"] is False and waiting["heldBy"] == unknown


def test_a_holder_that_has_ended_gives_its_lock_up(deploy: Any, nekt: NektNetwork) -> None:
    stack: Stack = deploy(nekt)
    settings: Any = SimpleNamespace(max_polls=5, poll_interval_seconds=0)
    ended = stack.run({"connectionId": "nothing-here", "region": "us-east-2"},
                      state_machine="DisconnectStateMachine")
    assert ended.status == "SUCCEEDED", ended.cause
    _hold(stack, ended.arn)

    taken = _locks(stack).take(settings, None, {})

    assert taken["acquired"] is True
