"""Reading (and, for tests, bending) the emulated accounts' state."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.handlers import BUILTIN_HANDLERS
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber
from moto.ec2.models import ec2_backends

from emulator.strict.peerings import PINNED
from emulator.topology import account_session


def snapshot(places: list[tuple[str, str]]) -> dict[str, Any]:
    """What a connection can change, per (account, region): live peerings with their options and
    tags, every route of every route table, every security-group rule, every network ACL."""
    state: dict[str, Any] = {}
    for account_id, region in places:
        ec2 = account_session(account_id, region).client("ec2")
        peerings = {
            pcx["VpcPeeringConnectionId"]: {
                "status": pcx["Status"]["Code"],
                "requester": pcx["RequesterVpcInfo"].get("PeeringOptions"),
                "accepter": pcx["AccepterVpcInfo"].get("PeeringOptions"),
                "tags": sorted((t["Key"], t["Value"]) for t in pcx.get("Tags", [])),
            }
            for pcx in ec2.describe_vpc_peering_connections()["VpcPeeringConnections"]
            if pcx["Status"]["Code"] not in ("deleting", "deleted", "rejected", "failed", "expired")
        }
        routes = {
            rt["RouteTableId"]: sorted(
                (r.get("DestinationCidrBlock", ""), str(_target(r)), r.get("State", "")) for r in rt["Routes"]
            )
            for rt in ec2.describe_route_tables()["RouteTables"]
        }
        rules = sorted(
            (r["GroupId"], r["IsEgress"], r["IpProtocol"], r.get("FromPort"), r.get("ToPort"),
             r.get("CidrIpv4", ""), r.get("ReferencedGroupInfo", {}).get("GroupId", ""), r.get("Description", ""))
            for r in ec2.describe_security_group_rules()["SecurityGroupRules"]
        )
        # The workflow never changes a network ACL: every entry and association is in the snapshot.
        acls = {
            acl["NetworkAclId"]: {
                "subnets": sorted(a["SubnetId"] for a in acl.get("Associations", [])),
                "entries": sorted((e["RuleNumber"], e["Egress"], e["Protocol"], e["RuleAction"], e.get("CidrBlock", ""),
                                   str(e.get("PortRange", ""))) for e in acl.get("Entries", [])),
            }
            for acl in ec2.describe_network_acls()["NetworkAcls"]
        }
        session = account_session(account_id, region)
        lattice, ram = session.client("vpc-lattice"), session.client("ram")
        # The resource-endpoint path's: security groups, resource endpoints, gateways, configurations, shares.
        resource_path = {
            "groups": sorted((g["GroupId"], g["GroupName"]) for g in ec2.describe_security_groups()["SecurityGroups"]),
            "endpoints": sorted(e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
                                if e["State"] not in ("Deleted", "deleted")),
            "gateways": sorted(g["id"] for g in lattice.list_resource_gateways()["items"]),
            "configurations": sorted(c["id"] for c in lattice.list_resource_configurations()["items"]),
            "shares": sorted(s["resourceShareArn"] for s in ram.get_resource_shares(resourceOwner="SELF")[
                "resourceShares"] if s["status"] not in ("DELETED", "DELETING")),
        }
        state[f"{account_id}/{region}"] = {"peerings": peerings, "routes": routes, "rules": rules,
                                           "networkAcls": acls, "resourcePath": resource_path}
    return state


def _target(route: Mapping[str, Any]) -> str:
    for key in ("VpcPeeringConnectionId", "GatewayId", "TransitGatewayId", "NatGatewayId"):
        if route.get(key):
            return str(route[key])
    return ""


def set_peering_status(account_id: str, region: str, peering_id: str, code: str, message: str = "") -> None:
    """Put a peering in a state AWS could report (a slow or failed lifecycle). The strict layer's
    lifecycle (emulator.strict.peerings) keeps it there until the next accept or delete."""
    pcx = ec2_backends[account_id][region].vpc_pcxs[peering_id]
    pcx._status.code = code
    pcx._status.message = message or code
    setattr(pcx, PINNED, True)


def wait_for_peering(ec2: Any, peering_id: str, *statuses: str, describes: int = 20) -> str:
    """Describe the peering, as a person refreshing the console does, until it shows one of
    `statuses` (AWS takes a few describes, and may not show a new one at first)."""
    status = "not visible"
    for _ in range(describes):
        try:
            found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])
        except ClientError as error:
            if not error.response["Error"]["Code"].endswith(".NotFound"):
                raise
            continue
        status = found["VpcPeeringConnections"][0]["Status"]["Code"]
        if status in statuses:
            return str(status)
    raise TimeoutError(f"{peering_id} is {status}, not {' or '.join(statuses)}, after {describes} describes")


def establish_peering(requester_ec2: Any, accepter_ec2: Any, **request: Any) -> str:
    """A peering made by hand: requested, accepted once AWS shows it pending-acceptance to the
    accepter, and active. `request`: CreateVpcPeeringConnection's arguments."""
    peering_id = str(requester_ec2.create_vpc_peering_connection(**request)["VpcPeeringConnection"][
        "VpcPeeringConnectionId"])
    wait_for_peering(requester_ec2, peering_id, "pending-acceptance")
    wait_for_peering(accepter_ec2, peering_id, "pending-acceptance")
    accepter_ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    wait_for_peering(requester_ec2, peering_id, "active")
    return peering_id


