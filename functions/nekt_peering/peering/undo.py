"""Compensations of the peering path, in reverse order of the connect: the routes, the peering's DNS
option, the peering. Each removes only what the connection created (its tags say so), is safe to run
twice, and records what it could not remove under `left`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code
from nekt_peering.core.compensation import Rollback, connection_id_of
from nekt_peering.core.ec2 import DATABASE_SIDE, NEKT_SIDE, describe_peering, find_peerings, peering_facts, route_target
from nekt_peering.core.errors import PeeringFailed
from nekt_peering.core.model import CONNECTION_TAG_KEY, Settings
from nekt_peering.peering import dns

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from nekt_peering.core.shapes import PeeringFacts, PeeringSide


def delete_routes(
    database_ec2: EC2Client, nekt_ec2_factory: Callable[[], Any], state: dict[str, Any], rollback: Rollback
) -> None:
    """Whatever the peering's status: a route to a peering that failed, expired or was deleted stays
    in the table as a blackhole, and would make the next connect fail RouteConflict. A route a repair replaced
    is deleted too: it cannot be pointed back at its gone peering."""
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


def _peering_owner(state: dict[str, Any]) -> str:
    """The connection the peering to delete was created for: this one, or (a disconnect) the one whose
    peering this connection was the last to rely on."""
    return str((state.get("peering") or {}).get("connectionTag") or connection_id_of(state))


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
