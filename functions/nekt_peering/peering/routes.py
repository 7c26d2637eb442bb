"""Stage 8, Update routes: Nekt's private route table to the database VPC, the database's to Nekt."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code
from nekt_peering.core.ec2 import DATABASE_SIDE, NEKT_SIDE, route_target
from nekt_peering.core.errors import ChangeRefused, RouteConflict

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

Route = tuple[str, str, str]  # side, route table id, destination CIDR


def allowed_routes(facts: dict[str, Any]) -> frozenset[Route]:
    """The only routes a connection may add: in Nekt's private route table to each database VPC CIDR,
    in each of the database's route tables to the Nekt CIDR."""
    database, nekt = facts["database"], facts["nekt"]
    return frozenset(
        {(NEKT_SIDE, nekt["routeTable"]["routeTableId"], cidr) for cidr in database["cidrs"]}
        | {(DATABASE_SIDE, table["routeTableId"], nekt["cidr"]) for table in database["routeTables"]}
    )


def refuse_unless_allowed(planned: list[dict[str, Any]], allowed: frozenset[Route]) -> None:
    """Before the first CreateRoute: every route of the plan, or none."""
    wrong = [f"{route['destinationCidr']} in {route['routeTableId']} ({route['side']} side)" for route in planned
             if (route["side"], route["routeTableId"], route["destinationCidr"]) not in allowed]
    if wrong:
        raise ChangeRefused(
            f"refused to route {'; '.join(wrong)} through the peering: a connection only routes the Nekt private "
            "route table to the database VPC's CIDRs and the database's route tables to the Nekt CIDR. Nothing was "
            "changed: start the connection again from the state machine"
        )


def update_routes(
    database_ec2: EC2Client, nekt_ec2: EC2Client, planned: list[dict[str, Any]], peering_id: str,
    allowed: frozenset[Route],
) -> list[dict[str, Any]]:
    """Each planned route, `created` when Discover did not see it. Routes carry no tags: a route that was not
    there before any change and now leads to this connection's peering, under the network's lock, is this
    execution's, made by this call or by an attempt whose answer was lost (ensure_route then finds it). The
    connection's own route to its gone peering is replaced: again on a retry, to the same peering."""
    refuse_unless_allowed(planned, allowed)
    routes = []
    for route in planned:
        ec2 = nekt_ec2 if route["side"] == NEKT_SIDE else database_ec2
        if "replaces" in route:
            ec2.replace_route(RouteTableId=route["routeTableId"], DestinationCidrBlock=route["destinationCidr"],
                              VpcPeeringConnectionId=peering_id)
        elif not route["exists"]:
            ensure_route(ec2, route["routeTableId"], route["destinationCidr"], peering_id, route["side"])
        routes.append({key: route[key] for key in ("routeTableId", "destinationCidr", "side")}
                      | {"created": not route["exists"]})
    return routes


def ensure_route(ec2: EC2Client, route_table_id: str, destination: str, peering_id: str, side: str) -> bool:
    """Create the route; True when this call created it, False when the identical one was there
    (an earlier attempt of the stage made it). Preflight has just read the table, so the table is
    read again only when AWS says the destination is taken."""
    try:
        ec2.create_route(RouteTableId=route_table_id, DestinationCidrBlock=destination,
                         VpcPeeringConnectionId=peering_id)
    except ClientError as error:
        if error_code(error) != "RouteAlreadyExists":
            raise
        _require_identical(ec2, route_table_id, destination, peering_id, side)
        return False
    return True


def _require_identical(ec2: EC2Client, route_table_id: str, destination: str, peering_id: str, side: str) -> None:
    route_table = ec2.describe_route_tables(RouteTableIds=[route_table_id])["RouteTables"][0]
    existing = next((route for route in route_table.get("Routes", [])
                     if route.get("DestinationCidrBlock") == destination), None)
    target = route_target(existing) if existing else "nothing"
    if target != peering_id:
        raise RouteConflict(
            f"route table {route_table_id} ({side} side) routes {destination} to {target}, not to the peering "
            f"{peering_id}. Remove or change that route, then run again"
        )
