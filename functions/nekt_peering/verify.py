"""Stage 11, Verify: re-read the live state and prove the connection is complete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nekt_peering import dns
from nekt_peering.discover import peering_facts, route_target
from nekt_peering.errors import VerificationFailed
from nekt_peering.ingress import find_rule
from nekt_peering.peering import describe_peering
from nekt_peering.preflight import DATABASE_SIDE, NEKT_SIDE

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from nekt_peering.shapes import Check, Connected, PeeringSide


def verify(database_ec2: EC2Client, nekt_ec2: EC2Client | None, state: dict[str, Any]) -> Connected:
    plan, ingress = state["plan"], state["ingress"]
    checks = [_check_ingress(database_ec2, ingress)]
    peering_id = None
    if plan["mode"] == "peering":
        peering_id = state["peering"]["peeringConnectionId"]
        peering = peering_facts(describe_peering(database_ec2, peering_id))
        checks.append(_check(f"peering {peering_id} is active", peering["status"] == "active",
                             f"status is {peering['status']!r}"))
        live_tables = _route_tables({NEKT_SIDE: nekt_ec2, DATABASE_SIDE: database_ec2}, state["routes"])
        checks += [_check_route(live_tables[route["routeTableId"]], route, peering_id) for route in state["routes"]]
        if dns.needed(state["discovery"]):
            side: PeeringSide = state["dnsResolution"]["side"]
            checks.append(_check(f"DNS resolution from the Nekt VPC is on ({side} side)",
                                 peering[side]["allowDnsResolutionFromRemoteVpc"],
                                 "AllowDnsResolutionFromRemoteVpc is off"))
    failed = [check for check in checks if not check["ok"]]
    if failed:
        raise VerificationFailed(
            "the connection is incomplete: " + "; ".join(f"{c['check']}: {c['detail']}" for c in failed)
            + ". Run the workflow again to repair it; if this repeats, check for changes made outside it"
        )
    return {
        "status": "CONNECTED",
        "mode": plan["mode"],
        "connectionId": plan["connectionId"],
        "database": plan["database"],
        "peeringConnectionId": peering_id,
        "routes": state.get("routes", []),
        "ingress": ingress,
        "dnsResolution": state.get("dnsResolution"),
        "checks": checks,
    }


def _check(name: str, ok: bool, problem: str) -> Check:
    return {"check": name, "ok": bool(ok), "detail": "ok" if ok else problem}


def _check_ingress(ec2: EC2Client, ingress: dict[str, Any]) -> Check:
    rule = find_rule(ec2, ingress["groupId"], ingress["port"], ingress["cidr"])
    return _check(f"{ingress['groupId']} allows TCP {ingress['port']} from {ingress['cidr']}", rule is not None,
                  "the rule is missing")


def _route_tables(clients: dict[str, Any], routes: list[dict[str, Any]]) -> dict[str, Any]:
    """One read per side for all the route tables the connection routes through."""
    tables: dict[str, Any] = {}
    for side, ec2 in clients.items():
        ids = sorted({route["routeTableId"] for route in routes if route["side"] == side})
        if ids:
            tables |= {table["RouteTableId"]: table
                       for table in ec2.describe_route_tables(RouteTableIds=ids)["RouteTables"]}
    return tables


def _check_route(route_table: dict[str, Any], route: dict[str, Any], peering_id: str) -> Check:
    live = next((r for r in route_table.get("Routes", [])
                 if r.get("DestinationCidrBlock") == route["destinationCidr"]), None)
    name = f"{route['routeTableId']} routes {route['destinationCidr']} to {peering_id}"
    if live is None:
        return _check(name, False, "the route is missing")
    if route_target(live) != peering_id:
        return _check(name, False, f"it goes to {route_target(live)}")
    return _check(name, live.get("State") == "active", f"the route is {live.get('State')!r}")
