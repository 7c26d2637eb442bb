"""The resource-endpoint path: the database shared with Nekt as a VPC resource (AWS PrivateLink for VPC
resources), and its compensations.

Share the database (the customer's account): the product's resource gateway in the database VPC (one per
VPC, reused by every connection of a database there), the database's security group admitting the
gateway's security group on the database's port, a resource configuration for the database on that
gateway, and a RAM share of it with the Nekt account. Create the resource endpoint (the Nekt account):
accept the share's invitation, the endpoint's security group, and a resource VPC endpoint in Nekt's
private subnets, whose DNS name is the hostname Nekt connects to.

Every step looks before it creates, so each stage is safe to run twice and after a crash half way, and
everything created is tagged with the connection when it is created. A stage that must wait for AWS (a
gateway being created, an invitation not visible yet, an endpoint pending) returns its record with
`waiting` for the workflow to run it again, at most MaxPolls times. docs/aws-fidelity.md ("PrivateLink
for VPC resources") has the sources of the AWS behaviour relied on here.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.aws import error_code, tag_dict, tag_list
from nekt_peering.errors import (
    ChangeRefused,
    InvalidInput,
    NoFreeAddresses,
    ResourceEndpointFailed,
    ResourceGatewayUnavailable,
    ResourcePathTimeout,
    ResourceShareRejected,
)
from nekt_peering.model import CONNECTION_TAG_KEY, MANAGED_BY_TAG, Settings

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import SecurityGroupRuleTypeDef, VpcEndpointTypeDef

    from nekt_peering.rollback import Rollback
    from nekt_peering.shapes import (
        FoundGateway,
        PlannedResourcePath,
        ResourceEndpointRecord,
        ResourcePathRemoval,
        SharedDatabase,
    )

GATEWAY_READY = "ACTIVE"
GATEWAY_UNUSABLE = frozenset({"DELETE_IN_PROGRESS", "CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED"})
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


def _ram_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in tags.items()]


def _managed(tags: Mapping[str, str]) -> bool:
    return tags.get(MANAGED_BY_TAG[0]) == MANAGED_BY_TAG[1]


def _connection_id(state: Mapping[str, Any]) -> str:
    return str(state["discovery"]["request"]["connectionId"])


def _max_polls(state: Mapping[str, Any]) -> int:
    return Settings.from_dict(state["discovery"]["settings"]).max_polls


def _planned(state: Mapping[str, Any]) -> PlannedResourcePath:
    path = state["plan"].get("resourcePath")
    if not path:
        raise InvalidInput("plan.resourcePath is missing: this stage is for the resource-endpoint path; start the "
                           "connection from the state machine")
    return path  # type: ignore[no-any-return]


# --- Share the database (the customer's account) ------------------------------------------------------


def share_database(ec2: EC2Client, lattice: Any, ram: Any, state: Mapping[str, Any]) -> SharedDatabase:
    """The database shared as a resource configuration on the product's resource gateway of its VPC, and
    (another Nekt account) shared with Nekt by RAM. Runs as the stack's own role in the database account."""
    facts, path = state["discovery"], _planned(state)
    connection_id = _connection_id(state)
    previous: Mapping[str, Any] = state.get("sharedDatabase") or {}
    gateway, gateway_created = _gateway(ec2, lattice, facts, path, previous)
    group_id = _gateway_group(gateway)
    record: SharedDatabase = {
        "resourceGatewayId": gateway["resourceGatewayId"], "resourceGatewayArn": gateway["resourceGatewayArn"],
        "gatewayStatus": gateway["status"], "gatewaySecurityGroupId": group_id, "gatewayCreated": gateway_created,
        "ingressRuleId": None, "ingressCreated": False, "resourceConfigurationId": None,
        "resourceConfigurationArn": None, "configurationCreated": False, "resourceShareArn": None,
        "shareCreated": False, "waiting": False, "polls": int(previous.get("polls", 0)),
    }
    if gateway["status"] != GATEWAY_READY:
        polls = record["polls"] + 1
        if polls > _max_polls(state):
            raise ResourcePathTimeout(
                f"resource gateway {gateway['resourceGatewayId']} in {facts['database']['vpcId']} is still "
                f"{gateway['status']} after {polls - 1} polls. Look at it in the VPC console (PrivateLink and "
                "Lattice, Resource gateways); raise MaxPolls or PollIntervalSeconds if AWS is slow, then start again")
        return record | {"waiting": True, "polls": polls}
    rule_id, ingress_created = _admit_gateway(ec2, facts, group_id, connection_id)
    configuration, configuration_created = _configuration(lattice, facts, path, gateway, previous)
    record |= {"ingressRuleId": rule_id, "ingressCreated": ingress_created,
               "resourceConfigurationId": configuration["id"], "resourceConfigurationArn": configuration["arn"],
               "configurationCreated": configuration_created}
    if path["share"]:
        share_arn, share_created = _share(ram, facts, configuration["arn"], previous)
        record |= {"resourceShareArn": share_arn, "shareCreated": share_created}
    return record


