"""What drifted from a connected connection's plan, by id: the health check's findings, each with what to do
(docs/health.md's drift table says the same; tests/unit/test_docs.py compares them).

A check fails with a named error; the id says which part of the path it found changed. The raise sites that know
the part name it (ConnectError.drifted); the others are named here by their error, and what the registry
recorded at connect time is compared with the database as it is now."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nekt_peering.core.ec2 import describe_peering, peering_facts
from nekt_peering.core.errors import (
    AddressNotFound,
    ConnectedByAnotherPath,
    ConnectError,
    DatabaseNotAvailable,
    DatabaseNotFound,
    NetworkAclDenies,
    PeeringFailed,
    VerificationFailed,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from nekt_peering.core.shapes import ConnectionItem, Facts

CONNECT_AGAIN = "Disconnect the connection, then connect it again: its plan itself has changed."
REPAIR = "Repair the connection (or connect it again with the same input), which puts it back; if it drifts again, " \
         "find who changes it."

DRIFT: dict[str, str] = {
    "route-missing": "A route to the peering is gone from a route table (named in the cause). " + REPAIR,
    "route-blackholed": "A route for the path goes to a peering that is gone or not active. Delete that route, "
                        "then repair the connection.",
    "route-elsewhere": "A route for the path now goes elsewhere (the cause names its target). Remove or change it, "
                       "then repair the connection.",
    "ingress-rule-missing": "The security-group rule that admits Nekt on the database's port was revoked, or "
                            "narrowed so that it no longer admits Nekt. " + REPAIR,
    "peering-gone": "The connection's peering was deleted, rejected or expired. Repair the connection, which "
                    "requests and accepts a new peering and replaces the routes to the gone one.",
    "peering-not-active": "The connection's peering is not active (pending acceptance). " + REPAIR,
    "dns-option-off": "The peering's DNS resolution option, which lets the Nekt VPC resolve the database's name to "
                      "its private address, was turned off. " + REPAIR,
    "network-acl-denies": "A network ACL (named in the cause) now denies the database's port or the replies. Add the "
                          "rule the cause gives, or remove the deny.",
    "database-stopped": "The database is stopped or not available. Start it; the next sweep marks the connection "
                        "healthy again.",
    "database-deleted": "The database is gone. Disconnect the connection (or restore the database).",
    "database-moved-vpc": "The database is now in another VPC. " + CONNECT_AGAIN,
    "database-subnets-changed": "The database is now in subnets whose route tables the connection does not route. "
                                + CONNECT_AGAIN,
    "database-port-changed": "The database now listens on another port. " + CONNECT_AGAIN,
    "database-made-public": "The database was made publicly accessible after it was connected privately. Make it "
                            "private again, or disconnect and connect it on the public path.",
    "database-made-private": "The database, connected on the public path, is no longer publicly accessible. "
                             + CONNECT_AGAIN,
    "resource-gateway-gone": "The resource gateway in the database VPC is gone. " + REPAIR,
    "gateway-rule-missing": "The rule admitting the resource gateway's group on the database's port was revoked. "
                            + REPAIR,
    "resource-endpoint-gone": "The resource endpoint in the Nekt VPC is gone or not available. " + REPAIR,
    "resource-share-gone": "The database's resource configuration, or its share with the Nekt account, was removed: "
                           "the endpoint no longer reaches it. " + REPAIR,
    "probe-dns": "From the Nekt VPC the database's name does not resolve, or resolves outside its VPC. Check the "
                 "DNS option and the database's endpoint.",
    "probe-tcp-timeout": "The probe's TCP connection timed out: a security group, network ACL or route drops it. "
                         "The cause names the address.",
    "probe-tcp-refused": "Nothing listens on the database's port any more.",
    "probe-tcp": "The probe's TCP connection failed (the cause says how).",
    "probe-handshake": "The port answers, but not as the database's engine: check what now listens there.",
    "check-failed": "The check failed in a way no other id names: the cause says what.",
}

# The probe's failed stage (nekt_peering.probe) -> its drift id.
PROBE_STAGES = {"DNS": "probe-dns", "TCP timeout": "probe-tcp-timeout", "TCP refused": "probe-tcp-refused",
                "TCP": "probe-tcp", "handshake": "probe-handshake"}

# A change the plan of a connected connection still has to make -> what drifted.
CHANGE_DRIFT = {"CreateVpcPeeringConnection": "peering-gone", "AcceptVpcPeeringConnection": "peering-not-active",
                "CreateRoute": "route-missing", "ReplaceRoute": "peering-gone",
                "AuthorizeSecurityGroupIngress": "ingress-rule-missing",
                "ModifyVpcPeeringConnectionOptions": "dns-option-off"}

# A named error no raise site qualified -> what drifted.
ERROR_DRIFT: dict[type[ConnectError], str] = {
    DatabaseNotFound: "database-deleted", AddressNotFound: "database-deleted", DatabaseNotAvailable: "database-stopped",
    ConnectedByAnotherPath: "database-made-private", NetworkAclDenies: "network-acl-denies"}

GONE = ("deleted", "deleting", "rejected", "expired", "failed")


def drift_of(error: ConnectError) -> list[str]:
    if error.drift:
        return list(error.drift)
    return [next((drift for kind, drift in ERROR_DRIFT.items() if isinstance(error, kind)), "check-failed")]


def compare_with_record(connection: ConnectionItem | None, facts: Facts, database_ec2: EC2Client) -> None:
    """VerificationFailed naming the drift when the database or the peering is no longer what the connect found:
    the connect's result in the registry against the facts Discover has just read."""
    record: dict[str, Any] = dict(connection or {})
    connected: dict[str, Any] = dict(record.get("result") or {})
    recorded, live = connected.get("database") or {}, facts["database"]
    changed = []
    if recorded.get("vpcId") and recorded["vpcId"] != live["vpcId"]:
        changed.append(("database-moved-vpc", f"the database moved from VPC {recorded['vpcId']} to {live['vpcId']}"))
    if recorded.get("port") and recorded["port"] != live["port"]:
        changed.append(("database-port-changed", f"the database's port changed from {recorded['port']} to "
                                                 f"{live['port']}"))
    tables = {table["routeTableId"] for table in live["routeTables"]}
    routed = {route["routeTableId"] for route in connected.get("routes") or [] if route.get("side") == "database"}
    if not changed and routed and not routed & tables:
        changed.append(("database-subnets-changed", f"the database's subnets now use route tables {sorted(tables)}, "
                                                    f"not {sorted(routed)} that the connection routes"))
    requested_mode = (record.get("request") or {}).get("mode", "auto")
    if live["publiclyAccessible"] and facts["mode"] != "public" and requested_mode == "auto":
        changed.append(("database-made-public", "the database is now publicly accessible; `auto` connected it "
                                                f"privately ({facts['mode']}) because it was not"))
    peering_id = connected.get("peeringConnectionId")
    if peering_id and facts["mode"] == "peering":
        try:
            status = peering_facts(describe_peering(database_ec2, peering_id))["status"]
        except PeeringFailed:  # AWS has forgotten it
            status = "deleted"
        if status in GONE:
            changed.append(("peering-gone", f"the connection's peering {peering_id} is {status}"))
    if changed:
        raise VerificationFailed(
            "; ".join(what for _, what in changed) + ". " + " ".join(DRIFT[drift] for drift, _ in changed[:1])
        ).drifted(*(drift for drift, _ in changed))
