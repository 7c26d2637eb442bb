"""RequestPeeringFunction, PeeringStatusFunction, AcceptPeeringFunction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering import peering
from nekt_peering.handlers.stage import Event, database_ec2, nekt_ec2, stage
from nekt_peering.model import Settings

if TYPE_CHECKING:
    from nekt_peering.shapes import PeeringRecord


@stage
def request_peering(event: Event) -> PeeringRecord:
    facts = event["discovery"]
    return peering.request_peering(database_ec2(facts), facts, event["plan"])


@stage
def peering_status(event: Event) -> PeeringRecord:
    facts = event["discovery"]
    return peering.check_status(
        database_ec2(facts), event["peering"], event["awaiting"], Settings.from_dict(facts["settings"]).max_polls
    )


@stage
def accept_peering(event: Event) -> PeeringRecord:
    facts = event["discovery"]
    return peering.accept_peering(nekt_ec2(facts), facts, event["peering"])
