"""Connection items written straight into a deployed stack's registry table, in the registry's own format
(ConnectionItem, stored by the workflows' own writer): for what running executions cannot reach in a test's
time (a listing of over 1,000 connections), or cannot leave behind (a run that died holding its state)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from nekt_peering.core.shapes import ConnectionItem, ConnectionState, Workflow
from nekt_peering.registry import bookkeeping

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def connection_item(connection_id: str, state: ConnectionState, execution_arn: str, created_at: str,
                    workflow: Workflow = "connect", request: dict[str, Any] | None = None,
                    region: str = "us-east-2", **more: Any) -> ConnectionItem:
    """A connection as the workflows record it; `more` sets or overrides fields (lastError, result ...)."""
    request = request if request is not None else {"database": {"identifier": connection_id, "region": region}}
    item: dict[str, Any] = {
        "connectionId": connection_id, "state": state, "request": request, "mode": "peering",
        "database": {"identifier": request["database"]["identifier"], "accountId": "123456789012",
                     "region": region, "vpcId": "vpc-0123456789abcdef0"},
        "relies": [], "executions": [{"executionArn": execution_arn, "workflow": workflow, "startedAt": created_at}],
        "currentExecutionArn": execution_arn, "currentWorkflow": workflow,
        "createdAt": created_at, "updatedAt": created_at, **more,
    }
    return item  # type: ignore[return-value]


def stored(item: ConnectionItem) -> dict[str, Any]:
    """The item as the workflows' writer stores it (bookkeeping.put_connection: keys, Listing index keys,
    version), as DynamoDB attribute values."""
    item_values: dict[str, Any] = {**item}
    return dict(bookkeeping.put_connection("table", item["connectionId"], item_values, {})["Put"]["Item"])


def put(table: str, item: ConnectionItem, region: str = "us-east-1") -> None:
    boto3.client("dynamodb", region_name=region).put_item(TableName=table, Item=stored(item))


def seed(table: str, count: int, region: str = "us-east-1", prefix: str = "db") -> list[str]:
    """`count` CONNECTED connections created a second apart, `<prefix>-00000` the oldest; their ids,
    newest first (the listing's order). Their executions are named, not run."""
    dynamodb = boto3.client("dynamodb", region_name=region)
    ids = [f"{prefix}-{number:05d}" for number in range(count)]
    items = [stored(connection_item(
        cid, "CONNECTED", f"arn:aws:states:{region}:123456789012:execution:nekt-peering-connect:{cid}_{number:016x}",
        (EPOCH + timedelta(seconds=number)).isoformat(timespec="microseconds"))) for number, cid in enumerate(ids)]
    for start in range(0, len(items), 25):  # BatchWriteItem takes 25 items at most
        batch: Any = {table: [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]}
        while batch:
            batch = dynamodb.batch_write_item(RequestItems=batch).get("UnprocessedItems") or {}
    return ids[::-1]
