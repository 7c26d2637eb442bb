"""RecordDisconnectFunction: after the removal, the connection DISCONNECTED in the registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nekt_peering.core.aws import client, database_session
from nekt_peering.disconnect.others_intact import others_intact
from nekt_peering.handlers.locks import run_locks
from nekt_peering.handlers.stage import Event, database_ec2, nekt_ec2, stage
from nekt_peering.registry import bookkeeping, store

if TYPE_CHECKING:
    pass


@stage
def record_disconnect(event: Event) -> dict[str, Any]:
    """After the removal: the connection DISCONNECTED, the resources it was the last user of forgotten,
    its locks released; then whether what the other connections rely on is all still there."""
    locks = run_locks(event)
    bookkeeping.record_disconnected(locks.dynamodb, store.table_name(), locks, event)
    others = others_intact(database_ec2(event["discovery"]), lambda: nekt_ec2(event["discovery"]), locks.dynamodb,
                           store.table_name(), event["registry"]["network"],
                           event["discovery"]["request"]["connectionId"],
                           lambda: client(database_session(event["discovery"]["database"]["region"]), "vpc-lattice"))
    return {"state": "DISCONNECTED", **others}

