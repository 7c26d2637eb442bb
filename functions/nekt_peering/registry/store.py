"""The connection registry: one DynamoDB table (template.yaml, ConnectionsTable), the source of truth
for what each connection is and what it relies on.

Three kinds of item share the table, told apart by their key:

- a connection, `pk = connection#<id>`, `sk = connection`: its request, state, executions and the ids
  of the resources it relies on (`relies`), under its network's partition;
- a resource a connection relies on, `pk = network#<network>`, `sk = <kind>#...` (peering, route,
  ingress, dns): whether this product created it or found it (`origin`), for which connection it was
  created (`createdFor`), and the live connections that rely on it (`users`, a string set);
- a lock, `pk = lock#connection#<id>` or `lock#network#<network>`, `sk = lock`: the execution that
  holds it (`holder`) and when its lease ends (`expiresAt`, epoch seconds).

A network is what connects and disconnects must not change at the same time: the database VPC and the
Nekt VPC (peering), or the database's security group (public path). Connection items carry `listing` and
`listedAt`, the keys of the `Listing` index, so that a Query pages through them newest first.

This module is the item format both sides share: the workflows' writers (nekt_peering.registry.bookkeeping)
and the readers of the API and CLI. It imports nothing heavier than boto3's type (de)serializers."""

from __future__ import annotations

import base64
import binascii
import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from nekt_peering.core.errors import InvalidInput

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from nekt_peering.core.shapes import AcceptedRun, ConnectionItem

TABLE_ENVIRONMENT = "CONNECTIONS_TABLE"
LISTING_INDEX = "Listing"
LISTING = "connection"  # the Listing index's partition: every connection item, none of the others

ConnectionState = Literal["CONNECTING", "CONNECTED", "FAILED", "DISCONNECTING", "DISCONNECTED"]
# Executions of a connection kept in its item, newest first (the item must stay well under 400 KB).
EXECUTIONS_KEPT = 20

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def table_name() -> str:
    name = os.environ.get(TABLE_ENVIRONMENT, "")
    if not name:
        raise RuntimeError(f"{TABLE_ENVIRONMENT} is not set: the function runs without the stack's registry table")
    return name


def now() -> str:
    """Timestamps in items: ISO 8601, UTC, to the microsecond (they sort as they read)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


# Keys ---------------------------------------------------------------------------------------------


def connection_key(connection_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"connection#{connection_id}"}, "sk": {"S": "connection"}}


def lock_key(scope: str) -> dict[str, Any]:
    """scope: `connection#<id>` or `network#<network>`."""
    return {"pk": {"S": f"lock#{scope}"}, "sk": {"S": "lock"}}


def resource_key(network: str, resource_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"network#{network}"}, "sk": {"S": resource_id}}


def peering_network(database_account: str, database_region: str, database_vpc: str,
                    nekt_account: str, nekt_region: str, nekt_vpc: str) -> str:
    return f"{database_account}:{database_region}:{database_vpc}|{nekt_account}:{nekt_region}:{nekt_vpc}"


def public_network(database_account: str, database_region: str, security_group: str) -> str:
    """The public path changes only the database's security group: two databases behind one group share
    its rule, and nothing else."""
    return f"{database_account}:{database_region}:{security_group}|public"


def resource_network(database_account: str, database_region: str, database_vpc: str) -> str:
    """The resource-endpoint path: what its connections share is the database VPC's resource gateway and the
    rules admitting it; each connection's configuration, share and endpoint are its own."""
    return f"{database_account}:{database_region}:{database_vpc}|resource-endpoint"


def gateway_id(resource_gateway_id: str) -> str:
    return f"gateway#{resource_gateway_id}"


def peering_id(peering_connection_id: str) -> str:
    return f"peering#{peering_connection_id}"


def route_id(side: str, route_table_id: str, destination_cidr: str) -> str:
    return f"route#{side}#{route_table_id}#{destination_cidr}"


def ingress_id(group_id: str, port: int, cidr: str) -> str:
    return f"ingress#{group_id}#tcp#{port}#{cidr}"


