"""UpdateRoutesFunction."""

from __future__ import annotations

from nekt_peering import routes
from nekt_peering.handlers.stage import Event, database_ec2, nekt_ec2, stage


@stage
def update_routes(event: Event) -> list[Event]:
    facts = event["discovery"]
    return routes.update_routes(
        database_ec2(facts), nekt_ec2(facts), event["plan"]["routes"], event["peering"]["peeringConnectionId"],
        allowed=routes.allowed_routes(facts),
    )