def _gateway(ec2: EC2Client, lattice: Any, facts: Mapping[str, Any], path: PlannedResourcePath,
             previous: Mapping[str, Any]) -> tuple[FoundGateway, bool]:
    """The gateway to share through, and whether this connection created it: the plan's (reused), else the
    one an earlier run of the stage found or made, else the product's of the VPC, else a new one."""
    connection_id, vpc_id = facts["request"]["connectionId"], facts["database"]["vpcId"]
    planned_id = path["gateway"]["resourceGatewayId"]
    known_id = planned_id or previous.get("resourceGatewayId")
    if known_id:
        gateway = _usable(get_gateway(lattice, known_id), known_id, vpc_id)
        return gateway, planned_id is None and bool(previous.get("gatewayCreated"))
    found = find_product_gateway(lattice, vpc_id) or _create_gateway(ec2, lattice, facts, path)
    # The plan reused none: a gateway tagged with this connection was created by this execution (a
    # retried or crashed run of the stage finds it here) and goes with a rollback.
    return _usable(found, found["resourceGatewayId"], vpc_id), found["connectionTag"] == connection_id


def _usable(gateway: FoundGateway | None, gateway_id: str, vpc_id: str) -> FoundGateway:
    if gateway is None or gateway["status"] in GATEWAY_UNUSABLE:
        status = "gone" if gateway is None else gateway["status"]
        raise ResourceGatewayUnavailable(
            f"resource gateway {gateway_id} in {vpc_id} is {status}: nothing can be shared through it. Start the "
            "connection again (once it is gone, if it is being deleted): the connection then creates a new one")
    return gateway


def get_gateway(lattice: Any, gateway_id: str) -> FoundGateway | None:
    """A resource gateway by id (None: gone), with its tags."""
    try:
        gateway = lattice.get_resource_gateway(resourceGatewayIdentifier=gateway_id)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise
    return _found_gateway(lattice, gateway)


def find_product_gateway(lattice: Any, vpc_id: str) -> FoundGateway | None:
    """This product's resource gateway of the VPC (by its name, `nekt-<vpc-id>`, which is unique in the
    account), or None. A gateway of that name that this product did not tag is refused: it cannot be
    created beside it, and it is not the product's to use."""
    for gateway in _pages(lattice.list_resource_gateways, "items"):
        if gateway.get("name") != gateway_name(vpc_id) or gateway.get("vpcIdentifier") != vpc_id:
            continue
        found = _found_gateway(lattice, gateway)
        if found is not None and found["connectionTag"] is None:
            raise ResourceGatewayUnavailable(
                f"a resource gateway named {gateway_name(vpc_id)} ({found['resourceGatewayId']}) in {vpc_id} was "
                f"not made by this product (no {MANAGED_BY_TAG[0]} and {CONNECTION_TAG_KEY} tags). Rename or delete "
                "it, then start again")
        return found
    return None


def _found_gateway(lattice: Any, gateway: Mapping[str, Any]) -> FoundGateway | None:
    """The gateway as the facts hold it; `connectionTag` None: not this product's."""
    try:
        tags = _lattice_tags(lattice, gateway["arn"])
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None  # deleted between the list and this look
        raise
    return {"resourceGatewayId": gateway["id"], "resourceGatewayArn": gateway["arn"], "status": gateway["status"],
            "securityGroupIds": list(gateway.get("securityGroupIds") or []),
            "subnetIds": list(gateway.get("subnetIds") or []),
            "connectionTag": tags.get(CONNECTION_TAG_KEY) if _managed(tags) else None}


def _lattice_tags(lattice: Any, arn: str) -> dict[str, str]:
    return dict(lattice.list_tags_for_resource(resourceArn=arn).get("tags") or {})


def _create_gateway(ec2: EC2Client, lattice: Any, facts: Mapping[str, Any], path: PlannedResourcePath) -> FoundGateway:
    connection_id, vpc_id = facts["request"]["connectionId"], facts["database"]["vpcId"]
    group_id = _gateway_security_group(ec2, vpc_id, connection_id)
    name = gateway_name(vpc_id)
    try:
        created = lattice.create_resource_gateway(
            name=name, vpcIdentifier=vpc_id, subnetIds=path["gateway"]["subnetIds"], securityGroupIds=[group_id],
            ipAddressType="IPV4", tags=connection_tags(name, connection_id))
    except ClientError as error:
        # A first attempt's gateway, not listed a moment ago: the name is taken. Look again.
        found = find_product_gateway(lattice, vpc_id) if error_code(error) == "ConflictException" else None
        if found is None:
            raise
        return found
    return {"resourceGatewayId": created["id"], "resourceGatewayArn": created["arn"], "status": created["status"],
            "securityGroupIds": list(created.get("securityGroupIds") or [group_id]),
            "subnetIds": list(created.get("subnetIds") or []), "connectionTag": connection_id}


def _gateway_security_group(ec2: EC2Client, vpc_id: str, connection_id: str) -> str:
    """The gateway's own security group: its rules control the traffic from the gateway to the databases
    it shares. The default egress rule (all traffic out) is kept: what reaches a database is decided by
    the database's own group, which admits this group on the database's port only."""
    name = gateway_group_name(vpc_id)
    found = _group_named(ec2, vpc_id, name)
    if found:
        return found
    tags = tag_list(connection_tags(name, connection_id))
    try:
        return ec2.create_security_group(
            GroupName=name, VpcId=vpc_id,
            Description="Nekt resource gateway: traffic from the gateway to the databases shared with Nekt",
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
        )["GroupId"]
    except ClientError as error:
        found = _group_named(ec2, vpc_id, name) if error_code(error) == "InvalidGroup.Duplicate" else None
        if not found:
            raise
        return found


