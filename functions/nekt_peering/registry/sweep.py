"""What the health sweep reads from the registry: the connected connections, a page at a time, each with the
input the check-path machine takes; and, once they are checked, how many are healthy and how many degraded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nekt_peering.registry.store import LISTING, LISTING_INDEX, decode_token, encode_token, from_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Connection items a page reads (DynamoDB's Limit counts them before the filter keeps the connected ones): the
# page's checks are the sweep's inline Map, whose history and payload this bounds (docs/health.md).
PAGE_SIZE = 100
HEALTH_STATES = ("HEALTHY", "DEGRADED")


def _connected(table: str, projection: str, names: dict[str, str]) -> dict[str, Any]:
    """A Query of the Listing index that keeps the CONNECTED items, with these attributes only."""
    return {"TableName": table, "IndexName": LISTING_INDEX, "KeyConditionExpression": "listing = :listing",
            "FilterExpression": "#state = :connected", "ProjectionExpression": projection,
            "ExpressionAttributeNames": {"#state": "state", **names},
            "ExpressionAttributeValues": {":listing": {"S": LISTING}, ":connected": {"S": "CONNECTED"}}}


def connected_page(dynamodb: DynamoDBClient, table: str, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The check-path input of each connected connection among the next PAGE_SIZE items (its connect's input and
    its id), and the token of the page after (None: this was the last)."""
    arguments = {**_connected(table, "connectionId, #request", {"#request": "request"}), "Limit": PAGE_SIZE}
    if token:
        arguments["ExclusiveStartKey"] = decode_token(token)
    answer = dynamodb.query(**arguments)
    last = answer.get("LastEvaluatedKey")
    checks = [{**values["request"], "connectionId": values["connectionId"]}
              for values in map(from_item, answer.get("Items", []))]
    return checks, encode_token(last) if last else None


def health_counts(dynamodb: DynamoDBClient, table: str) -> dict[str, int]:
    """The connected connections by the health their last check recorded (one never checked counts in neither)."""
    counts = dict.fromkeys(HEALTH_STATES, 0)
    arguments = _connected(table, "#health.#state", {"#health": "health"})
    while True:
        answer = dynamodb.query(**arguments)
        for values in map(from_item, answer.get("Items", [])):
            state = (values.get("health") or {}).get("state")
            if state in counts:
                counts[state] += 1
        if "LastEvaluatedKey" not in answer:
            return counts
        arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
