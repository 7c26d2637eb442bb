"""Stages 4-7: request the peering from the database VPC, follow its status, accept it as Nekt."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code, tag_list
from nekt_peering.core.ec2 import describe_peering, find_peerings, peering_facts
from nekt_peering.core.errors import PeeringFailed, PeeringMismatch, PeeringTimeout
from nekt_peering.core.model import CONNECTION_TAG_KEY, MANAGED_BY_TAG, Settings

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import VpcPeeringConnectionTypeDef

    from nekt_peering.core.shapes import PeeringFacts, PeeringRecord

FAILED_STATES = frozenset({"failed", "rejected", "expired", "deleted", "deleting"})
GONE_STATES = frozenset({"failed", "rejected", "expired", "deleted"})


def connection_tags(database_identifier: str, connection_id: str) -> dict[str, str]:
    return {
        "Name": f"{database_identifier} <> Nekt",
        CONNECTION_TAG_KEY: connection_id,
        MANAGED_BY_TAG[0]: MANAGED_BY_TAG[1],
    }


def request_peering(ec2: EC2Client, facts: dict[str, Any], plan: dict[str, Any]) -> PeeringRecord:
    """Create the request, or take the live one: after a retry or a crash the first attempt's peering exists."""
    database, nekt = facts["database"], facts["nekt"]
    connection_id = facts["request"]["connectionId"]
    live = find_peerings(ec2, database["vpcId"], nekt["vpcId"])
    if live:
        found = live[0]
        created_by_this_connection = plan["peering"] is None and found["tags"].get(CONNECTION_TAG_KEY) == connection_id
        return _peering_record(found["peeringConnectionId"], found["status"], created_by_this_connection, seen=True)
    arguments: dict[str, Any] = {"VpcId": database["vpcId"], "PeerVpcId": nekt["vpcId"]}
    if nekt["accountId"] != database["accountId"]:
        arguments["PeerOwnerId"] = nekt["accountId"]
    if nekt["region"] != database["region"]:
        arguments["PeerRegion"] = nekt["region"]
    tags = connection_tags(database["identifier"], connection_id)
    try:
        created = ec2.create_vpc_peering_connection(
            **arguments, TagSpecifications=[{"ResourceType": "vpc-peering-connection", "Tags": tag_list(tags)}],
        )["VpcPeeringConnection"]
    except ClientError as error:
        # A first attempt's request may exist and not be listed yet (EC2's eventual consistency): AWS
        # refuses a second one for the pair. Look again; it is visible by now, or the error stands.
        if error_code(error) != "VpcPeeringConnectionAlreadyExists":
            raise
        live = find_peerings(ec2, database["vpcId"], nekt["vpcId"])
        if not live:
            raise
        ours = plan["peering"] is None and live[0]["tags"].get(CONNECTION_TAG_KEY) == connection_id
        return _peering_record(live[0]["peeringConnectionId"], live[0]["status"], ours, seen=True)
    return _peering_record(created["VpcPeeringConnectionId"], created["Status"]["Code"], True, seen=False)


def _peering_record(peering_id: str, status: str, created: bool, seen: bool) -> PeeringRecord:
    """`seen`: DescribeVpcPeeringConnections has shown it. AWS is eventually consistent: a peering
    just created may be unknown to it for a moment, which is not the same as gone."""
    return {"peeringConnectionId": peering_id, "status": status, "created": created, "polls": 0, "seen": seen}


def check_status(ec2: EC2Client, peering: PeeringRecord, awaiting: str, max_polls: int) -> PeeringRecord:
    """One poll: the new status, or PeeringFailed/PeeringTimeout so the loop always ends.

    Awaiting `deleted` (a disconnect), a peering AWS no longer shows, or shows in any state that is
    not live, is gone: that is what was awaited."""
    polls = int(peering.get("polls", 0)) + 1
    try:
        described = describe_peering(ec2, peering["peeringConnectionId"])
    except PeeringFailed:
        if awaiting == "deleted":
            return {**peering, "status": "deleted", "polls": polls}
        if peering.get("seen", True):
            raise
        # Just created and not yet visible (EC2's eventual consistency): poll again, within the bound.
        if polls >= max_polls:
            raise PeeringTimeout(
                f"peering {peering['peeringConnectionId']} was created but DescribeVpcPeeringConnections still "
                f"does not show it after {polls} polls. Check it in the VPC console; raise MaxPolls or "
                "PollIntervalSeconds if AWS is slow in this region pair, then run again"
            ) from None
        return {**peering, "polls": polls}
    peering = {**peering, "seen": True}
    status = described["Status"]["Code"]
    if awaiting == "deleted":
        reached = status in GONE_STATES
    elif status in FAILED_STATES:
        raise PeeringFailed(
            f"peering {peering['peeringConnectionId']} is {status!r}: "
            f"{described['Status'].get('Message', 'no message from AWS')}. Check the Nekt VPC id, account and "
            "region settings, then run again"
        )
    else:
        reached = status == "active" or (awaiting == "pending-acceptance" and status == "pending-acceptance")
    if not reached and polls >= max_polls:
        raise PeeringTimeout(
            f"peering {peering['peeringConnectionId']} is still {status!r} after {polls} polls, waiting for "
            f"{awaiting!r}. Check it in the VPC console; raise MaxPolls or PollIntervalSeconds if AWS is slow "
            "in this region pair, then run again"
        )
    return {**peering, "status": status, "polls": polls}


