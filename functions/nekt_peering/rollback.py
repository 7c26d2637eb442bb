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

from nekt_peering import dns
from nekt_peering.aws import error_code
from nekt_peering.discover import LIVE_PEERING_STATES, find_peerings, peering_facts, route_target, rule_facts
from nekt_peering.errors import PeeringFailed, cause_message
from nekt_peering.ingress import find_rule
from nekt_peering.model import CONNECTION_TAG_KEY, MANAGED_BY_TAG, DisconnectRequest, Settings
from nekt_peering.peering import describe_peering
from nekt_peering.preflight import DATABASE_SIDE, NEKT_SIDE

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import FilterTypeDef

    from nekt_peering.shapes import PeeringFacts, PeeringSide, RollbackProgress


class Rollback:
    """The compensation so far: carried from step to step in the execution's `rollback`."""

    def __init__(self, state: dict[str, Any]) -> None:
        previous = state.get("rollback") or {}
        self.undone: list[str] = list(previous.get("undone", []))
        self.left: list[str] = list(previous.get("left", []))
        self.error = state.get("error") or {}
        # A step may have to wait for AWS to delete something: the workflow waits and runs it again, each
        # step at most MaxPolls times (a step after one that did not wait starts counting anew).
        self.step_polls = int(previous.get("stepPolls", 0)) if previous.get("waiting") else 0
        self.waiting = False

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

    def wait_or_leave(self, waiting_for: list[str], max_polls: int, why: str) -> None:
        """Ask the workflow to wait and run the step again while AWS is not done with `waiting_for`, at most
        `max_polls` times; then record each as left behind, `why`."""
        if not waiting_for:
            return
        if self.step_polls + 1 < max_polls:
            self.waiting = True
            self.step_polls += 1
            return
        for what in waiting_for:
            self.could_not(what, why)

    def result(self) -> RollbackProgress:
        return self._outcome() | {"waiting": self.waiting, "stepPolls": self.step_polls}

    def _outcome(self) -> RollbackProgress:
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
        # The connection it was created for: this one, or (a disconnect) the one whose rule it shared.
        owner = planned.get("connectionTag") or _connection_id(state)
        if rule is None or rule["tags"].get(CONNECTION_TAG_KEY) != owner:
            continue  # never created, or an identical rule someone else added: not ours
        rollback.attempt(
            f"ingress rule {rule['ruleId']} (tcp/{planned['port']} from {planned['cidr']}) on {planned['groupId']}",
            ec2.revoke_security_group_ingress, GroupId=planned["groupId"], SecurityGroupRuleIds=[rule["ruleId"]],
        )


def delete_routes(
    database_ec2: EC2Client, nekt_ec2_factory: Callable[[], Any], state: dict[str, Any], rollback: Rollback
) -> None:
    """Whatever the peering's status: a route to a peering that failed, expired or was deleted stays
    in the table as a blackhole, and would make the next connect fail RouteConflict."""
    added = [route for route in state["plan"]["routes"] if not route["exists"]]
    peering_id = connection_peering_id(database_ec2, state)
    if not added or peering_id is None:
        return  # no peering was ever requested: no route can point at one
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


def restore_dns_resolution(ec2: Any, state: dict[str, Any], rollback: Rollback) -> None:
    """Only a reused peering needs it (one this execution created is deleted next), and only when the
    connection needed the option: for a private database the stage never turns it on."""
    reused = state["plan"]["peering"]
    if reused is None or reused["dnsResolution"] or not dns.needed(state["discovery"]):
        return
    side: PeeringSide = reused["databaseSide"]
    what = f"DNS resolution option turned back off on {reused['peeringConnectionId']} ({side} side)"
    try:
        peering = peering_facts(describe_peering(ec2, reused["peeringConnectionId"]))
    except PeeringFailed:
        return  # the peering is gone, and its option with it
    except ClientError as error:  # unreadable is not restored: left behind, by id
        message = error.response["Error"].get("Message", "")
        rollback.could_not(what, f"could not read it: {error_code(error)}: {message}")
        return
    if not peering[side]["allowDnsResolutionFromRemoteVpc"]:
        return
    options = "RequesterPeeringConnectionOptions" if side == "requester" else "AccepterPeeringConnectionOptions"
    rollback.attempt(
        what, ec2.modify_vpc_peering_connection_options,
        VpcPeeringConnectionId=reused["peeringConnectionId"], **{options: {"AllowDnsResolutionFromRemoteVpc": False}},
    )


# AWS deletes a peering only when it is active (either owner) or pending-acceptance (the requester,
# which this product always is); initiating-request and provisioning will get there, so the rollback
# waits for them; failed, rejected and expired ones cannot be deleted and AWS removes them itself.
DELETABLE = frozenset({"active", "pending-acceptance"})
NOT_YET_DELETABLE = frozenset({"initiating-request", "provisioning"})
# A request whose answer was lost may not be visible yet either: look this many times before
# concluding that none was made.
LOST_REQUEST_POLLS = 2


