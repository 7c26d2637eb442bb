"""The locks of a run, as the registry handlers (Take the locks, Record the connection, Record the failure,
Record the disconnect) build them from the execution's state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.core.aws import client, database_session
from nekt_peering.core.model import Settings
from nekt_peering.handlers.stage import Event, registry_dynamodb
from nekt_peering.registry import bookkeeping, store

if TYPE_CHECKING:
    from nekt_peering.core.shapes import Workflow


def locks_of(settings: Settings, connection_id: str, network: str | None, execution_id: str, workflow: Workflow
           ) -> bookkeeping.Locks:
    """A disconnect that found nothing of the connection anywhere has no network: its connection lock and a
    network lock of its own."""
    return bookkeeping.Locks(
        registry_dynamodb(settings), client(database_session(settings.stack_region), "stepfunctions"),
        store.table_name(), connection_id, network or f"none:{connection_id}", execution_id, workflow)


def run_locks(event: Event) -> bookkeeping.Locks:
    """The locks of the run whose (complete) state `event` is."""
    facts = event["discovery"]
    return locks_of(Settings.from_dict(facts["settings"]), facts["request"]["connectionId"], network_of_run(event),
                  event["executionId"], workflow_of(event))


def workflow_of(event: Event) -> Workflow:
    named = event.get("workflow")  # Load settings names it; a hand-made event may not
    return "disconnect" if named == "disconnect" or (named is None and "registry" in event) else "connect"


def network_of_run(event: Event) -> str | None:
    if "registry" in event:  # a disconnect: the network the plan found (None: nothing of it anywhere)
        return event["registry"]["network"]  # type: ignore[no-any-return]
    if workflow_of(event) == "disconnect":
        return None
    return bookkeeping.network_of(event["discovery"])
