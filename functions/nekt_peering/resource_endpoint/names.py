"""The resource-endpoint path's names, tags and states: what every stage of the path and its
compensations look for, so each finds what another made."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from nekt_peering.core.errors import InvalidInput, ResourcePathTimeout
from nekt_peering.core.model import CONNECTION_TAG_KEY, MANAGED_BY_TAG, Settings

if TYPE_CHECKING:

    from nekt_peering.core.shapes import PlannedResourcePath, TlsAdvice

GATEWAY_READY = "ACTIVE"
GATEWAY_UNUSABLE = frozenset({"DELETE_IN_PROGRESS", "CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED"})
CONFIGURATION_READY = "ACTIVE"
CONFIGURATION_UNUSABLE = frozenset({"CREATE_FAILED", "DELETE_IN_PROGRESS", "DELETE_FAILED", "UPDATE_FAILED", "gone"})
SHARE_GONE = frozenset({"FAILED", "DELETING", "DELETED"})
ENDPOINT_READY = "Available"
ENDPOINT_FAILED = frozenset({"Failed", "Rejected", "Expired"})
ENDPOINT_GONE = frozenset({"Deleted"})
GATEWAY_RULE_DESCRIPTION = "Nekt resource gateway"
ENDPOINT_RULE_DESCRIPTION = "Nekt private subnets"


# --- names and tags ----------------------------------------------------------------------------------


def gateway_name(vpc_id: str) -> str:
    """The product's resource gateway of a VPC: one per VPC, whichever connection made it."""
    return f"nekt-{vpc_id}"


def gateway_group_name(vpc_id: str) -> str:
    return f"nekt-resource-gateway-{vpc_id}"


def endpoint_group_name(connection_id: str) -> str:
    return f"nekt-endpoint-{connection_id}"


def share_name(connection_id: str) -> str:
    return f"nekt-{connection_id}"


def configuration_name(connection_id: str) -> str:
    """A VPC Lattice name (3-40 of a-z, 0-9 and single inner hyphens, unique in the account) that only this
    connection id gives: its readable part lowercased and cut, and a hash of the whole id (ids differing
    only in case or `_` get different names)."""
    readable = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", connection_id.lower())).strip("-")[:25].strip("-")
    digest = hashlib.sha256(connection_id.encode()).hexdigest()[:8]
    return "-".join(part for part in ("nekt", readable, digest) if part)


def connection_tags(name: str, connection_id: str) -> dict[str, str]:
    return {"Name": name, CONNECTION_TAG_KEY: connection_id, MANAGED_BY_TAG[0]: MANAGED_BY_TAG[1]}


def ram_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in tags.items()]


def managed(tags: Mapping[str, str]) -> bool:
    return tags.get(MANAGED_BY_TAG[0]) == MANAGED_BY_TAG[1]


def max_polls_of(state: Mapping[str, Any]) -> int:
    return Settings.from_dict(state["discovery"]["settings"]).max_polls


def wait_again(state: Mapping[str, Any], stage: str, record: Any, waiting_for: str, what: str, where: str,
               waited_before: str) -> Any:
    """The stage's record, asking the workflow to run it again after a wait, at most MaxPolls times for each thing
    it waits for (`waiting_for`; its earlier record's, `waited_before` when that record names none): else
    ResourcePathTimeout naming `what` and `where` to look."""
    previous: Mapping[str, Any] = state.get(stage) or {}
    polls = (record["polls"] if previous.get("waitingFor", waited_before) == waiting_for else 0) + 1
    if polls > max_polls_of(state):
        raise ResourcePathTimeout(f"still waiting for {what} after {polls - 1} polls. Look at it in {where}; raise "
                                  "MaxPolls or PollIntervalSeconds if AWS is slow, then start again")
    return record | {"waiting": True, "waitingFor": waiting_for, "polls": polls}


def planned_path(state: Mapping[str, Any]) -> PlannedResourcePath:
    path = state["plan"].get("resourcePath")
    if not path:
        raise InvalidInput("plan.resourcePath is missing: this stage is for the resource-endpoint path; start the "
                           "connection from the state machine")
    return path  # type: ignore[no-any-return]


def lattice_tags(lattice: Any, arn: str) -> dict[str, str]:
    return dict(lattice.list_tags_for_resource(resourceArn=arn).get("tags") or {})


def all_pages(operation: Any, key: str, **arguments: Any) -> Iterator[dict[str, Any]]:
    """Every item of a VPC Lattice or RAM listing (nextToken pages)."""
    token = None
    while True:
        page = operation(**arguments, **({"nextToken": token} if token else {}))
        yield from page.get(key) or []
        token = page.get("nextToken")
        if not token:
            return


def tls_advice(chosen: Mapping[str, Any] | None) -> TlsAdvice:
    """How a client that verifies the server's certificate connects: by the database's own name where the Nekt
    VPC resolves it to the endpoint (private DNS), else by the endpoint's name with the issuer checked only."""
    if chosen is None:
        return {"hostname": None, "verifyFull": False, "advice": "no name yet"}
    if chosen.get("privateDnsName"):
        return {"hostname": chosen["privateDnsName"], "verifyFull": True, "advice": (
            f"{chosen['privateDnsName']} is the database's own name, which its certificate covers; in the Nekt VPC "
            "it resolves to the resource endpoint. sslmode=verify-full (PostgreSQL) and ssl-mode=VERIFY_IDENTITY "
            "(MySQL) work, with the RDS certificate bundle")}
    own = chosen.get("domainName") or "the database's own name"
    return {"hostname": chosen["dnsName"], "verifyFull": False, "advice": (
        f"{chosen['dnsName']} is the resource endpoint's name, which the database's certificate (for {own}) does not "
        "cover: use sslmode=verify-ca (PostgreSQL) or ssl-mode=VERIFY_CA (MySQL) with the RDS certificate bundle, "
        "which checks the certificate's issuer, not its name. To connect by the database's own name (verify-full), "
        "turn on DNS hostnames and DNS support in the Nekt VPC, then connect again")}


def is_ip_address(endpoint: str) -> bool:
    """A database on EC2 or given by address has its private IPv4 address as endpoint, not a name."""
    try:
        ipaddress.IPv4Address(endpoint)
    except ValueError:
        return False
    return True