def delete_peering(ec2: Any, state: dict[str, Any], rollback: Rollback) -> None:
    """Delete the peering this execution created, once AWS lets it; `rollback.waiting` asks the
    workflow to wait and run this again, at most MaxPolls times."""
    facts = state["discovery"]
    if facts["mode"] != "peering" or state["plan"]["peering"] is not None:
        return  # nothing requested, or a reused peering: kept
    max_polls = Settings.from_dict(facts["settings"]).max_polls
    known = state.get("peering") or {}
    peerings = _created_peerings(ec2, state)
    if known.get("peeringConnectionId") and known["peeringConnectionId"] not in {p["peeringConnectionId"]
                                                                              for p in peerings}:
        # Not listed as live yet (or any more): by id, and only if it carries this connection's tag.
        peerings += [peering for peering in _described(ec2, known["peeringConnectionId"])
                     if peering["tags"].get(CONNECTION_TAG_KEY) == _peering_owner(state)
                     and peering["requester"]["vpcId"] == facts["database"]["vpcId"]]
    waiting_for: list[str] = []
    for peering in peerings:
        peering_id, status = peering["peeringConnectionId"], peering["status"]
        if status in DELETABLE:
            rollback.attempt(f"peering {peering_id}", ec2.delete_vpc_peering_connection,
                             VpcPeeringConnectionId=peering_id)
        elif status in NOT_YET_DELETABLE:
            waiting_for.append(f"peering {peering_id} ({status})")
    if not peerings:
        if known.get("peeringConnectionId") and not known.get("seen", True):
            waiting_for.append(f"peering {known['peeringConnectionId']} (not visible yet)")
        elif not known and rollback.step_polls < min(LOST_REQUEST_POLLS, max_polls) - 1:
            waiting_for.append("a peering whose request may not be visible yet")
    rollback.wait_or_leave(waiting_for, max_polls, f"AWS does not allow deleting it yet after {max_polls} polls: "
                           "delete it in the VPC console once it is active or pending-acceptance")


def _created_peerings(ec2: Any, state: dict[str, Any]) -> list[PeeringFacts]:
    facts = state["discovery"]
    return [peering for peering in find_peerings(ec2, facts["database"]["vpcId"], facts["nekt"]["vpcId"])
            if peering["tags"].get(CONNECTION_TAG_KEY) == _peering_owner(state)]


def _described(ec2: Any, peering_id: str) -> list[PeeringFacts]:
    try:
        return [peering_facts(describe_peering(ec2, peering_id))]
    except PeeringFailed:
        return []


def created_peerings(ec2: EC2Client, state: dict[str, Any]) -> list[str]:
    """Live peerings between the two VPCs that this execution created: none when one was reused."""
    facts = state["discovery"]
    if facts["mode"] != "peering" or state["plan"]["peering"] is not None:
        return []
    return [peering["peeringConnectionId"] for peering in _created_peerings(ec2, state)]


def connection_peering_id(ec2: Any, state: dict[str, Any]) -> str | None:
    """The peering routes may point at: the reused one, else the one this execution requested
    (known from its answer, in whatever status it is now), else a live one it created."""
    if state["plan"]["peering"] is not None:
        return str(state["plan"]["peering"]["peeringConnectionId"])
    if (state.get("peering") or {}).get("peeringConnectionId"):
        return str(state["peering"]["peeringConnectionId"])
    created = created_peerings(ec2, state)
    return created[0] if created else None


def _connection_id(state: dict[str, Any]) -> str:
    return str(state["discovery"]["request"]["connectionId"])


def _peering_owner(state: dict[str, Any]) -> str:
    """The connection the peering to delete was created for: this one, or (a disconnect) the one whose
    peering this connection was the last to rely on."""
    return str((state.get("peering") or {}).get("connectionTag") or _connection_id(state))


def routes_to(peering: PeeringFacts, database_ec2: Any, nekt_ec2_factory: Callable[[], Any],
               settings: Settings) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = []
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
    return routes


def owned_by_connection(
    database_ec2: EC2Client, nekt_ec2_factory: Callable[[], Any], request: DisconnectRequest, settings: Settings,
) -> dict[str, Any]:
    """What this product created for a connection, found by its tags, as the compensations take it.

    The peering tagged with the connection id from the database VPC to the Nekt VPC, live or, if none is,
    dead but still shown (never another one: a reused peering carries no tag of ours and stays), the
    routes on both sides that point at
    that peering, and the ingress rules tagged with the connection id. Nothing is planned to exist
    before, so each compensation removes what it finds, after checking the tag again."""
    connection_id = request.connection_id
    tagged: list[FilterTypeDef] = [{"Name": f"tag:{CONNECTION_TAG_KEY}", "Values": [connection_id]}]
    described = database_ec2.describe_vpc_peering_connections(Filters=tagged)["VpcPeeringConnections"]
    peerings = [
        facts for facts in map(peering_facts, described)
        if facts["tags"].get(CONNECTION_TAG_KEY) == connection_id
        and (facts["accepter"]["vpcId"], facts["accepter"]["ownerId"]) == (settings.nekt_vpc_id,
                                                                         settings.nekt_account_id)
    ]
    # The live one; else one that died outside the workflow (deleted by Nekt, expired) and that AWS
    # still shows for a while, if routes still point at it: blackholes this product left, which go too.
    live = [facts for facts in peerings if facts["status"] in LIVE_PEERING_STATES]
    peering: PeeringFacts | None = None
    routes: list[dict[str, Any]] = []
    for candidate in live[:1] or peerings:
        routes = routes_to(candidate, database_ec2, nekt_ec2_factory, settings)
        if candidate in live or routes:
            peering = candidate
            break
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
