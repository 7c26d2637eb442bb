"""PeeringStatusFunction: the peering's status, polled by the workflow until it is the one awaited."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.core.model import Settings
from nekt_peering.handlers.stage import Event, database_ec2, stage
from nekt_peering.peering.request import check_status

if TYPE_CHECKING:
    from nekt_peering.core.shapes import PeeringRecord

@stage
def peering_status(event: Event) -> PeeringRecord:
    facts = event["discovery"]
    return check_status(
        database_ec2(facts), event["peering"], event["awaiting"], Settings.from_dict(facts["settings"]).max_polls
    )
