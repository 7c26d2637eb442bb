"""RecordFailureFunction: every failure exit of both workflows, recorded in the registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nekt_peering.core.errors import cause_message
from nekt_peering.core.model import Settings, connection_of
from nekt_peering.handlers.locks import locks_of, network_of_run, workflow_of
from nekt_peering.handlers.stage import Event, registry_dynamodb, stage
from nekt_peering.registry import bookkeeping, store

if TYPE_CHECKING:
    pass


@stage
def record_failure(event: Event) -> dict[str, Any]:
    """Every failure exit of both workflows: the outcome in the connection's item, the locks released."""
    facts = event.get("discovery") or {}
    settings = Settings.parse(event.get("settings") or facts.get("settings"))
    workflow = workflow_of(event)
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
    network = network_of_run(event) if known else None
    locks = (locks_of(settings, connection_id, network, event["executionId"], workflow)
             if known or "locks" in event else None)
    state = bookkeeping.record_failure(
        registry_dynamodb(settings), store.table_name(), locks, connection_id, event["executionId"], workflow, error,
        cause, request=event.get("input") if workflow == "connect" else None,
        run=event if workflow == "connect" and "plan" in event and "discovery" in event else None)
    return {"state": state}
