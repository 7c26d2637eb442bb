"""EnableDnsResolutionFunction."""

from __future__ import annotations

from nekt_peering import dns
from nekt_peering.handlers.stage import Event, database_ec2, stage


@stage
def enable_dns_resolution(event: Event) -> Event:
    facts = event["discovery"]
    return dns.enable_dns_resolution(
        database_ec2(facts), event["peering"]["peeringConnectionId"], facts["database"]["vpcId"]
    )