def _group_named(ec2: EC2Client, vpc_id: str, name: str) -> str | None:
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                   {"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    return next((group["GroupId"] for group in groups if group["GroupName"] == name), None)


def _gateway_group(gateway: FoundGateway) -> str:
    if not gateway["securityGroupIds"]:
        raise ResourceGatewayUnavailable(f"resource gateway {gateway['resourceGatewayId']} has no security group: "
                                         "the database's group cannot admit it. Delete it, then start again")
    return gateway["securityGroupIds"][0]


def _admit_gateway(ec2: EC2Client, facts: Mapping[str, Any], gateway_group: str,
                   connection_id: str) -> tuple[str, bool]:
    """The database's security group admits the gateway's group (a group reference, not a CIDR: the
    database sees the gateway's addresses) on TCP at the database's port. An identical rule is reused.
    Created: tagged with this connection and not among the rules Discover read before any change."""
    database = facts["database"]
    group_id, port = database["securityGroupId"], database["port"]
    if type(port) is not int or not 0 < port < 65536:
        raise ChangeRefused(f"the database's port {port!r} is not a TCP port: no ingress rule was added")
    existing = find_group_rule(ec2, group_id, port, gateway_group)
    if existing is None:
        tags = connection_tags(f"Nekt {connection_id}", connection_id)
        try:
            created = ec2.authorize_security_group_ingress(
                GroupId=group_id,
                IpPermissions=[{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "UserIdGroupPairs": [
                    {"GroupId": gateway_group, "Description": GATEWAY_RULE_DESCRIPTION}]}],
                TagSpecifications=[{"ResourceType": "security-group-rule", "Tags": tag_list(tags)}],
            )
        except ClientError as error:
            existing = find_group_rule(ec2, group_id, port, gateway_group) if error_code(
                error) == "InvalidPermission.Duplicate" else None
            if existing is None:
                raise
        else:
            return created["SecurityGroupRules"][0]["SecurityGroupRuleId"], True
    before = {rule["ruleId"] for rule in database.get("securityGroupRules") or []}
    ours = tag_dict(existing.get("Tags")).get(CONNECTION_TAG_KEY) == connection_id
    return existing["SecurityGroupRuleId"], ours and existing["SecurityGroupRuleId"] not in before


def find_group_rule(ec2: EC2Client, group_id: str, port: int, source_group: str) -> SecurityGroupRuleTypeDef | None:
    """The ingress rule of `group_id` admitting exactly TCP `port` from the security group `source_group`."""
    for rule in _group_rules(ec2, group_id):
        if (not rule.get("IsEgress") and rule.get("IpProtocol") == "tcp" and rule.get("FromPort") == port
                and rule.get("ToPort") == port and rule.get("ReferencedGroupInfo", {}).get("GroupId") == source_group):
            return rule
    return None


def _group_rules(ec2: EC2Client, group_id: str) -> Iterator[SecurityGroupRuleTypeDef]:
    paginator = ec2.get_paginator("describe_security_group_rules")
    for page in paginator.paginate(Filters=[{"Name": "group-id", "Values": [group_id]}]):
        yield from page["SecurityGroupRules"]


def _configuration(lattice: Any, facts: Mapping[str, Any], path: PlannedResourcePath, gateway: FoundGateway,
                   previous: Mapping[str, Any]) -> tuple[dict[str, str], bool]:
    """This connection's resource configuration (found by its name, and its tag), else a new one: type
    ARN for an Aurora cluster (the endpoint follows fail-overs), else SINGLE on the endpoint's DNS name and
    port. Created: by this stage (this run or an earlier one of this execution that recorded it)."""
    connection_id = facts["request"]["connectionId"]
    name = configuration_name(connection_id)
    found = find_configuration(lattice, connection_id)
    if found is not None:
        return found, bool(previous.get("configurationCreated"))
    arguments = _configuration_arguments(facts, path)
    try:
        created = lattice.create_resource_configuration(
            name=name, resourceGatewayIdentifier=gateway["resourceGatewayId"],
            # Exposed to the resource endpoints it is shared with only, never through a shared service network.
            allowAssociationToShareableServiceNetwork=False, tags=connection_tags(name, connection_id), **arguments)
    except ClientError as error:
        found = find_configuration(lattice, connection_id) if error_code(error) == "ConflictException" else None
        if found is None:
            raise
        return found, bool(previous.get("configurationCreated"))
    return {"id": created["id"], "arn": created["arn"]}, True


def _configuration_arguments(facts: Mapping[str, Any], path: PlannedResourcePath) -> dict[str, Any]:
    """The plan's definition, checked against the facts: only this database, on its own port, is shared."""
    planned, database = path["configuration"], facts["database"]
    database_arn = (facts.get("resourcePath") or {}).get("databaseArn")
    if planned["type"] == "ARN":
        if not planned["arn"] or planned["arn"] != database_arn:
            raise ChangeRefused(f"refused to share {planned['arn']!r}: the database's ARN is {database_arn!r}. A "
                                "connection shares its own database only. Nothing was shared: start the connection "
                                "again from the state machine")
        return {"type": "ARN", "resourceConfigurationDefinition": {"arnResource": {"arn": planned["arn"]}}}
    if planned["type"] != "SINGLE" or planned["domainName"] != database["endpoint"] or planned["port"] != database[
            "port"] or not planned["domainName"]:
        raise ChangeRefused(f"refused to share {planned.get('domainName')!r} port {planned.get('port')!r} "
                            f"({planned.get('type')!r}): the database's endpoint is {database['endpoint']!r}, port "
                            f"{database['port']!r}. A connection shares its own database only, on its port. Nothing "
                            "was shared: start the connection again from the state machine")
    return {"type": "SINGLE", "portRanges": [str(planned["port"])], "protocol": "TCP",
            "resourceConfigurationDefinition": {"dnsResource": {"domainName": planned["domainName"],
                                                                "ipAddressType": "IPV4"}}}


def find_configuration(lattice: Any, connection_id: str) -> dict[str, str] | None:
    """This connection's resource configuration: its name, and its tag (a configuration of that name that
    is not tagged with the connection is not this product's, and is left alone)."""
    name = configuration_name(connection_id)
    for item in _pages(lattice.list_resource_configurations, "items"):
        if item.get("name") != name:
            continue
        try:
            tags = _lattice_tags(lattice, item["arn"])
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise
        if tags.get(CONNECTION_TAG_KEY) == connection_id and _managed(tags):
            return {"id": item["id"], "arn": item["arn"]}
        raise ChangeRefused(f"a resource configuration named {name} ({item['id']}) exists and is not tagged "
                            f"{CONNECTION_TAG_KEY}={connection_id}: it is not this connection's. Rename or delete it, "
                            "then start again")
    return None


def _share(ram: Any, facts: Mapping[str, Any], configuration_arn: str, previous: Mapping[str, Any]) -> tuple[str, bool]:
    """This connection's RAM share of the configuration with the Nekt account, else a new one. Nekt is
    outside the customer's Organization: external principals allowed (Nekt then gets an invitation)."""
    connection_id = facts["request"]["connectionId"]
    nekt_account = Settings.from_dict(facts["settings"]).nekt_account_id
    found = find_shares(ram, connection_id)
    if found:
        share_arn = str(found[0]["resourceShareArn"])
        associated = ram.get_resource_share_associations(
            associationType="RESOURCE", resourceShareArns=[share_arn])["resourceShareAssociations"]
        if not any(a["associatedEntity"] == configuration_arn and a["status"] in ("ASSOCIATED", "ASSOCIATING")
                   for a in associated):
            # The share outlived its configuration (a rollback that could not delete the share): put the new one in.
            ram.associate_resource_share(resourceShareArn=share_arn, resourceArns=[configuration_arn])
        return share_arn, bool(previous.get("shareCreated"))
    name = share_name(connection_id)
    created = ram.create_resource_share(
        name=name, resourceArns=[configuration_arn], principals=[nekt_account], allowExternalPrincipals=True,
        tags=_ram_tags(connection_tags(name, connection_id)))["resourceShare"]
    return str(created["resourceShareArn"]), True


def find_shares(ram: Any, connection_tag: str) -> list[dict[str, Any]]:
    """The account's live RAM shares tagged with the connection (and the product's tag)."""
    shares = _pages(ram.get_resource_shares, "resourceShares", resourceOwner="SELF",
                    tagFilters=[{"tagKey": CONNECTION_TAG_KEY, "tagValues": [connection_tag]}])
    return [share for share in shares if share.get("status") not in SHARE_GONE and _share_tags(share).get(
        CONNECTION_TAG_KEY) == connection_tag and _managed(_share_tags(share))]


def _share_tags(share: Mapping[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag.get("value", "") for tag in share.get("tags") or []}


def _pages(operation: Any, key: str, **arguments: Any) -> Iterator[dict[str, Any]]:
    """Every item of a VPC Lattice or RAM listing (nextToken pages)."""
    token = None
    while True:
        page = operation(**arguments, **({"nextToken": token} if token else {}))
        yield from page.get(key) or []
        token = page.get("nextToken")
        if not token:
            return


# --- Create the resource endpoint (the Nekt account) -------------------------------------------------------


def create_resource_endpoint(nekt_ec2: EC2Client, nekt_ram: Any, state: Mapping[str, Any]) -> ResourceEndpointRecord:
    """The share accepted (when there is one), the endpoint's security group, and the resource endpoint in
    Nekt's private subnets; its DNS name once Available. Runs as the accepter role in the Nekt account."""
    facts, path = state["discovery"], _planned(state)
    shared = state.get("sharedDatabase") or {}
    previous: Mapping[str, Any] = state.get("resourceEndpoint") or {}
    configuration_arn = shared.get("resourceConfigurationArn")
    if not configuration_arn or shared.get("waiting"):
        raise InvalidInput("sharedDatabase has no resource configuration yet: Share the database runs first. Start "
                           "the connection from the state machine")
    record: ResourceEndpointRecord = {
        "invitationAccepted": bool(previous.get("invitationAccepted")), "vpcEndpointId": None, "state": "",
        "securityGroupId": None, "created": bool(previous.get("created")), "dnsName": None, "waiting": False,
        "polls": int(previous.get("polls", 0)),
    }
    pending = _pending_endpoint(nekt_ec2, previous, configuration_arn)
    if pending is not None:  # a run of this stage made it, and the share and its group before it
        endpoint, created, group_id = pending, False, str(previous["securityGroupId"])
    else:
        if shared.get("resourceShareArn"):
            visible, accepted = _accept_share(nekt_ram, str(shared["resourceShareArn"]), facts)
            record["invitationAccepted"] = record["invitationAccepted"] or accepted
            if not visible:
                return _waiting(state, record, f"the invitation to resource share {shared['resourceShareArn']}, "
                                               "which the Nekt account does not see yet")
        group_id = _endpoint_security_group(nekt_ec2, facts, path, _connection_id(state))
        endpoint, created = _endpoint(nekt_ec2, path, configuration_arn, group_id, _connection_id(state))
    status = endpoint.get("State", "")
    record |= {"vpcEndpointId": endpoint["VpcEndpointId"], "state": status, "securityGroupId": group_id,
               "created": record["created"] or created}
    if status in ENDPOINT_FAILED:
        raise ResourceEndpointFailed(
            f"resource endpoint {endpoint['VpcEndpointId']} in {path['endpoint']['vpcId']} is {status}. Check it in "
            "the VPC console (Endpoints) and that the database's share is still accepted, then start again")
    if status != ENDPOINT_READY:
        return _waiting(state, record, f"resource endpoint {endpoint['VpcEndpointId']} ({status})")
    entries = endpoint.get("DnsEntries") or []
    if not entries or not entries[0].get("DnsName"):
        return _waiting(state, record, f"the DNS name of resource endpoint {endpoint['VpcEndpointId']}")
    return record | {"dnsName": entries[0]["DnsName"]}


def _pending_endpoint(nekt_ec2: EC2Client, previous: Mapping[str, Any],
                      configuration_arn: str) -> VpcEndpointTypeDef | None:
    """The endpoint an earlier run of the stage made and left waiting, described by its id (one call a poll)."""
    if not previous.get("vpcEndpointId") or not previous.get("securityGroupId"):
        return None
    try:
        found = nekt_ec2.describe_vpc_endpoints(VpcEndpointIds=[previous["vpcEndpointId"]])["VpcEndpoints"]
    except ClientError as error:
        if error_code(error) == "InvalidVpcEndpointId.NotFound":
            return None
        raise
    return next((endpoint for endpoint in found if endpoint.get("State") not in ENDPOINT_GONE
                 and endpoint.get("ResourceConfigurationArn") == configuration_arn), None)


def _waiting(state: Mapping[str, Any], record: ResourceEndpointRecord, what: str) -> ResourceEndpointRecord:
    polls = record["polls"] + 1
    if polls > _max_polls(state):
        raise ResourcePathTimeout(f"still waiting for {what} after {polls - 1} polls. Look at it in the console; "
                                  "raise MaxPolls or PollIntervalSeconds if AWS is slow, then start again")
    return record | {"waiting": True, "polls": polls}


def _accept_share(nekt_ram: Any, share_arn: str, facts: Mapping[str, Any]) -> tuple[bool, bool]:
    """(the share is usable by Nekt, this call accepted its invitation). RAM is eventually consistent: an
    invitation may not be visible yet; inside one Organization with sharing enabled there is none, and
    the share itself is visible instead."""
    owner = facts["database"]["accountId"]
    nekt_account = Settings.from_dict(facts["settings"]).nekt_account_id
    invitations = [invitation for invitation in _pages(
        nekt_ram.get_resource_share_invitations, "resourceShareInvitations", resourceShareArns=[share_arn])
        if invitation.get("receiverAccountId", nekt_account) == nekt_account]
    if not invitations:
        shares = _pages(nekt_ram.get_resource_shares, "resourceShares", resourceOwner="OTHER-ACCOUNTS",
                        resourceShareArns=[share_arn])
        return any(share.get("status") == "ACTIVE" for share in shares), False
    statuses = {invitation["status"] for invitation in invitations}
    if "ACCEPTED" in statuses:
        return True, False
    pending = next((invitation for invitation in invitations if invitation["status"] == "PENDING"), None)
    if pending is None:
        raise ResourceShareRejected(
            f"the Nekt account's invitation to resource share {share_arn} is {', '.join(sorted(statuses))}: the "
            "resource endpoint cannot use the database's configuration. Delete the share in the database account, "
            "then start the connection again")
    if pending.get("senderAccountId") != owner:
        raise ChangeRefused(f"the invitation to resource share {share_arn} is from account "
                            f"{pending.get('senderAccountId')}, not the database's {owner}: not accepted")
    try:
        nekt_ram.accept_resource_share_invitation(resourceShareInvitationArn=pending["resourceShareInvitationArn"])
    except ClientError as error:
        if error_code(error) != "ResourceShareInvitationAlreadyAcceptedException":
            raise
        return True, False
    return True, True


def _endpoint_security_group(nekt_ec2: EC2Client, facts: Mapping[str, Any], path: PlannedResourcePath,
                             connection_id: str) -> str:
    """The endpoint's security group: TCP on the database's port from each of Nekt's private subnets."""
    endpoint = path["endpoint"]
    vpc_id, port, cidrs = endpoint["vpcId"], endpoint["port"], endpoint["allowedCidrs"]
    _refuse_unless_nekt(facts, vpc_id, port, cidrs)
    name = endpoint_group_name(connection_id)
    group_id = _group_named(nekt_ec2, vpc_id, name)
    tags = connection_tags(name, connection_id)
    if group_id is None:
        try:
            group_id = nekt_ec2.create_security_group(
                GroupName=name, VpcId=vpc_id, Description=f"Nekt resource endpoint of connection {connection_id}",
                TagSpecifications=[{"ResourceType": "security-group", "Tags": tag_list(tags)}])["GroupId"]
        except ClientError as error:
            group_id = _group_named(nekt_ec2, vpc_id, name) if error_code(error) == "InvalidGroup.Duplicate" else None
            if group_id is None:
                raise
    admitted = {rule.get("CidrIpv4") for rule in _group_rules(nekt_ec2, group_id) if not rule.get("IsEgress")
                and rule.get("IpProtocol") == "tcp" and rule.get("FromPort") == port and rule.get("ToPort") == port}
    missing = [cidr for cidr in cidrs if cidr not in admitted]
    if missing:
        try:
            nekt_ec2.authorize_security_group_ingress(
                GroupId=group_id,
                IpPermissions=[{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [
                    {"CidrIp": cidr, "Description": ENDPOINT_RULE_DESCRIPTION} for cidr in missing]}],
                TagSpecifications=[{"ResourceType": "security-group-rule", "Tags": tag_list(tags)}])
        except ClientError as error:
            if error_code(error) != "InvalidPermission.Duplicate":
                raise
    return group_id


def _refuse_unless_nekt(facts: Mapping[str, Any], vpc_id: str, port: int, cidrs: list[str]) -> None:
    """The last line of defence: the endpoint only ever admits Nekt's own networks, on the database's port."""
    nekt = facts.get("nekt") or {}
    wrong = []
    if vpc_id != Settings.from_dict(facts["settings"]).nekt_vpc_id:
        wrong.append(f"VPC {vpc_id!r} is not the Nekt VPC")
    if port != facts["database"]["port"]:
        wrong.append(f"port {port!r} is not the database's port {facts['database']['port']!r}")
    nekt_networks = [ipaddress.IPv4Network(cidr) for cidr in nekt.get("cidrs") or []]
    for cidr in cidrs:
        try:
            network: ipaddress.IPv4Network | None = ipaddress.IPv4Network(cidr)
        except (TypeError, ValueError):
            network = None
        if network is None or not any(network.subnet_of(n) for n in nekt_networks):
            wrong.append(f"source {cidr!r} is not within the Nekt VPC's CIDRs")
    if not cidrs:
        wrong.append("no source CIDR")
    if wrong:
        raise ChangeRefused(f"refused to make the resource endpoint's security group: {'; '.join(wrong)}. Nothing was "
                            "changed in the Nekt account: start the connection again from the state machine")


def _endpoint(nekt_ec2: EC2Client, path: PlannedResourcePath, configuration_arn: str, group_id: str,
              connection_id: str) -> tuple[VpcEndpointTypeDef, bool]:
    endpoint = path["endpoint"]
    live = [found for found in find_endpoints(nekt_ec2, endpoint["vpcId"], connection_id)
            if found.get("ResourceConfigurationArn") == configuration_arn]
    if live:
        return live[0], False
    tags = tag_list(connection_tags(f"nekt-{connection_id}", connection_id))
    try:
        created = nekt_ec2.create_vpc_endpoint(
            VpcEndpointType="Resource", VpcId=endpoint["vpcId"], SubnetIds=endpoint["subnetIds"],
            SecurityGroupIds=[group_id], ResourceConfigurationArn=configuration_arn, PrivateDnsEnabled=False,
            TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": tags}],
        )["VpcEndpoint"]
    except ClientError as error:
        if error_code(error) != "InsufficientFreeAddressesInSubnet":
            raise
        raise NoFreeAddresses(  # Preflight saw enough free addresses, but not 16 in one block
            f"AWS refused the resource endpoint in {', '.join(endpoint['subnetIds'])}: "
            f"{error.response['Error'].get('Message', '')} It takes 16 contiguous free addresses in each subnet; "
            "what this run made is undone. Ask Nekt support to free a block of 16 addresses in those subnets, or "
            "to add a private subnet in their zones, then run again") from error
    return created, True


def find_endpoints(nekt_ec2: EC2Client, vpc_id: str, connection_tag: str) -> list[VpcEndpointTypeDef]:
    """The resource endpoints of the VPC tagged with the connection, but those AWS shows Deleted."""
    paginator = nekt_ec2.get_paginator("describe_vpc_endpoints")
    pages = paginator.paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                        {"Name": f"tag:{CONNECTION_TAG_KEY}", "Values": [connection_tag]}])
    return [endpoint for page in pages for endpoint in page["VpcEndpoints"]
            if endpoint.get("VpcId") == vpc_id and endpoint.get("State") not in ENDPOINT_GONE
            and is_connection_endpoint(endpoint, connection_tag)]


