"""AcceptPeeringFunction: the peering accepted in the Nekt account, through the accepter role."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.handlers.stage import Event, nekt_ec2, stage
from nekt_peering.peering.request import accept_peering as accept

if TYPE_CHECKING:
    from nekt_peering.core.shapes import PeeringRecord

@stage
def accept_peering(event: Event) -> PeeringRecord:
    facts = event["discovery"]
    return accept(nekt_ec2(facts), facts, event["peering"])
