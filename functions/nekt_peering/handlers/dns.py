"""EnableDnsResolutionFunction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering import dns
from nekt_peering.handlers.stage import Event, database_ec2, stage

if TYPE_CHECKING:
    from nekt_peering.shapes import DnsResolution


@stage
def enable_dns_resolution(event: Event) -> DnsResolution:
    facts = event["discovery"]
    return dns.enable_dns_resolution(
        database_ec2(facts), event["peering"]["peeringConnectionId"], facts["database"]["vpcId"]
    )
