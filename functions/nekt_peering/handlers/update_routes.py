"""UpdateRoutesFunction: the routes to the peering on both sides."""

from __future__ import annotations

from nekt_peering.handlers.stage import Event, database_ec2, nekt_ec2, stage
from nekt_peering.peering.routes import allowed_routes
from nekt_peering.peering.routes import update_routes as update


@stage
def update_routes(event: Event) -> list[Event]:
    facts = event["discovery"]
    return update(
        database_ec2(facts), nekt_ec2(facts), event["plan"]["routes"], event["peering"]["peeringConnectionId"],
        allowed=allowed_routes(facts),
    )