def is_connection_endpoint(endpoint: Mapping[str, Any], connection_tag: str) -> bool:
    """A resource endpoint this product made for the connection (by its tags)."""
    tags = tag_dict(endpoint.get("Tags"))
    return (endpoint.get("VpcEndpointType") == "Resource" and tags.get(CONNECTION_TAG_KEY) == connection_tag
            and _managed(tags))


# --- Compensations -----------------------------------------------------------------------------------


def removal_of(ec2: EC2Client, lattice: Any, state: Mapping[str, Any]) -> ResourcePathRemoval:
    """What the compensations remove: the disconnect's `removal`, when given; else a failed connect's. Per
    connection resources (share, configuration, endpoint and its group) are found by the connection's tag;
    the gateway (with its group) and the ingress rule only when this execution created them: the record
    says so, or (no record: a crash) the product's gateway carries this connection's tag while the plan
    reused none, and the rule carries it and was not there when Discover read the group."""
    if state.get("removal"):
        return state["removal"]  # type: ignore[no-any-return]
    connection_id = _connection_id(state)
    removal: ResourcePathRemoval = {"connectionTag": connection_id, "gateway": None, "ingress": None}
    facts, path = state["discovery"], state["plan"].get("resourcePath") or {}
    database = facts["database"]
    record: Mapping[str, Any] = state.get("sharedDatabase") or {}
    gateway_group: str | None = record.get("gatewaySecurityGroupId")
    if record:
        if record.get("gatewayCreated"):
            removal["gateway"] = {"resourceGatewayId": record["resourceGatewayId"], "securityGroupId": gateway_group
                                  or ""}
    elif not (path.get("gateway") or {}).get("resourceGatewayId"):
        found = find_product_gateway(lattice, database["vpcId"])
        if found is not None:
            gateway_group = found["securityGroupIds"][0] if found["securityGroupIds"] else None
            if found["connectionTag"] == connection_id:
                removal["gateway"] = {"resourceGatewayId": found["resourceGatewayId"],
                                      "securityGroupId": gateway_group or ""}
        else:  # the group made just before a create that never happened
            group_id = _group_named(ec2, database["vpcId"], gateway_group_name(database["vpcId"]))
            if group_id and _tagged(ec2, group_id, connection_id):
                removal["gateway"] = {"resourceGatewayId": "", "securityGroupId": group_id}
    if record.get("ingressCreated") and record.get("ingressRuleId"):
        removal["ingress"] = {"groupId": database["securityGroupId"], "ruleId": record["ingressRuleId"]}
    elif gateway_group and isinstance(database.get("port"), int):
        rule = find_group_rule(ec2, database["securityGroupId"], database["port"], gateway_group)
        before = {known["ruleId"] for known in database.get("securityGroupRules") or []}
        if rule is not None and rule["SecurityGroupRuleId"] not in before and tag_dict(rule.get("Tags")).get(
                CONNECTION_TAG_KEY) == connection_id:
            removal["ingress"] = {"groupId": database["securityGroupId"], "ruleId": rule["SecurityGroupRuleId"]}
    return removal


