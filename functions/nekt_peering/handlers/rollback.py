"""The compensations (RevokeIngress, DeleteRoutes, RestoreDnsResolution, DeletePeering), which the
connect's rollback and the disconnect share, and the disconnect's FindConnectionFunction.

Each compensation gets the whole execution state (what failed, what was planned and done) and
returns the rollback so far, which the next one carries on."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from nekt_peering import registry, rollback
from nekt_peering.aws import client, database_session, nekt_session
from nekt_peering.disconnect_plan import plan_disconnect
from nekt_peering.handlers.stage import Event, database_ec2, nekt_ec2, registry_dynamodb, stage
from nekt_peering.model import DisconnectRequest, Settings

if TYPE_CHECKING:
    from nekt_peering.shapes import RollbackProgress


@stage
def find_connection(event: Event) -> Event:
    """Disconnect: what to remove (the registry's count, and the connection's tags), for the compensations."""
    settings = Settings.parse(event.get("settings"))
    request = DisconnectRequest.parse(event.get("input"), default_region=settings.stack_region)
    session = database_session(request.region)
    read_at = registry.now()  # what Take the locks compares with
    plan = plan_disconnect(
        client(session, "ec2"), lambda: client(nekt_session(settings, request.connection_id), "ec2"),
        registry_dynamodb(settings), registry.table_name(), request, settings)
    plan["discovery"]["readAt"] = read_at
    # The execution's state from here on (ResultPath $): with what Find needs to run again after a wait.
    return {**plan, "input": event["input"], "settings": event["settings"], "executionId": event["executionId"],
            "workflow": "disconnect"}


def _compensate(event: Event, undo: Callable[[rollback.Rollback], None]) -> RollbackProgress:
    progress = rollback.Rollback(event)
    undo(progress)
    return progress.result()


@stage
def revoke_ingress(event: Event) -> RollbackProgress:
    return _compensate(event, lambda progress: rollback.revoke_ingress(
        database_ec2(event["discovery"]), event, progress))


@stage
def delete_routes(event: Event) -> RollbackProgress:
    facts = event["discovery"]
    return _compensate(event, lambda progress: rollback.delete_routes(
        database_ec2(facts), lambda: nekt_ec2(facts), event, progress))


@stage
def restore_dns_resolution(event: Event) -> RollbackProgress:
    return _compensate(event, lambda progress: rollback.restore_dns_resolution(
        database_ec2(event["discovery"]), event, progress))


@stage
def delete_peering(event: Event) -> RollbackProgress:
    return _compensate(event, lambda progress: rollback.delete_peering(
        database_ec2(event["discovery"]), event, progress))
