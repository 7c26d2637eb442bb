"""Reading (and, for tests, bending) the emulated accounts' state."""

from __future__ import annotations

from typing import Any

from moto.ec2.models import ec2_backends

from emulator.topology import account_session


def snapshot(places: list[tuple[str, str]]) -> dict[str, Any]:
    """What a connection can change, per (account, region): live peerings with their options and
    tags, every route of every route table, every security-group rule."""
    state: dict[str, Any] = {}
    for account_id, region in places:
        ec2 = account_session(account_id, region).client("ec2")
        peerings = {
            pcx["VpcPeeringConnectionId"]: {
                "status": pcx["Status"]["Code"],
                "requester": pcx["RequesterVpcInfo"].get("PeeringOptions"),
                "accepter": pcx["AccepterVpcInfo"].get("PeeringOptions"),
                "tags": sorted((t["Key"], t["Value"]) for t in pcx.get("Tags", [])),
            }
            for pcx in ec2.describe_vpc_peering_connections()["VpcPeeringConnections"]
            if pcx["Status"]["Code"] not in ("deleted", "rejected", "failed", "expired")
        }
        routes = {
            rt["RouteTableId"]: sorted(
                (r.get("DestinationCidrBlock", ""), str(_target(r)), r.get("State", "")) for r in rt["Routes"]
            )
            for rt in ec2.describe_route_tables()["RouteTables"]
        }
        rules = sorted(
            (r["GroupId"], r["IsEgress"], r["IpProtocol"], r.get("FromPort"), r.get("ToPort"),
             r.get("CidrIpv4", ""), r.get("Description", ""))
            for r in ec2.describe_security_group_rules()["SecurityGroupRules"]
        )
        state[f"{account_id}/{region}"] = {"peerings": peerings, "routes": routes, "rules": rules}
    return state


def _target(route: dict[str, Any]) -> str:
    for key in ("VpcPeeringConnectionId", "GatewayId", "TransitGatewayId", "NatGatewayId"):
        if route.get(key):
            return str(route[key])
    return ""


def set_peering_status(account_id: str, region: str, peering_id: str, code: str, message: str = "") -> None:
    """moto moves a peering to pending-acceptance at once and to active on accept; AWS takes time
    and can fail. Tests use this to put a peering in the state AWS could report."""
    pcx = ec2_backends[account_id][region].vpc_pcxs[peering_id]
    pcx._status.code = code
    pcx._status.message = message or code