def kept(state: Mapping[str, Any]) -> set[str]:
    """The connection's own resources a failed connect keeps: "configuration", "share", "endpoint" (with its
    group). All of them when the connection was connected by this path as the run began: it still relies on
    them (its disconnect removes them), whatever a stage lost before returning its record. Otherwise those the
    stages' records say they found already made."""
    if state.get("removal"):
        return set(state["removal"].get("keep") or [])
    if state["discovery"].get("connected") == "resource-endpoint":
        return {"configuration", "share", "endpoint"}
    shared: Mapping[str, Any] = state.get("sharedDatabase") or {}
    endpoint: Mapping[str, Any] = state.get("resourceEndpoint") or {}
    found = set()
    if shared.get("resourceConfigurationId") and not shared.get("configurationCreated"):
        found.add("configuration")
    if shared.get("resourceShareArn") and not shared.get("shareCreated"):
        found.add("share")
    if endpoint.get("vpcEndpointId") and not endpoint.get("created"):
        found.add("endpoint")
    return found


def _tagged(ec2: EC2Client, group_id: str, connection_id: str) -> bool:
    groups = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    return any(tag_dict(group.get("Tags")).get(CONNECTION_TAG_KEY) == connection_id for group in groups)


def _removal_tag(state: Mapping[str, Any]) -> str:
    return str((state.get("removal") or {}).get("connectionTag") or _connection_id(state))