def dns_id(peering_connection_id: str, side: str) -> str:
    return f"dns#{peering_connection_id}#{side}"


# Items -----------------------------------------------------------------------------------------------


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Python values -> DynamoDB attribute values (None attributes are left out; floats, such as the probe's
    timings, become numbers: DynamoDB takes no binary floats)."""
    return {name: _serializer.serialize(_numbers(value)) for name, value in values.items() if value is not None}


def _numbers(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {key: _numbers(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_numbers(inner) for inner in value]
    return value


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values -> Python values: whole numbers as int, string sets as sorted lists."""
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    if isinstance(value, set):
        return sorted(_plain(inner) for inner in value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def connection_of_item(item: dict[str, Any]) -> ConnectionItem:
    return _without_keys(from_item(item))


def _without_keys(values: dict[str, Any]) -> ConnectionItem:
    """A connection item's values without the table's bookkeeping (keys, listing, version)."""
    for key in ("pk", "sk", "listing", "listedAt", "version"):
        values.pop(key, None)
    return cast("ConnectionItem", values)


# Reading -------------------------------------------------------------------------------------------


def connection_values(dynamodb: DynamoDBClient, table: str, connection_id: str) -> dict[str, Any] | None:
    """A connection's item as stored, keys and version included (what a writer needs to write it back
    on the condition that nobody changed it since); None when the registry has none. A consistent read."""
    found = dynamodb.get_item(TableName=table, Key=connection_key(connection_id), ConsistentRead=True).get("Item")
    return from_item(found) if found else None


def get_connection(dynamodb: DynamoDBClient, table: str, connection_id: str) -> ConnectionItem | None:
    """A connection as the API and CLI show it; None when the registry has none."""
    values = connection_values(dynamodb, table, connection_id)
    return _without_keys(values) if values is not None else None


def record_accepted(dynamodb: DynamoDBClient, table: str, connection_id: str, current_execution_arn: str,
                    run: AcceptedRun) -> bool:
    """The run the API or the CLI has just started (`accepted`), so that a read right after the answer shows it
    rather than the run before; on the condition that the item's current run is still the one read before
    starting it. False when it is not: a run (this one, or another) has taken the connection's lock since, and
    the item shows that run. The version moves, so that a writer that read the item before loses its turn."""
    try:
        dynamodb.update_item(
            TableName=table, Key=connection_key(connection_id),
            UpdateExpression="SET accepted = :run, version = version + :one",
            ConditionExpression="currentExecutionArn = :current",
            ExpressionAttributeValues={":run": _serializer.serialize(dict(run)), ":one": {"N": "1"},
                                       ":current": {"S": current_execution_arn}})
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def list_connections(dynamodb: DynamoDBClient, table: str, limit: int, token: str | None = None
                     ) -> tuple[list[ConnectionItem], str | None]:
    """A page of connections, newest first, and the token of the next page (None: the last page).

    The token is DynamoDB's own LastEvaluatedKey, encoded: a page is one Query of the Listing index,
    whatever the number of connections."""
    arguments: dict[str, Any] = {
        "TableName": table, "IndexName": LISTING_INDEX, "Limit": limit, "ScanIndexForward": False,
        "KeyConditionExpression": "listing = :listing", "ExpressionAttributeValues": {":listing": {"S": LISTING}},
    }
    if token:
        arguments["ExclusiveStartKey"] = decode_token(token)
    answer = dynamodb.query(**arguments)
    last = answer.get("LastEvaluatedKey")
    return [connection_of_item(item) for item in answer.get("Items", [])], encode_token(last) if last else None


def encode_token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).decode()


def decode_token(token: str) -> dict[str, Any]:
    """The page token back into the ExclusiveStartKey it encodes; InvalidInput for anything else."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        key = None
    fields = {"pk", "sk", "listing", "listedAt"}
    if (not isinstance(key, dict) or set(key) != fields
            or not all(isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)
                       for value in key.values())
            or key["listing"]["S"] != LISTING or not key["pk"]["S"].startswith("connection#")):
        raise InvalidInput("the page token is not one this API gave: start again from the first page")
    return key
