"""EnableDnsResolutionFunction: the peering's DNS option, when the database needs it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.handlers.stage import Event, database_ec2, stage
from nekt_peering.peering.dns import enable_dns_resolution as enable

if TYPE_CHECKING:
    from nekt_peering.core.shapes import DnsResolution

@stage
def enable_dns_resolution(event: Event) -> DnsResolution:
    facts = event["discovery"]
    return enable(database_ec2(facts), facts, event["peering"]["peeringConnectionId"])
