"""Stage 10, DNS resolution: the database endpoint resolves to its private address from the Nekt VPC."""

from __future__ import annotations

from typing import Any

from nekt_peering.discover import peering_facts
from nekt_peering.peering import describe_peering


def enable_dns_resolution(ec2: Any, peering_id: str, database_vpc_id: str) -> dict[str, Any]:
    """Turn on AllowDnsResolutionFromRemoteVpc on the database's side (AWS allows it once active)."""
    peering = peering_facts(describe_peering(ec2, peering_id))
    side = "requester" if peering["requester"]["vpcId"] == database_vpc_id else "accepter"
    if peering[side]["allowDnsResolutionFromRemoteVpc"]:
        return {"enabled": True, "side": side, "changed": False}
    options_key = "RequesterPeeringConnectionOptions" if side == "requester" else "AccepterPeeringConnectionOptions"
    ec2.modify_vpc_peering_connection_options(
        VpcPeeringConnectionId=peering_id, **{options_key: {"AllowDnsResolutionFromRemoteVpc": True}}
    )
    return {"enabled": True, "side": side, "changed": True}
