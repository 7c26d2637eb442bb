"""RemoveResourceEndpointFunction: compensation of Create the resource endpoint.

Each compensation gets the whole execution state (what failed, what was planned and done) and returns the
rollback so far, which the next one carries on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.handlers.stage import Event, compensate, nekt_ec2, stage
from nekt_peering.resource_endpoint.undo import remove_resource_endpoint as remove

if TYPE_CHECKING:
    from nekt_peering.core.shapes import RollbackProgress

@stage
def remove_resource_endpoint(event: Event) -> RollbackProgress:
    return compensate(event, lambda progress: remove(nekt_ec2(event["discovery"]), event, progress))
