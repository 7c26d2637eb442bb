"""Stage 2, Preflight: turn the discovered facts into the plan, refusing what AWS or safety forbids.

Pure logic over Discover's facts: no AWS call, so a dry run is exactly this plan.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from nekt_peering import dns
from nekt_peering.discover import allows_tcp_port_from
from nekt_peering.errors import CidrOverlap, ConnectError, PeeringConflict, RouteConflict
from nekt_peering.model import CONNECTION_TAG_KEY, Settings
from nekt_peering.network_acls import check_network_acls, path_denials
from nekt_peering.quotas import (
    ACTIVE_PEERINGS_PER_VPC,
    OUTSTANDING_REQUESTS,
    ROUTES_PER_TABLE,
    RULES_PER_GROUP,
    routes_counted,
)
from nekt_peering.resource_plan import plan_resource_path, resource_path_changes

if TYPE_CHECKING:
    from nekt_peering.shapes import (
        Change,
        PeeringSide,
        Plan,
        PlanDatabase,
        PlannedIngress,
        PlannedResourcePath,
        PlannedRoute,
        ReusedPeering,
        Side,
    )

DATABASE_SIDE: Side = "database"
NEKT_SIDE: Side = "nekt"



def plan(facts: Mapping[str, Any]) -> Plan:
    database, nekt, request = facts["database"], facts["nekt"], facts["request"]
    peering: ReusedPeering | None = None
    routes: list[PlannedRoute] = []
    ingress: PlannedIngress | None = None
    resource_path: PlannedResourcePath | None = None
    try:
        if facts["mode"] == "public":
            ingress = planned_ingress(database, Settings.from_dict(facts["settings"]).nekt_public_cidr)
            check_quotas(facts, peering, routes, ingress)
        elif facts["mode"] == "peering":
            peering, routes, ingress = plan_peering(facts)
        else:
            resource_path = plan_resource_path(facts)
    except ConnectError as refusal:
        reason = facts.get("modeReason", "")
        if reason.startswith("auto: peering."):  # auto could not take the other path: say why
            raise type(refusal)(f"{refusal} ({reason.removeprefix('auto: peering. ')})") from None
        raise
    check_network_acls(path_denials(facts, database["networkAcls"], nekt["networkAcls"] if nekt else []),
                       "Nothing was changed")
    return {
        "status": "PLANNED",
        "mode": facts["mode"],
        "modeReason": facts.get("modeReason", "requested"),
        "connectionId": request["connectionId"],
        "dryRun": request["dryRun"],
        "database": cast("PlanDatabase", {key: database[key] for key in
                     ("identifier", "kind", "engine", "endpoint", "port", "accountId", "region", "vpcId")}),
        "peering": peering,
        "routes": routes,
        "ingress": ingress,
        "resourcePath": resource_path,
        "dnsResolution": {"needed": dns.needed(facts), "reason": dns.why(facts)},
        "changes": (resource_path_changes(facts, resource_path) if resource_path is not None
                    else changes(facts, peering, routes, cast("PlannedIngress", ingress))),
    }


def plan_peering(facts: Mapping[str, Any]) -> tuple[ReusedPeering | None, list[PlannedRoute], PlannedIngress]:
    """The peering path's part of the plan, or the refusal that makes it impossible (auto then weighs it)."""
    database, nekt = facts["database"], facts["nekt"]
    check_cidr_overlap(database["cidrs"], nekt["cidrs"])
    peering = reusable_peering(facts["peerings"], database, nekt)
    pcx = peering["peeringConnectionId"] if peering else None
    routes = [
        planned_route(nekt["routeTable"], destination, NEKT_SIDE, pcx) for destination in database["cidrs"]
    ] + [
        planned_route(route_table, nekt["cidr"], DATABASE_SIDE, pcx) for route_table in database["routeTables"]
    ]
    ingress = planned_ingress(database, nekt["cidr"])
    check_quotas(facts, peering, routes, ingress)
    return peering, routes, ingress