MUTATING_PREFIXES = ("Create", "Accept", "Authorize", "Modify", "Delete", "Revoke", "Replace", "Associate",
                     "Disassociate", "Reject", "Attach", "Detach")
Intercept = Callable[[str, str], "tuple[str, int] | None"]


def is_mutating(operation: str) -> bool:
    return operation.startswith(MUTATING_PREFIXES)


@contextmanager
def aws_calls(intercept: Intercept | None = None) -> Iterator[Counter[tuple[str, str]]]:
    """Count the AWS API calls of every session created inside the block, by (service, operation).

    `intercept(service, operation)` may answer an HTTP attempt with an error instead of moto:
    it returns (error code, HTTP status) or None. Retries are attempts too, so a throttled call
    that botocore retries is asked again.
    """
    counted: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()

    def count(event_name: str, **kwargs: Any) -> None:
        service, operation = event_name.split(".", 2)[1:]
        with lock:
            counted[(service, operation)] += 1

    def answer(event_name: str, request: Any, **kwargs: Any) -> Any:
        service, operation = event_name.split(".", 2)[1:]
        verdict = intercept(service, operation) if intercept else None
        if verdict is None:
            return botocore_stubber(event_name=event_name, request=request, **kwargs)
        code, status = verdict
        if "json" in str(request.headers.get("Content-Type", "")):  # Step Functions, STS... speak JSON
            body = json.dumps({"__type": code, "message": f"injected {code}"})
        else:
            body = (f"<Response><Errors><Error><Code>{code}</Code><Message>injected {code}</Message></Error>"
                    "</Errors><RequestID>injected</RequestID></Response>")
        return AWSResponse(request.url, status, {}, MockRawResponse(body))  # type: ignore[arg-type]

    # botocore runs every before-send handler, so the injected answer takes moto's place: a
    # refused or throttled call must not also be carried out.
    moto_position = BUILTIN_HANDLERS.index(("before-send", botocore_stubber))
    BUILTIN_HANDLERS[moto_position] = ("before-send", answer)
    BUILTIN_HANDLERS.insert(0, ("before-call", count))
    try:
        yield counted
    finally:
        BUILTIN_HANDLERS.remove(("before-call", count))
        BUILTIN_HANDLERS[BUILTIN_HANDLERS.index(("before-send", answer))] = ("before-send", botocore_stubber)
