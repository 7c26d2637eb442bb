"""After a disconnect: is everything the network's other connections rely on still in place?

The disconnect removes only what no other connection uses, so this never finds anything missing unless
something outside the workflow changed the network; then the other connection is named, with what it
lost, rather than found broken later."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code
from nekt_peering.core.ec2 import NEKT_SIDE, describe_peering, peering_facts, route_target
from nekt_peering.core.errors import PeeringFailed
from nekt_peering.ingress.authorize import find_rule
from nekt_peering.registry.bookkeeping import network_resources
from nekt_peering.resource_endpoint.find import find_group_rule

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client


def others_intact(database_ec2: EC2Client, nekt_ec2_factory: Callable[[], Any], dynamodb: DynamoDBClient,
                  table: str, network: str | None, connection_id: str,
                  lattice_factory: Callable[[], Any] | None = None) -> dict[str, Any]:
    """{"othersIntact": bool, "missing": [what, for which connections], "cause": plain words}.
    `lattice_factory`: VPC Lattice in the database's account, for a resource gateway others rely on."""
    if network is None:
        return {"othersIntact": True, "missing": [], "cause": ""}
    clients: dict[str, Any] = {}

    def ec2(side: str) -> Any:
        if side not in clients:
            clients[side] = (nekt_ec2_factory() if side == NEKT_SIDE else database_ec2 if side == "database"
                             else lattice_factory() if lattice_factory else None)
        return clients[side]

    missing = []
    for resource in network_resources(dynamodb, table, network).values():
        users = sorted(set(resource["users"]) - {connection_id})
        if users and not _in_place(ec2, resource["kind"], resource["details"]):
            missing.append(f"{resource['resourceId']} (relied on by {', '.join(users)})")
    cause = "" if not missing else (
        f"Disconnected, but what other connections rely on is missing: {'; '.join(missing)}. Something outside "
        "this workflow changed it: connect those connections again to restore it")
    return {"othersIntact": not missing, "missing": missing, "cause": cause}


def _in_place(ec2: Callable[[str], Any], kind: str, details: dict[str, Any]) -> bool:
    if kind in ("peering", "dns"):
        try:
            peering = peering_facts(describe_peering(ec2("database"), details["peeringConnectionId"]))
        except PeeringFailed:
            return False
        if kind == "dns":
            side = peering["requester"] if details["side"] == "requester" else peering["accepter"]
            return peering["status"] == "active" and side["allowDnsResolutionFromRemoteVpc"]
        return peering["status"] == "active"
    if kind == "route":
        table = ec2(details["side"]).describe_route_tables(RouteTableIds=[details["routeTableId"]])["RouteTables"][0]
        return any(route.get("DestinationCidrBlock") == details["destinationCidr"]
                   and route_target(route) == details["peeringConnectionId"] and route.get("State") == "active"
                   for route in table.get("Routes", []))
    if kind == "gateway":
        lattice = ec2("lattice")
        if lattice is None:
            return True  # not checked: no VPC Lattice client given
        try:
            return bool(lattice.get_resource_gateway(
                resourceGatewayIdentifier=details["resourceGatewayId"])["status"] == "ACTIVE")
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return False
            raise
    if details.get("sourceGroupId"):
        found = find_group_rule(ec2("database"), details["groupId"], details["port"], details["sourceGroupId"])
        return found is not None
    rule = find_rule(ec2("database"), details["groupId"], details["port"], details["cidr"])
    return rule is not None
