"""Compensations: undo, in reverse order, what this execution created, and only that.

What an execution created is decided from what Preflight found before any change (a
peering, route or rule that existed then is never removed) and from the connection's tags
on what was created, so a stage that failed half way (a route created, the Lambda lost)
is still undone. Each step is safe to run twice and content with nothing to undo. A step
that cannot undo something records it by id under `left` and the chain goes on; the
execution then fails as RollbackFailed with that list.

The disconnect workflow runs the same steps over `owned_by_connection`: what the connection's
tags say this product created for it, in the shape Preflight's plan gives a failed connect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.aws import error_code
from nekt_peering.discover import LIVE_PEERING_STATES, find_peerings, peering_facts, route_target, rule_facts
from nekt_peering.errors import cause_message
from nekt_peering.ingress import find_rule
from nekt_peering.model import CONNECTION_TAG_KEY, MANAGED_BY_TAG, DisconnectRequest, Settings
from nekt_peering.peering import describe_peering
from nekt_peering.preflight import DATABASE_SIDE, NEKT_SIDE

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import FilterTypeDef

    from nekt_peering.shapes import PeeringSide, RollbackProgress


class Rollback:
    """The compensation so far: carried from step to step in the execution's `rollback`."""

    def __init__(self, state: dict[str, Any]) -> None:
        previous = state.get("rollback") or {}
        self.undone: list[str] = list(previous.get("undone", []))
        self.left: list[str] = list(previous.get("left", []))
        self.error = state.get("error") or {}

    def attempt(self, what: str, call: Callable[..., Any], **arguments: Any) -> None:
        """Make one undoing AWS call; a refusal is recorded as left behind and the rollback goes on."""
        try:
            call(**arguments)
        except ClientError as error:
            self.left.append(f"{what} ({error_code(error)}: {error.response['Error'].get('Message', '')})")
        else:
            self.undone.append(what)

    def could_not(self, what: str, why: str) -> None:
        self.left.append(f"{what} ({why})")

    def result(self) -> RollbackProgress:
        if not self.error:  # a disconnect: nothing failed, the removal is the point
            removed = "; ".join(self.undone) or "nothing (already disconnected)"
            cause = (f"Left behind (remove by hand): {'; '.join(self.left)}. Removed: {removed}." if self.left
                     else f"Removed: {removed}.")
            return {"undone": self.undone, "left": self.left, "complete": not self.left, "cause": cause}
        undone = "; ".join(self.undone) or "nothing had been changed"
        if self.left:
            cause = (f"{original_message(self.error)} Rollback failed, left behind (remove by hand): "
                     f"{'; '.join(self.left)}. Undone: {undone}.")
        else:
            cause = f"{original_message(self.error)} Rolled back: {undone}."
        return {"undone": self.undone, "left": self.left, "complete": not self.left, "cause": cause}


def original_message(error: dict[str, Any]) -> str:
    """The failed stage's own message: Lambda wraps it in a JSON cause with its stack trace."""
    message = cause_message(str(error.get("Cause", "")))
    name = error.get("Error", "Error")
    return f"{name}: {message}".rstrip(" .") + "."


def revoke_ingress(ec2: EC2Client, state: dict[str, Any], rollback: Rollback) -> None:
    planned_rules = state["plan"]["ingress"]  # one rule for a connect; every tagged one for a disconnect
    for planned in planned_rules if isinstance(planned_rules, list) else [planned_rules]:
        if planned["exists"]:
            continue
        rule = find_rule(ec2, planned["groupId"], planned["port"], planned["cidr"])
        if rule is None or rule["tags"].get(CONNECTION_TAG_KEY) != _connection_id(state):
            continue  # never created, or an identical rule someone else added: not ours
        rollback.attempt(
            f"ingress rule {rule['ruleId']} (tcp/{planned['port']} from {planned['cidr']}) on {planned['groupId']}",
            ec2.revoke_security_group_ingress, GroupId=planned["groupId"], SecurityGroupRuleIds=[rule["ruleId"]],
        )


def delete_routes(
    database_ec2: EC2Client, nekt_ec2_factory: Callable[[], Any], state: dict[str, Any], rollback: Rollback
) -> None:
    added = [route for route in state["plan"]["routes"] if not route["exists"]]
    peering_id = connection_peering_id(database_ec2, state)
    if not added or peering_id is None:
        return  # no route can point at a peering that does not exist
    clients: dict[str, Any] = {}
    for route in added:
        what = f"route {route['destinationCidr']} -> {peering_id} in {route['routeTableId']} ({route['side']} side)"
        try:
            ec2 = clients.get(route["side"]) or clients.setdefault(
                route["side"], nekt_ec2_factory() if route["side"] == NEKT_SIDE else database_ec2)
            table = ec2.describe_route_tables(RouteTableIds=[route["routeTableId"]])["RouteTables"][0]
        except Exception as error:  # noqa: BLE001 - an unreadable table is left behind, by id, not skipped
            rollback.could_not(what, f"could not read it: {error}")
            continue
        live = next((r for r in table.get("Routes", []) if r.get("DestinationCidrBlock") == route["destinationCidr"]),
                    None)
        if live is not None and route_target(live) == peering_id:
            rollback.attempt(what, ec2.delete_route, RouteTableId=route["routeTableId"],
                             DestinationCidrBlock=route["destinationCidr"])


