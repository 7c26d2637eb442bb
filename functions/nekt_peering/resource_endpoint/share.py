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
for VPC resources") has the sources of the AWS behaviour relied on here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code, tag_dict, tag_list
from nekt_peering.core.compensation import connection_id_of
from nekt_peering.core.errors import (
    ChangeRefused,
    ResourceConfigurationFailed,
    ResourceGatewayUnavailable,
)
from nekt_peering.core.model import CONNECTION_TAG_KEY, Settings
from nekt_peering.resource_endpoint.find import (
    database_endpoints,
    find_configuration,
    find_group_rule,
    find_product_gateway,
    find_shares,
    get_gateway,
    group_named,
)
from nekt_peering.resource_endpoint.names import (
    CONFIGURATION_READY,
    CONFIGURATION_UNUSABLE,
    GATEWAY_READY,
    GATEWAY_RULE_DESCRIPTION,
    GATEWAY_UNUSABLE,
    configuration_name,
    connection_tags,
    gateway_group_name,
    gateway_name,
    is_ip_address,
    planned_path,
    ram_tags,
    share_name,
    wait_again,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from nekt_peering.core.shapes import FoundGateway, PlannedResourcePath, SharedDatabase


# --- Share the database (the customer's account) ------------------------------------------------------


def share_database(ec2: EC2Client, lattice: Any, ram: Any, state: Mapping[str, Any]) -> SharedDatabase:
    """The database shared as a resource configuration on the product's resource gateway of its VPC, and
    (another Nekt account) shared with Nekt by RAM. Runs as the stack's own role in the database account."""
    facts, path = state["discovery"], planned_path(state)
    connection_id = connection_id_of(state)
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
        return _waiting(state, record, "gateway", f"resource gateway {gateway['resourceGatewayId']} in "
                                                  f"{facts['database']['vpcId']} ({gateway['status']})")
    rule_id, ingress_created = _admit_gateway(ec2, facts, group_id, connection_id)
    configuration, configuration_created = _configuration(lattice, facts, path, gateway, previous)
    record |= {"ingressRuleId": rule_id, "ingressCreated": ingress_created,
               "resourceConfigurationId": configuration["id"], "resourceConfigurationArn": configuration["arn"],
               "configurationCreated": configuration_created}
    status = _configuration_status(lattice, configuration["id"])
    if status != CONFIGURATION_READY:  # created asynchronously: shared only once ACTIVE
        return _waiting(state, record, "configuration", f"resource configuration {configuration['id']} ({status})")
    record["endpoints"] = database_endpoints(lattice, facts, configuration)
    if path["share"]:
        share_arn, share_created = _share(ram, facts, configuration["arn"], previous)
        record |= {"resourceShareArn": share_arn, "shareCreated": share_created}
        association = _association_status(ram, share_arn, configuration["arn"])
        if association != "ASSOCIATED":  # Nekt sees the configuration only once it is
            return _waiting(state, record, "association", f"the association of {configuration['id']} with "
                                                              f"resource share {share_arn} ({association})")
    return record


def _waiting(state: Mapping[str, Any], record: SharedDatabase, waiting_for: str, what: str) -> SharedDatabase:
    # A record from before per-thing waits waited for the gateway only.
    return wait_again(state, "sharedDatabase", record, waiting_for, what,  # type: ignore[no-any-return]
                      "the VPC console (PrivateLink and Lattice) or the RAM console", waited_before="gateway")


def _configuration_status(lattice: Any, configuration_id: str) -> str:
    """ACTIVE, or still CREATE_IN_PROGRESS; CREATE_FAILED (or gone) is an error quoting AWS's reason."""
    try:
        found = lattice.get_resource_configuration(resourceConfigurationIdentifier=configuration_id)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        found = {"status": "gone"}
    status = str(found.get("status", ""))
    if status in CONFIGURATION_UNUSABLE:
        reason = found.get("failureReason") or "AWS gave no reason"
        raise ResourceConfigurationFailed(
            f"resource configuration {configuration_id} is {status}: {reason}. What this run made is undone. Fix "
            "what the reason names (the database's state, a permission of the database account's role), then start "
            "the connection again")
    return status


def _association_status(ram: Any, share_arn: str, configuration_arn: str) -> str:
    associations = ram.get_resource_share_associations(
        associationType="RESOURCE", resourceShareArns=[share_arn], resourceArn=configuration_arn)[
        "resourceShareAssociations"]
    statuses = [association["status"] for association in associations]
    return "ASSOCIATED" if "ASSOCIATED" in statuses else ", ".join(statuses) or "not associated yet"


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
    found = group_named(ec2, vpc_id, name)
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
        found = group_named(ec2, vpc_id, name) if error_code(error) == "InvalidGroup.Duplicate" else None
        if not found:
            raise
        return found


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


def _configuration(lattice: Any, facts: Mapping[str, Any], path: PlannedResourcePath, gateway: FoundGateway,
                   previous: Mapping[str, Any]) -> tuple[dict[str, str], bool]:
    """This connection's resource configuration (found by its name, and its tag), else a new one: type
    ARN for an Aurora cluster (the endpoint follows fail-overs), else SINGLE on the endpoint's DNS name and
    port. Created: by this execution, which a record of an earlier run of the stage says, or, found by the
    connection's tag, Discover did not see it (a run of the stage whose answer was lost made it)."""
    connection_id = facts["request"]["connectionId"]
    name = configuration_name(connection_id)
    found = find_configuration(lattice, connection_id)
    made_since_discover = not (facts.get("resourcePath") or {}).get("configurationExists")
    if found is not None:
        return found, bool(previous.get("configurationCreated")) or made_since_discover
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
        return found, bool(previous.get("configurationCreated")) or made_since_discover
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
    if is_ip_address(planned["domainName"]):  # a database on EC2 or by address: its private IP (ipResource)
        return {"type": "SINGLE", "portRanges": [str(planned["port"])], "protocol": "TCP",
                "resourceConfigurationDefinition": {"ipResource": {"ipAddress": planned["domainName"]}}}
    # Its own name as the custom domain name (AWS allows "a third-party or AWS domain", unverified): with it, the
    # resource endpoint can serve the database's own name in the Nekt VPC, which its certificate covers.
    return {"type": "SINGLE", "portRanges": [str(planned["port"])], "protocol": "TCP",
            "customDomainName": planned["domainName"],
            "resourceConfigurationDefinition": {"dnsResource": {"domainName": planned["domainName"],
                                                                "ipAddressType": "IPV4"}}}


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
        # Discover reads no shares: one tagged with the connection while its configuration was not there before
        # any change was made by this execution, or outlived a rollback of an earlier one; it goes with a rollback.
        return share_arn, bool(previous.get("shareCreated")) or not (facts.get("resourcePath") or {}).get(
            "configurationExists")
    name = share_name(connection_id)
    created = ram.create_resource_share(
        name=name, resourceArns=[configuration_arn], principals=[nekt_account], allowExternalPrincipals=True,
        tags=ram_tags(connection_tags(name, connection_id)))["resourceShare"]
    return str(created["resourceShareArn"]), True
