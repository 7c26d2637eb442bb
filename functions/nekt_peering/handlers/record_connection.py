"""RecordConnectionFunction: after Verify, the connection CONNECTED in the registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nekt_peering.handlers.locks import run_locks
from nekt_peering.handlers.stage import Event, stage
from nekt_peering.registry import bookkeeping, store

if TYPE_CHECKING:
    pass


@stage
def record_connection(event: Event) -> dict[str, Any]:
    """After Verify: what the connection relies on, its item CONNECTED, its locks released; `healthEvent`
    (Connection Restored) when it was DEGRADED."""
    locks = run_locks(event)
    relies, health_event = bookkeeping.record_connected(locks.dynamodb, store.table_name(), locks, event)
    return {"state": "CONNECTED", "relies": relies, "healthEvent": health_event}