def _wait_or_leave(state: Mapping[str, Any], rollback: Rollback, waiting_for: list[str]) -> None:
    max_polls = _max_polls(state)
    rollback.wait_or_leave(waiting_for, max_polls, f"AWS had not finished deleting it after {max_polls} polls: check "
                                                   "it in the console and delete what is left by hand")


def remove_resource_endpoint(nekt_ec2: EC2Client, state: Mapping[str, Any], rollback: Rollback) -> None:
    """The connection's resource endpoints in the Nekt VPC, until AWS shows them Deleted; then the
    endpoint's security group. Runs first: the customer's configuration cannot go while an endpoint uses it."""
    connection_tag = _removal_tag(state)
    vpc_id = Settings.from_dict(state["discovery"]["settings"]).nekt_vpc_id
    if "endpoint" in kept(state):
        return
    try:
        endpoints = find_endpoints(nekt_ec2, vpc_id, connection_tag)
    except ClientError as error:
        rollback.could_not(f"the resource endpoints of {connection_tag} in {vpc_id}",
                           f"could not list them: {error_code(error)}")
        return
    waiting_for = []
    for endpoint in endpoints:
        endpoint_id, status = endpoint["VpcEndpointId"], endpoint.get("State", "")
        what = f"resource endpoint {endpoint_id} in {vpc_id}"
        if status != "Deleting" and not _delete_endpoint(nekt_ec2, endpoint_id, what, rollback):
            continue
        waiting_for.append(f"{what} (Deleting)")
    if waiting_for:
        _wait_or_leave(state, rollback, waiting_for)
        return
    group_id = _group_named(nekt_ec2, vpc_id, endpoint_group_name(connection_tag))
    if group_id is not None and _tagged(nekt_ec2, group_id, connection_tag):
        _delete_group(nekt_ec2, group_id, f"security group {group_id} ({endpoint_group_name(connection_tag)})",
                      rollback)