def restore_dns_resolution(ec2: EC2Client, state: dict[str, Any], rollback: Rollback) -> None:
    """Only a reused peering needs it: one this execution created is deleted next."""
    reused = state["plan"]["peering"]
    if reused is None or reused["dnsResolution"]:
        return
    try:
        peering = peering_facts(describe_peering(ec2, reused["peeringConnectionId"]))
    except Exception:  # noqa: BLE001 - a peering that is gone has no option to restore
        return
    side: PeeringSide = reused["databaseSide"]
    if not peering[side]["allowDnsResolutionFromRemoteVpc"]:
        return
    options = "RequesterPeeringConnectionOptions" if side == "requester" else "AccepterPeeringConnectionOptions"
    rollback.attempt(
        f"DNS resolution option turned back off on {reused['peeringConnectionId']} ({side} side)",
        ec2.modify_vpc_peering_connection_options,
        VpcPeeringConnectionId=reused["peeringConnectionId"], **{options: {"AllowDnsResolutionFromRemoteVpc": False}},
    )


def delete_peering(ec2: EC2Client, state: dict[str, Any], rollback: Rollback) -> None:
    for peering_id in created_peerings(ec2, state):
        rollback.attempt(f"peering {peering_id}", ec2.delete_vpc_peering_connection, VpcPeeringConnectionId=peering_id)


def created_peerings(ec2: EC2Client, state: dict[str, Any]) -> list[str]:
    """Live peerings between the two VPCs that this execution created: none when one was reused."""
    facts = state["discovery"]
    if facts["mode"] != "peering" or state["plan"]["peering"] is not None:
        return []
    return [
        peering["peeringConnectionId"]
        for peering in find_peerings(ec2, facts["database"]["vpcId"], facts["nekt"]["vpcId"])
        if peering["tags"].get(CONNECTION_TAG_KEY) == _connection_id(state)
    ]


def connection_peering_id(ec2: EC2Client, state: dict[str, Any]) -> str | None:
    """The peering routes may point at: the reused one, else the one this execution created."""
    if state["plan"]["peering"] is not None:
        return str(state["plan"]["peering"]["peeringConnectionId"])
    created = created_peerings(ec2, state)
    return created[0] if created else None


def _connection_id(state: dict[str, Any]) -> str:
    return str(state["discovery"]["request"]["connectionId"])


def owned_by_connection(
    database_ec2: EC2Client, nekt_ec2_factory: Callable[[], Any], request: DisconnectRequest, settings: Settings,
) -> dict[str, Any]:
    """What this product created for a connection, found by its tags, as the compensations take it.

    The peering tagged with the connection id from the database VPC to the Nekt VPC (never another
    one: a reused peering carries no tag of ours and stays), the routes on both sides that point at
    that peering, and the ingress rules tagged with the connection id. Nothing is planned to exist
    before, so each compensation removes what it finds, after checking the tag again."""
    connection_id = request.connection_id
    tagged: list[FilterTypeDef] = [{"Name": f"tag:{CONNECTION_TAG_KEY}", "Values": [connection_id]}]
    described = database_ec2.describe_vpc_peering_connections(Filters=tagged)["VpcPeeringConnections"]
    peerings = [
        facts for facts in map(peering_facts, described)
        if facts["status"] in LIVE_PEERING_STATES and facts["tags"].get(CONNECTION_TAG_KEY) == connection_id
        and (facts["accepter"]["vpcId"], facts["accepter"]["ownerId"]) == (settings.nekt_vpc_id,
                                                                         settings.nekt_account_id)
    ]
    peering = peerings[0] if peerings else None
    routes: list[dict[str, Any]] = []
    if peering is not None:
        sides = [(DATABASE_SIDE, database_ec2, peering["requester"]["vpcId"]),
                 (NEKT_SIDE, nekt_ec2_factory(), settings.nekt_vpc_id)]
        for side, ec2, vpc_id in sides:
            tables = ec2.describe_route_tables(Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "route.vpc-peering-connection-id", "Values": [peering["peeringConnectionId"]]},
            ])["RouteTables"]
            routes += [{"routeTableId": table["RouteTableId"], "destinationCidr": route["DestinationCidrBlock"],
                        "side": side, "exists": False}
                       for table in tables for route in table.get("Routes", [])
                       if route_target(route) == peering["peeringConnectionId"] and "DestinationCidrBlock" in route]
    rules = [rule_facts(rule) | {"groupId": rule["GroupId"]}
             for page in database_ec2.get_paginator("describe_security_group_rules").paginate(Filters=tagged)
             for rule in page["SecurityGroupRules"] if not rule.get("IsEgress")]
    ingress = [{"groupId": rule["groupId"], "port": rule["fromPort"], "cidr": rule["cidr"], "exists": False,
                "ruleId": rule["ruleId"]}
               for rule in rules if rule["tags"].get(CONNECTION_TAG_KEY) == connection_id
               and rule["tags"].get(MANAGED_BY_TAG[0]) == MANAGED_BY_TAG[1]
               and rule["protocol"] == "tcp" and rule["fromPort"] == rule["toPort"] and rule["cidr"]]
    return {
        "discovery": {
            "request": request.to_dict(),
            "settings": settings.to_dict(),
            "mode": "peering" if peering else "public",
            "database": {"region": request.region, "vpcId": peering["requester"]["vpcId"] if peering else None},
            "nekt": {"vpcId": settings.nekt_vpc_id},
        },
        "plan": {"peering": None, "routes": routes, "ingress": ingress},
        "peering": ({"peeringConnectionId": peering["peeringConnectionId"], "status": peering["status"], "polls": 0}
                    if peering else None),
    }
