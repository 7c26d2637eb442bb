"""The peering path's part of Preflight's plan: the peering to reuse or request, the routes on both
sides, and every change it would make, in words a person can check. Pure logic over Discover's facts."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nekt_peering.core.ec2 import DATABASE_SIDE, NEKT_SIDE
from nekt_peering.core.errors import CidrOverlap, PeeringConflict, RouteConflict
from nekt_peering.core.model import CONNECTION_TAG_KEY
from nekt_peering.core.quotas import check_quotas
from nekt_peering.ingress.authorize import ingress_change, planned_ingress
from nekt_peering.peering import dns

if TYPE_CHECKING:
    from nekt_peering.core.shapes import Change, PeeringSide, PlannedIngress, PlannedRoute, ReusedPeering, Side


def plan_peering(facts: Mapping[str, Any]) -> tuple[ReusedPeering | None, list[PlannedRoute], PlannedIngress]:
    """The peering path's part of the plan, or the refusal that makes it impossible (auto then weighs it)."""
    database, nekt = facts["database"], facts["nekt"]
    check_cidr_overlap(database["cidrs"], nekt["cidrs"])
    peering = reusable_peering(facts["peerings"], database, nekt)
    pcx = peering["peeringConnectionId"] if peering else None
    gone = facts.get("gonePeering")
    routes = [
        planned_route(nekt["routeTable"], destination, NEKT_SIDE, pcx, gone) for destination in database["cidrs"]
    ] + [
        planned_route(route_table, nekt["cidr"], DATABASE_SIDE, pcx, gone) for route_table in database["routeTables"]
    ]
    ingress = planned_ingress(database, nekt["cidr"])
    check_quotas(facts, peering, routes, ingress)
    return peering, routes, ingress


def check_cidr_overlap(database_cidrs: list[str], nekt_cidrs: list[str]) -> None:
    overlaps = [
        f"{db} overlaps {nekt}" for db in database_cidrs for nekt in nekt_cidrs
        if ipaddress.ip_network(db).overlaps(ipaddress.ip_network(nekt))
    ]
    if overlaps:
        raise CidrOverlap(
            f"the database VPC and the Nekt VPC share addresses ({'; '.join(overlaps)}), so AWS cannot peer "
            "them. Nothing was changed. Ask Nekt support for a Nekt VPC in another range"
        )


def reusable_peering(
    peerings: list[dict[str, Any]], database: dict[str, Any], nekt: dict[str, Any]
) -> ReusedPeering | None:
    """AWS allows one live peering per VPC pair: reuse it when it is the right one, else refuse to go on."""
    for peering in peerings:
        database_requests = peering["requester"]["vpcId"] == database["vpcId"]
        if peering["status"] == "active" or database_requests:
            database_side: PeeringSide = "requester" if database_requests else "accepter"
            return {
                "peeringConnectionId": peering["peeringConnectionId"],
                "status": peering["status"],
                "databaseSide": database_side,
                "dnsResolution": peering[database_side]["allowDnsResolutionFromRemoteVpc"],
                "connectionTag": peering["tags"].get(CONNECTION_TAG_KEY),
            }
        raise PeeringConflict(
            f"peering {peering['peeringConnectionId']} from the Nekt VPC {nekt['vpcId']} to the database VPC "
            f"{database['vpcId']} is {peering['status']!r}. AWS allows one peering per VPC pair: accept it in "
            f"account {database['accountId']} or delete it, then run again"
        )
    return None


def planned_route(
    route_table: dict[str, Any], destination: str, side: Side, peering_id: str | None, gone_peering: str | None = None
) -> PlannedRoute:
    """The route to add, unless an identical one exists. A route to the same destination, or to a part
    of it (longest prefix wins), through anything but the reused peering would take Nekt's traffic; but the
    connection's own route to its gone peering (a blackhole) is replaced."""
    wanted = ipaddress.ip_network(destination)
    own = next((route for route in route_table["routes"] if gone_peering and route["target"] == gone_peering
                and route["destinationCidr"] == destination and route["state"] == "blackhole"), None)
    competing = [route for route in route_table["routes"]
                 if _is_part_of(route["destinationCidr"], wanted) and route["target"] != peering_id
                 and route is not own]
    if competing:
        route = competing[0]
        remedy = "Remove or change that route, then run again"
        if route["state"] == "blackhole" and route["target"].startswith("pcx-"):
            remedy = (f"It is a blackhole: peering {route['target']} is gone or not active. If an earlier connection "
                      "left it, run disconnect for that connection id, which removes it; else delete the route. "
                      "Then run again")
        raise RouteConflict(
            f"route table {route_table['routeTableId']} ({side} side) already routes {route['destinationCidr']} "
            f"to {route['target']} ({route['state']}), so traffic for {destination} cannot all go through the "
            f"peering. Nothing was changed. {remedy}"
        ).drifted("route-blackholed" if route["state"] == "blackhole" else "route-elsewhere")
    planned: PlannedRoute = {"routeTableId": route_table["routeTableId"], "destinationCidr": destination,
                             "side": side, "exists": False}
    if own is not None:
        planned["replaces"] = own["target"]
        return planned
    # A route to a reused peering that is still pending shows as blackhole until accepted: it is ours.
    planned["exists"] = any(route["destinationCidr"] == destination for route in route_table["routes"])
    return planned


def _is_part_of(cidr: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    candidate = ipaddress.ip_network(cidr)
    return candidate.version == network.version and candidate.subnet_of(network)  # type: ignore[arg-type]


def peering_changes(
    facts: Mapping[str, Any], peering: ReusedPeering | None, routes: list[PlannedRoute], ingress: PlannedIngress
) -> list[Change]:
    """Every change the run would make, in order, in words a person can check."""
    database, nekt = facts["database"], facts["nekt"]
    planned: list[Change] = []
    if peering is None:
        planned.append({"action": "CreateVpcPeeringConnection", "summary":
                        f"request a peering from {database['vpcId']} ({database['accountId']}, "
                        f"{database['region']}) to {nekt['vpcId']} ({nekt['accountId']}, {nekt['region']})"})
    if peering is None or peering["status"] != "active":
        planned.append({"action": "AcceptVpcPeeringConnection", "summary":
                        f"accept it in account {nekt['accountId']}, region {nekt['region']}"})
    planned += [{"action": "ReplaceRoute", "summary":
                 f"route {route['destinationCidr']} via the new peering instead of the gone {route['replaces']} in "
                 f"{route['routeTableId']} ({route['side']})"} if "replaces" in route else
                {"action": "CreateRoute", "summary":
                 f"route {route['destinationCidr']} via the peering in {route['routeTableId']} ({route['side']})"}
                for route in routes if not route["exists"]]
    if not ingress["exists"]:
        planned.append(ingress_change(ingress))
    if dns.needed(facts) and not (peering and peering["dnsResolution"]):
        planned.append({"action": "ModifyVpcPeeringConnectionOptions", "summary":
                        f"let the Nekt VPC resolve {database['endpoint']} to its private address"})
    return planned
