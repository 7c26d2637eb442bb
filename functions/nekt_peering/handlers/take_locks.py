"""TakeLocksFunction: the connection's lock and its network's, for both workflows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nekt_peering.core.model import Settings
from nekt_peering.handlers.locks import run_locks
from nekt_peering.handlers.stage import Event, stage

if TYPE_CHECKING:
    from nekt_peering.core.shapes import LockResult


@stage
def take_locks(event: Event) -> LockResult:
    """The connection's lock and its network's, or why not yet (the workflow waits and comes back)."""
    facts = event["discovery"]
    settings = Settings.from_dict(facts["settings"])
    if facts["request"].get("dryRun"):  # a dry run changes nothing, and waits for nobody
        return {"acquired": True, "waited": False, "polls": 0, "waitSeconds": 0}
    locks = run_locks(event)
    changes: dict[str, Any] = {"network": locks.network}
    if locks.workflow == "connect":
        database = facts["database"]
        changes |= {"request": event.get("input") or {}, "mode": facts["mode"],
                    "database": {"identifier": database["identifier"], "accountId": database["accountId"],
                                 "region": database["region"], "vpcId": database["vpcId"]}}
    return locks.take(settings, event.get("locks"), changes, read_at=facts.get("readAt"))