def _delete_endpoint(nekt_ec2: EC2Client, endpoint_id: str, what: str, rollback: Rollback) -> bool:
    """DeleteVpcEndpoints answers a refusal in `Unsuccessful`, not as an error."""
    try:
        answer = nekt_ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])
    except ClientError as error:
        rollback.could_not(what, f"{error_code(error)}: {error.response['Error'].get('Message', '')}")
        return False
    refused = [item.get("Error", {}) for item in answer.get("Unsuccessful") or []]
    if refused:
        rollback.could_not(what, f"{refused[0].get('Code', '')}: {refused[0].get('Message', '')}")
        return False
    rollback.undone.append(what)
    return True


def _delete_group(ec2: EC2Client, group_id: str, what: str, rollback: Rollback) -> None:
    try:
        ec2.delete_security_group(GroupId=group_id)
    except ClientError as error:
        if error_code(error) != "InvalidGroup.NotFound":
            rollback.could_not(what, f"{error_code(error)}: {error.response['Error'].get('Message', '')}")
        return
    rollback.undone.append(what)


def unshare_database(ec2: EC2Client, lattice: Any, ram: Any, state: Mapping[str, Any], rollback: Rollback) -> None:
    """In reverse: the connection's RAM shares, its resource configuration, then, when the removal lists
    them, the database group's rule admitting the gateway and the gateway itself (until AWS no longer
    shows it), then the gateway's security group."""
    removal = removal_of(ec2, lattice, state)
    connection_tag, keep = removal["connectionTag"], kept(state)
    shares = [] if "share" in keep else _listed(rollback, f"the resource shares of {connection_tag}", find_shares,
                                                 ram, connection_tag)
    for share in shares or []:
        rollback.attempt(f"resource share {share['resourceShareArn']}", ram.delete_resource_share,
                         resourceShareArn=share["resourceShareArn"])
    configuration = None if "configuration" in keep else _listed(
        rollback, f"the resource configuration of {connection_tag}", find_configuration, lattice, connection_tag)
    if configuration:
        rollback.attempt(f"resource configuration {configuration['id']}", lattice.delete_resource_configuration,
                         resourceConfigurationIdentifier=configuration["id"])
    ingress = removal.get("ingress")
    if ingress:
        _revoke_gateway_rule(ec2, ingress["groupId"], ingress["ruleId"], rollback)
    gateway = removal.get("gateway") or {}
    if gateway.get("resourceGatewayId") and _delete_gateway(lattice, state, gateway["resourceGatewayId"], rollback):
        return  # being deleted: its security group goes once the gateway is gone
    if gateway.get("securityGroupId"):
        group_id = gateway["securityGroupId"]
        try:
            groups = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        except ClientError as error:
            if error_code(error) != "InvalidGroup.NotFound":
                rollback.could_not(f"security group {group_id}", f"could not read it: {error_code(error)}")
            return
        if groups and _managed(tag_dict(groups[0].get("Tags"))):
            _delete_group(ec2, group_id, f"security group {group_id} ({groups[0]['GroupName']})", rollback)


