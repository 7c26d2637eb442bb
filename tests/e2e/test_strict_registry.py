"""The registry's AWS rules on the strict emulator: how IAM authorizes a DynamoDB transaction, and
locks that do not trust what DescribeExecution cannot know yet."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend

from emulator.stack import DEFAULT_ACCOUNT, Stack
from emulator.strict import acting_as
from emulator.topology import NektNetwork
from nekt_peering.registry import bookkeeping, store

NETWORK = "123456789012:us-east-2:vpc-0123456789abcdef0|111111111111:us-east-1:vpc-0fedcba9876543210"


def test_a_transaction_needs_each_write_it_carries(deploy: Any, nekt: NektNetwork) -> None:
    """TakeLocksFunction may PutItem and UpdateItem, not DeleteItem: a transaction that carries a
    Delete is refused as a whole, one with a Put is not (there is no dynamodb:TransactWriteItems)."""
    stack: Stack = deploy(nekt)
    table = stack.tables["ConnectionsTable"]
    put = {"Put": {"TableName": table, "Item": {"pk": {"S": "connection#a"}, "sk": {"S": "connection"}}}}
    delete = {"Delete": {"TableName": table, "Key": {"pk": {"S": "connection#a"}, "sk": {"S": "connection"}}}}
    dynamodb = boto3.client("dynamodb", region_name=stack.region)

    with acting_as(stack.role_arns["TakeLocksFunction"]):
        dynamodb.transact_write_items(TransactItems=[put])
        with pytest.raises(ClientError) as refused:
            dynamodb.transact_write_items(TransactItems=[delete])

    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "dynamodb:DeleteItem" in error["Message"] and table in error["Message"]
    assert "Item" in dynamodb.get_item(TableName=table, Key=delete["Delete"]["Key"])


def _locks(stack: Stack, execution: str = "run") -> bookkeeping.Locks:
    return bookkeeping.Locks(
        boto3.client("dynamodb", region_name=stack.region), boto3.client("stepfunctions", region_name=stack.region),
        stack.tables["ConnectionsTable"], "orders-db", NETWORK,
        f"arn:aws:states:{stack.region}:{DEFAULT_ACCOUNT}:execution:nekt-peering-connect:{execution}", "connect")


def _hold(stack: Stack, holder: str) -> None:
    boto3.client("dynamodb", region_name=stack.region).put_item(
        TableName=stack.tables["ConnectionsTable"],
        Item={**store.lock_key(f"network#{NETWORK}"), **store.to_item(
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


def test_facts_read_before_another_run_released_the_network_are_read_again(deploy: Any, nekt: NektNetwork) -> None:
    stack: Stack = deploy(nekt)
    settings: Any = SimpleNamespace(max_polls=5, poll_interval_seconds=0)
    read_at = store.now()
    other = _locks(stack, "other")
    assert other.take(settings, None, {})["acquired"]
    other.release()

    stale = _locks(stack).take(settings, None, {}, read_at=read_at)
    again = _locks(stack).take(settings, stale, {}, read_at=store.now())

    assert stale == {"acquired": True, "waited": True, "polls": 0, "waitSeconds": 1}
    assert again["acquired"] is True and again["waited"] is False


def test_a_run_that_reads_the_locks_while_another_takes_them_is_told_busy(deploy: Any, nekt: NektNetwork) -> None:
    """Both locks are read as one snapshot. Read one by one, the connection's could be seen free just
    before another run took both and the network's held just after: the run would wait for the network,
    then connect the connection again after the other, instead of failing ConnectionBusy at once."""
    stack: Stack = deploy(nekt)
    settings: Any = SimpleNamespace(max_polls=5, poll_interval_seconds=0)
    first, second = _locks(stack, "first"), _locks(stack, "second")
    taken: list[bool] = []

    def the_first_takes_them(**_: Any) -> None:  # right after the second's first read of a lock
        if not taken:
            taken.append(first.take(settings, None, {})["acquired"])

    for operation in ("GetItem", "TransactGetItems"):
        second.dynamodb.meta.events.register(f"after-call.dynamodb.{operation}", the_first_takes_them)

    with pytest.raises(bookkeeping.ConnectionBusy, match="first"):
        second.take(settings, None, {})
    assert taken == [True]


def test_transact_get_items_is_one_snapshot(deploy: Any, nekt: NektNetwork, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's TransactGetItems reads item by item: a transaction writing both items between its two
    reads would give one before and one after it, which AWS never returns."""
    stack: Stack = deploy(nekt)
    table = stack.tables["ConnectionsTable"]
    dynamodb = boto3.client("dynamodb", region_name=stack.region)
    keys = [store.lock_key("connection#a"), store.lock_key("network#a")]
    for key in keys:
        dynamodb.put_item(TableName=table, Item={**key, "version": {"N": "1"}})
    writer = threading.Thread(target=lambda: dynamodb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": {**key, "version": {"N": "2"}}}} for key in keys]))
    read_one = DynamoDBBackend.get_item

    def write_between_the_reads(backend: Any, *args: Any, **kwargs: Any) -> Any:
        item = read_one(backend, *args, **kwargs)
        if not writer.is_alive() and writer.ident is None:
            writer.start()
            writer.join(timeout=0.5)  # it cannot finish while the read holds DynamoDB
        return item

    monkeypatch.setattr(DynamoDBBackend, "get_item", write_between_the_reads)
    responses = dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key}} for key in keys])
    writer.join()

    assert [response["Item"]["version"]["N"] for response in responses["Responses"]] == ["1", "1"]
