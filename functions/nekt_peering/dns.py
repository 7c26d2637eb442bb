"""Stage 10, DNS resolution: the database endpoint resolves to its private address from the Nekt VPC."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.discover import peering_facts
from nekt_peering.peering import describe_peering

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import PeeringConnectionOptionsRequestTypeDef

    from nekt_peering.shapes import DnsResolution, PeeringSide


def enable_dns_resolution(ec2: EC2Client, peering_id: str, database_vpc_id: str) -> DnsResolution:
    """Turn on AllowDnsResolutionFromRemoteVpc on the database's side (AWS allows it once active)."""
    peering = peering_facts(describe_peering(ec2, peering_id))
    side: PeeringSide = "requester" if peering["requester"]["vpcId"] == database_vpc_id else "accepter"
    if peering[side]["allowDnsResolutionFromRemoteVpc"]:
        return {"enabled": True, "side": side, "changed": False}
    allow: PeeringConnectionOptionsRequestTypeDef = {"AllowDnsResolutionFromRemoteVpc": True}
    if side == "requester":
        ec2.modify_vpc_peering_connection_options(VpcPeeringConnectionId=peering_id,
                                                  RequesterPeeringConnectionOptions=allow)
    else:
        ec2.modify_vpc_peering_connection_options(VpcPeeringConnectionId=peering_id,
                                                  AccepterPeeringConnectionOptions=allow)
    return {"enabled": True, "side": side, "changed": True}
