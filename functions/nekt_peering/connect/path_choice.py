"""Which path a connect takes: the one requested, `auto`'s choice, or the path a connected
connection already relies on (a connection changes path only by a disconnect, then a connect).

`auto`'s rule, in order (the plan's `modeReason` says which applied):
1. a publicly accessible database: the public path (its security group admits Nekt's public IP);
2. a private one: peering, unless peering cannot be made (the CIDRs overlap, a Nekt or database route
   conflicts, a peering or route quota is reached); then the resource-endpoint path when the database is in
   the Nekt VPC's Region; in another Region, peering's own refusal stands, saying why the other path cannot help."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from nekt_peering.core.errors import (
    CidrOverlap,
    ConnectedByAnotherPath,
    ConnectError,
    InvalidInput,
    PlanChanged,
    QuotaExceeded,
    RouteConflict,
)
from nekt_peering.peering.plan import plan_peering
from nekt_peering.registry.bookkeeping import network_of
from nekt_peering.resource_endpoint.plan import other_region_reason, same_region

if TYPE_CHECKING:

    from nekt_peering.core.shapes import ConnectionItem, DatabaseFacts, Facts, Mode, NektFacts


def connected_path(connection: ConnectionItem | None) -> Mode | None:
    """The path a connection relies on now, by its registry item: None when it relies on nothing (never
    connected, rolled back, disconnected)."""
    if connection is None or not connection.get("relies"):
        return None
    return connection.get("mode")


def refuse_moved(connection: ConnectionItem | None, facts: Facts) -> None:
    """PlanChanged when a connected connection's database is no longer in the network its item records: a run
    would plan a path to where it is now, and what the connection relies on in the old network would stay."""
    if connection is None or connected_path(connection) is None or "network" not in connection:
        return
    network = network_of(facts)
    if network != connection["network"]:
        raise PlanChanged(
            f"connection {connection['connectionId']} relies on the network {connection['network']}, but "
            f"{facts['database']['identifier']} is now in {network}: its plan has changed, and neither a repair "
            "nor a connect moves a connection. Nothing was changed. Connect again: disconnect the connection "
            "(removing what it relies on in the old network), then connect it")


def gone_peering(connection: ConnectionItem | None, facts: Facts) -> str | None:
    """The peering a connected connection relied on when it is gone (deleted, rejected or expired), or None: the
    plan then requests a new one and replaces the connection's routes to the gone one (they are blackholes)."""
    if connection is None or connected_path(connection) != "peering" or facts["mode"] != "peering":
        return None
    recorded = (connection.get("result") or {}).get("peeringConnectionId")
    if not recorded or any(peering["peeringConnectionId"] == recorded for peering in facts["peerings"]):
        return None
    return str(recorded)


def resolve_mode(requested: str, database: DatabaseFacts, connected: Mode | None = None) -> Mode:
    """The path: as requested, or auto's first choice (Discover may then take the resource-endpoint path
    when peering cannot be made: fall_back_from_peering). A connected connection keeps
    its path: changing it would leave the old path's resources in place, counted where no disconnect of
    the connection looks any more."""
    if connected is not None and requested in ("auto", connected):
        if connected == "public" and not database["publiclyAccessible"]:
            raise ConnectedByAnotherPath(
                f"{database['identifier']} is connected by the public path but is no longer publicly accessible. "
                "Nothing was changed. Disconnect the connection, then connect it again: Nekt will reach it "
                "privately")
        return connected
    if connected is not None:
        raise ConnectedByAnotherPath(
            f"the connection is connected by the {connected} path; this connect asks for {requested}. Nothing was "
            f"changed. Disconnect it first, then connect with mode '{requested}' (or connect with mode 'auto' or "
            f"'{connected}' to check and repair the path it has)")
    if requested == "auto":
        return "public" if database["publiclyAccessible"] else "peering"
    if requested == "public" and not database["publiclyAccessible"]:
        raise InvalidInput(
            f"mode is 'public' but {database['identifier']} is not publicly accessible: Nekt can reach it only "
            "through peering or the resource-endpoint path. Use mode 'peering', 'resource-endpoint' or 'auto'"
        )
    return cast("Mode", requested)  # "peering", "public" or "resource-endpoint": the input schema allows no other


def mode_reason(requested: str, database: DatabaseFacts, connected: Mode | None = None) -> str:
    if requested != "auto":
        return "requested"
    if connected is not None:
        return (f"auto: the connection is connected by the {connected} path, which it keeps (a connection changes "
                "path only by a disconnect, then a connect)")
    if database["publiclyAccessible"]:
        return f"auto: {database['identifier']} is publicly accessible, so Nekt reaches it by its public IP"
    return f"auto: {database['identifier']} is private, and peering its VPC with the Nekt VPC is possible"


def peering_refusal(facts: Mapping[str, Any]) -> ConnectError | None:
    """What would stop a peering of this database to the Nekt VPC (Preflight's own checks), or None."""
    try:
        plan_peering(facts)
    except (CidrOverlap, RouteConflict, QuotaExceeded) as refusal:
        return refusal
    return None


def fall_back_from_peering(facts: Facts) -> Mode:
    """`auto` chose peering for a private database: when peering cannot be made and the database is in the Nekt
    VPC's Region, the resource-endpoint path instead; in another Region, peering stays and its refusal, which
    Preflight will raise, says why the other path cannot help. The path taken, also in the facts."""
    database, nekt = facts["database"], cast("NektFacts", facts["nekt"])  # peering: Discover read the Nekt side
    refusal = peering_refusal(facts)
    if refusal is not None and same_region(database, nekt):
        facts["mode"] = "resource-endpoint"
        why = str(refusal).split(". Nothing was changed")[0]  # not its remedy: this path is the remedy
        facts["modeReason"] = (f"auto: {database['identifier']} is private and cannot be peered with the Nekt "
                               f"VPC ({type(refusal).__name__}: {why}); the resource-endpoint path can connect it")
    elif refusal is not None:
        facts["modeReason"] = f"auto: peering. {other_region_reason(database, nekt)}"
    return facts["mode"]
