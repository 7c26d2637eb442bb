"""RequestPeeringFunction: the peering path's request from the database VPC to the Nekt VPC."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.handlers.stage import Event, database_ec2, stage
from nekt_peering.peering.request import request_peering as request

if TYPE_CHECKING:
    from nekt_peering.core.shapes import PeeringRecord

@stage
def request_peering(event: Event) -> PeeringRecord:
    facts = event["discovery"]
    return request(database_ec2(facts), facts, event["plan"])
