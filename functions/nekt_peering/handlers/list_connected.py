"""ListConnectedFunction: the health sweep's next page of connected connections, each as the check takes it."""

from __future__ import annotations

from typing import Any

from nekt_peering.core.errors import InvalidInput
from nekt_peering.core.model import Settings
from nekt_peering.handlers.stage import Event, registry_dynamodb, stage
from nekt_peering.registry import store, sweep


@stage
def list_connected(event: Event) -> dict[str, Any]:
    """Input: the sweep's `page` so far (`number` of pages read, `nextToken`) and its execution's `input`, whose
    `pageToken` a continued sweep starts from. The page's `connections` (each the check-path machine's input),
    `nextToken` (null: the last page) and its `number`."""
    settings = Settings.parse(event.get("settings"))
    page, given = event.get("page") or {}, event.get("input")
    if not isinstance(given, dict) or not isinstance(given.get("pageToken", ""), str | None):
        raise InvalidInput("the sweep's input is an object whose pageToken, when present, is a page token: start "
                           "it with {}")
    number = int(page.get("number", 0))
    token = page.get("nextToken") if number else given.get("pageToken")
    connections, next_token = sweep.connected_page(registry_dynamodb(settings), store.table_name(), token)
    return {"connections": connections, "nextToken": next_token, "number": number + 1}
