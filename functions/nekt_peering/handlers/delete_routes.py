"""DeleteRoutesFunction: compensation of Update routes (the connect's rollback and the disconnect).

Each compensation gets the whole execution state (what failed, what was planned and done) and returns the
rollback so far, which the next one carries on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.handlers.stage import Event, compensate, database_ec2, nekt_ec2, stage
from nekt_peering.peering.undo import delete_routes as delete

if TYPE_CHECKING:
    from nekt_peering.core.shapes import RollbackProgress

@stage
def delete_routes(event: Event) -> RollbackProgress:
    facts = event["discovery"]
    return compensate(event, lambda progress: delete(database_ec2(facts), lambda: nekt_ec2(facts), event, progress))
