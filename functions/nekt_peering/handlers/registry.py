"""TakeLocksFunction, RecordConnectionFunction, RecordFailureFunction, RecordDisconnectFunction: the
workflows' writes to the connection registry (nekt_peering.bookkeeping)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nekt_peering import bookkeeping, registry
from nekt_peering.aws import client, database_session
from nekt_peering.errors import cause_message
from nekt_peering.handlers.stage import Event, database_ec2, nekt_ec2, registry_dynamodb, stage
from nekt_peering.model import Settings, connection_of
from nekt_peering.verify_others import others_intact

if TYPE_CHECKING:

    from nekt_peering.shapes import LockResult, Workflow


def _locks(settings: Settings, connection_id: str, network: str | None, execution_id: str, workflow: Workflow
           ) -> bookkeeping.Locks:
    """A disconnect that found nothing of the connection anywhere has no network: its connection lock and a
    network lock of its own."""
    return bookkeeping.Locks(
        registry_dynamodb(settings), client(database_session(settings.stack_region), "stepfunctions"),
        registry.table_name(), connection_id, network or f"none:{connection_id}", execution_id, workflow)


def _run_locks(event: Event) -> bookkeeping.Locks:
    """The locks of the run whose (complete) state `event` is."""
    facts = event["discovery"]
    return _locks(Settings.from_dict(facts["settings"]), facts["request"]["connectionId"], _network(event),
                  event["executionId"], _workflow(event))


def _workflow(event: Event) -> Workflow:
    named = event.get("workflow")  # Load settings names it; a hand-made event may not
    return "disconnect" if named == "disconnect" or (named is None and "registry" in event) else "connect"


def _network(event: Event) -> str | None:
    if "registry" in event:  # a disconnect: the network the plan found (None: nothing of it anywhere)
        return event["registry"]["network"]  # type: ignore[no-any-return]
    if _workflow(event) == "disconnect":
        return None
    return bookkeeping.network_of(event["discovery"])


@stage
def take_locks(event: Event) -> LockResult:
    """The connection's lock and its network's, or why not yet (the workflow waits and comes back)."""
    facts = event["discovery"]
    settings = Settings.from_dict(facts["settings"])
    if facts["request"].get("dryRun"):  # a dry run changes nothing, and waits for nobody
        return {"acquired": True, "waited": False, "polls": 0, "waitSeconds": 0}
    locks = _run_locks(event)
    changes: dict[str, Any] = {"network": locks.network}
    if locks.workflow == "connect":
        database = facts["database"]
        changes |= {"request": event.get("input") or {}, "mode": facts["mode"],
                    "database": {"identifier": database["identifier"], "accountId": database["accountId"],
                                 "region": database["region"], "vpcId": database["vpcId"]}}
    return locks.take(settings, event.get("locks"), changes, read_at=facts.get("readAt"))


@stage
def record_connection(event: Event) -> dict[str, Any]:
    """After Verify: what the connection relies on, its item CONNECTED, its locks released."""
    locks = _run_locks(event)
    relies = bookkeeping.record_connected(locks.dynamodb, registry.table_name(), locks, event)
    return {"state": "CONNECTED", "relies": relies}


@stage
def record_failure(event: Event) -> dict[str, Any]:
    """Every failure exit of both workflows: the outcome in the connection's item, the locks released."""
    facts = event.get("discovery") or {}
    settings = Settings.parse(event.get("settings") or facts.get("settings"))
    workflow = _workflow(event)
    raw_input = event.get("input")
    if (facts.get("request") or {}).get("dryRun") or (isinstance(raw_input, dict) and raw_input.get("dryRun") is True):
        return {"state": None}  # a dry run writes nothing, and takes no lock
    connection_id = (facts.get("request") or {}).get("connectionId") or connection_of(event.get("input"))
    if not isinstance(connection_id, str):
        return {"state": None}
    rollback = event.get("rollback") or {}
    error = event.get("error") or ({"Error": "DisconnectFailed"} if rollback else {})
    if event.get("error") and rollback and not rollback.get("complete", True):
        error = {"Error": "RollbackFailed"}  # the execution's error: what the rollback left is in the cause
    cause = rollback.get("cause") or cause_message(str(error.get("Cause", "")))
    # The locks it may hold: known once Discover (or Find) has said where the connection is.
    known = "registry" in event or bool((facts.get("database") or {}).get("vpcId"))
    network = _network(event) if known else None
    locks = (_locks(settings, connection_id, network, event["executionId"], workflow)
             if known or "locks" in event else None)
    state = bookkeeping.record_failure(
        registry_dynamodb(settings), registry.table_name(), locks, connection_id, event["executionId"], workflow, error,
        cause, request=event.get("input") if workflow == "connect" else None)
    return {"state": state}


@stage
def record_disconnect(event: Event) -> dict[str, Any]:
    """After the removal: the connection DISCONNECTED, the resources it was the last user of forgotten,
    its locks released; then whether what the other connections rely on is all still there."""
    locks = _run_locks(event)
    bookkeeping.record_disconnected(locks.dynamodb, registry.table_name(), locks, event)
    others = others_intact(database_ec2(event["discovery"]), lambda: nekt_ec2(event["discovery"]), locks.dynamodb,
                           registry.table_name(), event["registry"]["network"],
                           event["discovery"]["request"]["connectionId"],
                           lambda: client(database_session(event["discovery"]["database"]["region"]), "vpc-lattice"))
    return {"state": "DISCONNECTED", **others}