def _listed(rollback: Rollback, what: str, find: Any, *arguments: Any) -> Any:
    try:
        return find(*arguments)
    except ClientError as error:
        rollback.could_not(what, f"could not list them: {error_code(error)}")
    except ChangeRefused:
        pass  # a configuration of that name that is not this connection's: not ours to remove
    return None


def _revoke_gateway_rule(ec2: EC2Client, group_id: str, rule_id: str, rollback: Rollback) -> None:
    what = f"ingress rule {rule_id} (from the resource gateway's group) on {group_id}"
    try:
        rules = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"]
    except ClientError as error:
        if error_code(error) not in ("InvalidSecurityGroupRuleId.NotFound", "InvalidGroup.NotFound"):
            rollback.could_not(what, f"could not read it: {error_code(error)}")
        return
    if not rules or not _managed(tag_dict(rules[0].get("Tags"))):
        return  # gone, or not this product's: never removed
    rollback.attempt(what, ec2.revoke_security_group_ingress, GroupId=group_id, SecurityGroupRuleIds=[rule_id])


def _delete_gateway(lattice: Any, state: Mapping[str, Any], gateway_id: str, rollback: Rollback) -> bool:
    """Delete the gateway (this product's only); True while AWS still shows it being deleted or created."""
    what = f"resource gateway {gateway_id}"
    try:
        gateway = get_gateway(lattice, gateway_id)
    except ClientError as error:
        rollback.could_not(what, f"could not read it: {error_code(error)}")
        return False
    if gateway is None:
        return False
    if gateway["connectionTag"] is None:
        return False  # not this product's: never deleted
    status = gateway["status"]
    if status not in ("DELETE_IN_PROGRESS", "CREATE_IN_PROGRESS"):  # AWS deletes it once it is created
        before = len(rollback.left)
        rollback.attempt(what, lattice.delete_resource_gateway, resourceGatewayIdentifier=gateway_id)
        if len(rollback.left) > before:
            return False  # refused (another configuration still on it, a permission): left, named
        status = "DELETE_IN_PROGRESS"
    _wait_or_leave(state, rollback, [f"{what} ({status})"])
    return True
