"""Stage 10, DNS resolution: the database endpoint resolves to its private address from the Nekt VPC.

A private database's endpoint already does, from any VPC: the peering's DNS option only changes how
*public* hostnames resolve. So the option is set only for a publicly accessible database reached
through the peering (mode 'peering' on a public database); for a private one the stage changes nothing
and says why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nekt_peering.core.ec2 import describe_peering, peering_facts

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import PeeringConnectionOptionsRequestTypeDef

    from nekt_peering.core.shapes import DnsResolution, PeeringSide


def needed(facts: Mapping[str, Any]) -> bool:
    """Whether the connection needs AllowDnsResolutionFromRemoteVpc on the database's side."""
    return facts["mode"] == "peering" and bool(facts["database"].get("publiclyAccessible"))


def why(facts: Mapping[str, Any]) -> str:
    name = facts["database"].get("identifier", "the database")
    if needed(facts):
        return (f"{name} is publicly accessible: from the Nekt VPC its endpoint resolves to its private address only "
                "with the peering's DNS resolution option")
    return (f"{name} is private: its endpoint already resolves to its private address from the Nekt VPC, so the "
            "peering's DNS resolution option would change nothing")


def enable_dns_resolution(ec2: EC2Client, facts: Mapping[str, Any], peering_id: str) -> DnsResolution:
    """Turn on AllowDnsResolutionFromRemoteVpc on the database's side (AWS allows it once active), if needed."""
    if not needed(facts):
        return {"needed": False, "enabled": False, "changed": False, "reason": why(facts)}
    peering = peering_facts(describe_peering(ec2, peering_id))
    side: PeeringSide = "requester" if peering["requester"]["vpcId"] == facts["database"]["vpcId"] else "accepter"
    # Changed by this execution when it was off as Discover read it (a peering requested since was off),
    # whether this call turns it on or an attempt whose answer was lost did.
    changed = not on_before(facts, peering_id, side)
    if peering[side]["allowDnsResolutionFromRemoteVpc"]:
        return {"needed": True, "enabled": True, "side": side, "changed": changed, "reason": why(facts)}
    allow: PeeringConnectionOptionsRequestTypeDef = {"AllowDnsResolutionFromRemoteVpc": True}
    if side == "requester":
        ec2.modify_vpc_peering_connection_options(VpcPeeringConnectionId=peering_id,
                                                  RequesterPeeringConnectionOptions=allow)
    else:
        ec2.modify_vpc_peering_connection_options(VpcPeeringConnectionId=peering_id,
                                                  AccepterPeeringConnectionOptions=allow)
    return {"needed": True, "enabled": True, "side": side, "changed": changed, "reason": why(facts)}


def on_before(facts: Mapping[str, Any], peering_id: str, side: PeeringSide) -> bool:
    """Whether the option was on, on that side, when Discover read the peerings before any change."""
    known = next((peering for peering in facts.get("peerings") or [] if peering["peeringConnectionId"] == peering_id),
                 None)
    return bool(known and known[side]["allowDnsResolutionFromRemoteVpc"])
