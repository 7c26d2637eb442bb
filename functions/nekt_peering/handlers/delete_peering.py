"""DeletePeeringFunction: compensation of Request peering, once AWS lets the peering go.

Each compensation gets the whole execution state (what failed, what was planned and done) and returns the
rollback so far, which the next one carries on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.handlers.stage import Event, compensate, database_ec2, stage
from nekt_peering.peering.undo import delete_peering as delete

if TYPE_CHECKING:
    from nekt_peering.core.shapes import RollbackProgress

@stage
def delete_peering(event: Event) -> RollbackProgress:
    return compensate(event, lambda progress: delete(database_ec2(event["discovery"]), event, progress))