def accept_peering(nekt_ec2: EC2Client, facts: dict[str, Any], peering: PeeringRecord) -> PeeringRecord:
    """Accept in the Nekt account only the request from the discovered database VPC, and name it there."""
    database, nekt = facts["database"], facts["nekt"]
    try:
        described = describe_peering(nekt_ec2, peering["peeringConnectionId"])
    except PeeringFailed:
        return _not_yet_visible_to_nekt(facts, peering)
    status = described["Status"]["Code"]
    accepted = False
    if status == "pending-acceptance":
        check_is_expected_request(peering_facts(described), database, nekt)
        try:
            status = nekt_ec2.accept_vpc_peering_connection(
                VpcPeeringConnectionId=peering["peeringConnectionId"]
            )["VpcPeeringConnection"]["Status"]["Code"]
        except ClientError:
            # A retried invocation may find its first attempt already accepted it.
            status = describe_peering(nekt_ec2, peering["peeringConnectionId"])["Status"]["Code"]
            if status not in ("provisioning", "active"):
                raise
        accepted = True
        if status == "pending-acceptance":
            status = "provisioning"
    elif status in ("provisioning", "active"):
        check_connects_the_two_vpcs(peering_facts(described), database, nekt)
    else:
        raise PeeringFailed(
            f"peering {peering['peeringConnectionId']} is {status!r} in the Nekt account; it cannot be accepted. "
            "Run again to request a new one"
        )
    if peering["created"] and nekt["accountId"] != database["accountId"]:
        _name_in_nekt_account(nekt_ec2, described, facts)
    return {**peering, "status": status, "accepted": accepted, "polls": 0}


def _not_yet_visible_to_nekt(facts: dict[str, Any], peering: PeeringRecord) -> PeeringRecord:
    """The database account sees the request; the Nekt account may not yet, more so across Regions
    (EC2's eventual consistency). The workflow polls the request again and comes back, within MaxPolls."""
    polls = peering["polls"]
    if polls >= Settings.from_dict(facts["settings"]).max_polls:
        raise PeeringTimeout(
            f"peering {peering['peeringConnectionId']} is {peering['status']!r} in the database account but the Nekt "
            f"account {facts['nekt']['accountId']} ({facts['nekt']['region']}) still does not see it after {polls} "
            "polls. Check NektAccountId and NektRegion; raise MaxPolls or PollIntervalSeconds if AWS is slow in "
            "this region pair, then run again"
        )
    return {**peering, "status": "pending-acceptance", "accepted": False}


def check_is_expected_request(
    peering: PeeringFacts, database: dict[str, Any], nekt: dict[str, Any]
) -> None:
    requester, accepter = peering["requester"], peering["accepter"]
    expected = {
        "requester VPC": (requester["vpcId"], database["vpcId"]),
        "requester account": (requester["ownerId"], database["accountId"]),
        "accepter VPC": (accepter["vpcId"], nekt["vpcId"]),
        "accepter account": (accepter["ownerId"], nekt["accountId"]),
        "requester region": (requester["region"], database["region"]),
        "accepter region": (accepter["region"], nekt["region"]),
    }
    wrong = [f"{what} is {actual}, expected {wanted}" for what, (actual, wanted) in expected.items()
             if actual != wanted]
    if requester["cidr"] not in database["cidrs"]:
        wrong.append(f"requester CIDR is {requester['cidr']}, not one of {', '.join(database['cidrs'])}")
    if wrong:
        raise PeeringMismatch(
            f"peering {peering['peeringConnectionId']} was not accepted: {'; '.join(wrong)}. "
            "Only the request from the discovered database VPC is ever accepted"
        )


def check_connects_the_two_vpcs(
    peering: PeeringFacts, database: dict[str, Any], nekt: dict[str, Any]
) -> None:
    """An accepted peering taken over (a retry, or a reused one, in either direction) joins exactly the
    database VPC and the Nekt VPC, or the routes would lead elsewhere."""
    ends = {(side["vpcId"], side["ownerId"]) for side in (peering["requester"], peering["accepter"])}
    wanted = {(database["vpcId"], database["accountId"]), (nekt["vpcId"], nekt["accountId"])}
    if ends != wanted:
        found = " and ".join(f"{vpc} ({owner})" for vpc, owner in sorted(ends, key=str))
        raise PeeringMismatch(
            f"peering {peering['peeringConnectionId']} joins {found}, not the database VPC {database['vpcId']} "
            f"({database['accountId']}) and the Nekt VPC {nekt['vpcId']} ({nekt['accountId']}): it is not used. "
            "Start the connection again from the state machine"
        )


def _name_in_nekt_account(nekt_ec2: EC2Client, described: VpcPeeringConnectionTypeDef, facts: dict[str, Any]
                          ) -> None:
    """Tags are per account: the guide names the peering on the Nekt side too (in another account; in the
    same account the request's tags are already there)."""
    tags = connection_tags(facts["database"]["identifier"], facts["request"]["connectionId"])
    present = {tag["Key"]: tag["Value"] for tag in described.get("Tags", [])}
    missing = {key: value for key, value in tags.items() if present.get(key) != value}
    if missing:
        nekt_ec2.create_tags(Resources=[described["VpcPeeringConnectionId"]], Tags=tag_list(missing))