def check_quotas(facts: Mapping[str, Any], peering: Mapping[str, Any] | None, routes: Sequence[Mapping[str, Any]],
                 ingress: Mapping[str, Any]) -> None:
    """Refuse now, by name, what AWS would refuse half way through the connect (and roll it back)."""
    database, nekt = facts["database"], facts["nekt"]
    counts = facts.get("quotas") or {}
    where = {"database": f"the database VPC {database['vpcId']} (account {database['accountId']}, region "
                         f"{database['region']})"}
    if facts["mode"] == "peering" and (peering is None or peering["status"] != "active"):
        where["nekt"] = f"the Nekt VPC {nekt['vpcId']} (account {nekt['accountId']}, region {nekt['region']})"
        limit = OUTSTANDING_REQUESTS.limit(facts, "database")
        if peering is None and counts.get("outstandingRequests", 0) + 1 > limit:
            raise OUTSTANDING_REQUESTS.refuse(
                f"account {database['accountId']} in region {database['region']}", counts["outstandingRequests"], 1,
                limit, "Delete the peering requests still pending acceptance that are not needed")
        for side, key in (("nekt", "nektVpcActivePeerings"), ("database", "databaseVpcActivePeerings")):
            limit = ACTIVE_PEERINGS_PER_VPC.limit(facts, side)
            if counts.get(key, 0) + 1 > limit:
                raise ACTIVE_PEERINGS_PER_VPC.refuse(
                    where[side], counts[key], 1, limit,
                    "Ask Nekt support (the Nekt VPC is a hub for every customer)" if side == "nekt"
                    else "Delete peerings this VPC no longer uses")
    tables = {table["routeTableId"]: ("database", table) for table in database.get("routeTables", [])}
    if nekt:
        tables[nekt["routeTable"]["routeTableId"]] = ("nekt", nekt["routeTable"])
    for table_id, (side, table) in tables.items():
        new = sum(1 for route in routes if route["routeTableId"] == table_id and not route["exists"])
        used, limit = routes_counted(table), ROUTES_PER_TABLE.limit(facts, side)
        if new and used + new > limit:
            raise ROUTES_PER_TABLE.refuse(f"route table {table_id} ({side} side)", used, new, limit,
                                          "Remove routes it no longer uses")
    if not ingress["exists"]:
        used, limit = len(database["securityGroupRules"]), RULES_PER_GROUP.limit(facts, "database")
        if used + 1 > limit:
            raise RULES_PER_GROUP.refuse(f"security group {ingress['groupId']}", used, 1, limit,
                                         "Remove inbound rules it no longer uses")


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
    route_table: dict[str, Any], destination: str, side: Side, peering_id: str | None
) -> PlannedRoute:
    """The route to add, unless an identical one exists. A route to the same destination, or to a part
    of it (longest prefix wins), through anything but the reused peering would take Nekt's traffic."""
    wanted = ipaddress.ip_network(destination)
    competing = [route for route in route_table["routes"]
                 if _is_part_of(route["destinationCidr"], wanted) and route["target"] != peering_id]
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
        )
    # A route to a reused peering that is still pending shows as blackhole until accepted: it is ours.
    existing = any(route["destinationCidr"] == destination for route in route_table["routes"])
    return {
        "routeTableId": route_table["routeTableId"],
        "destinationCidr": destination,
        "side": side,
        "exists": existing,
    }


def _is_part_of(cidr: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    candidate = ipaddress.ip_network(cidr)
    return candidate.version == network.version and candidate.subnet_of(network)  # type: ignore[arg-type]


def planned_ingress(database: dict[str, Any], cidr: str) -> PlannedIngress:
    port = database["port"]
    existing = next((rule for rule in database["securityGroupRules"] if allows_tcp_port_from(rule, port, cidr)),
                    None)
    return {
        "groupId": database["securityGroupId"],
        "port": port,
        "cidr": cidr,
        "exists": existing is not None,
        "ruleId": existing["ruleId"] if existing else None,
    }


def changes(
    facts: Mapping[str, Any], peering: ReusedPeering | None, routes: list[PlannedRoute], ingress: PlannedIngress
) -> list[Change]:
    """Every change the run would make, in order, in words a person can check (peering and public paths)."""
    database, nekt = facts["database"], facts["nekt"]
    planned: list[Change] = []
    if facts["mode"] == "peering":
        if peering is None:
            planned.append({"action": "CreateVpcPeeringConnection", "summary":
                            f"request a peering from {database['vpcId']} ({database['accountId']}, "
                            f"{database['region']}) to {nekt['vpcId']} ({nekt['accountId']}, {nekt['region']})"})
        if peering is None or peering["status"] != "active":
            planned.append({"action": "AcceptVpcPeeringConnection", "summary":
                            f"accept it in account {nekt['accountId']}, region {nekt['region']}"})
        planned += [{"action": "CreateRoute", "summary":
                     f"route {route['destinationCidr']} via the peering in {route['routeTableId']} ({route['side']})"}
                    for route in routes if not route["exists"]]
    if not ingress["exists"]:
        planned.append({"action": "AuthorizeSecurityGroupIngress", "summary":
                        f"allow TCP {ingress['port']} from {ingress['cidr']} on {ingress['groupId']}"})
    if dns.needed(facts) and not (peering and peering["dnsResolution"]):
        planned.append({"action": "ModifyVpcPeeringConnectionOptions", "summary":
                        f"let the Nekt VPC resolve {database['endpoint']} to its private address"})
    return planned
