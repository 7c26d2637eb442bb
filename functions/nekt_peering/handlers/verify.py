"""VerifyFunction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.handlers.stage import Event, database_ec2, nekt_ec2, stage
from nekt_peering.verify import verify as verify_live_state

if TYPE_CHECKING:
    from nekt_peering.shapes import Connected


@stage
def verify(event: Event) -> Connected:
    facts = event["discovery"]
    nekt = nekt_ec2(facts) if facts["mode"] == "peering" else None
    return verify_live_state(database_ec2(facts), nekt, event)
