"""Stage: Create the resource endpoint (the Nekt account): accept the share's invitation, the
endpoint's security group, and a resource VPC endpoint in Nekt's private subnets, whose DNS name is the
hostname Nekt connects to. Safe to run twice; waits, bounded by MaxPolls, while AWS is not done."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code, tag_list
from nekt_peering.core.compensation import connection_id_of
from nekt_peering.core.errors import (
    ChangeRefused,
    InvalidInput,
    NoFreeAddresses,
    ResourceEndpointFailed,
    ResourceShareRejected,
)
from nekt_peering.core.model import Settings
from nekt_peering.resource_endpoint.find import (
    connect_to,
    endpoint_names,
    find_endpoints,
    group_named,
    group_rules,
    hostname_of,
)
from nekt_peering.resource_endpoint.names import (
    ENDPOINT_FAILED,
    ENDPOINT_GONE,
    ENDPOINT_READY,
    ENDPOINT_RULE_DESCRIPTION,
    all_pages,
    connection_tags,
    endpoint_group_name,
    planned_path,
    wait_again,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import VpcEndpointTypeDef

    from nekt_peering.core.shapes import PlannedEndpoint, PlannedResourcePath, ResourceEndpointRecord


# --- Create the resource endpoint (the Nekt account) -------------------------------------------------------


def create_resource_endpoint(nekt_ec2: EC2Client, nekt_ram: Any, state: Mapping[str, Any]) -> ResourceEndpointRecord:
    """The share accepted (when there is one), the endpoint's security group, and the resource endpoint in
    Nekt's private subnets; its DNS name once Available. Runs as the accepter role in the Nekt account."""
    facts, path = state["discovery"], planned_path(state)
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
                return _waiting(state, record, "invitation", f"the invitation to resource share "
                                f"{shared['resourceShareArn']}, which the Nekt account does not see yet")
        group_id = _endpoint_security_group(nekt_ec2, facts, path, connection_id_of(state))
        endpoint, created = _endpoint(nekt_ec2, path, configuration_arn, group_id, connection_id_of(state))
        # Found by the connection's tag and not there when Discover read the Nekt VPC: a run of this stage whose
        # answer was lost made it.
        seen_by_discover = ((facts.get("resourcePath") or {}).get("connectionEndpoint") or {}).get("vpcEndpointId")
        created = created or endpoint["VpcEndpointId"] != seen_by_discover
    status = endpoint.get("State", "")
    record |= {"vpcEndpointId": endpoint["VpcEndpointId"], "state": status, "securityGroupId": group_id,
               "created": record["created"] or created}
    if status in ENDPOINT_FAILED:
        raise ResourceEndpointFailed(
            f"resource endpoint {endpoint['VpcEndpointId']} in {path['endpoint']['vpcId']} is {status}. Check it in "
            "the VPC console (Endpoints) and that the database's share is still accepted, then start again")
    record["privateDns"] = bool(endpoint.get("PrivateDnsEnabled"))
    if status != ENDPOINT_READY:
        return _waiting(state, record, "endpoint", f"resource endpoint {endpoint['VpcEndpointId']} ({status})")
    names = endpoint_names(nekt_ec2, endpoint["VpcEndpointId"], list(shared.get("endpoints") or []),
                           facts["database"])
    if names is None:
        return _waiting(state, record, "names", f"the DNS names of resource endpoint {endpoint['VpcEndpointId']} "
                                                "(its associations)")
    chosen = connect_to(names, facts["request"].get("endpoint", "writer"))
    return record | {"dnsName": hostname_of(chosen), "names": names}


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


def _waiting(state: Mapping[str, Any], record: ResourceEndpointRecord, waiting_for: str,
             what: str) -> ResourceEndpointRecord:
    return wait_again(state, "resourceEndpoint", record, waiting_for, what,  # type: ignore[no-any-return]
                      "the console", waited_before=waiting_for)


def _accept_share(nekt_ram: Any, share_arn: str, facts: Mapping[str, Any]) -> tuple[bool, bool]:
    """(the share is usable by Nekt, this call accepted its invitation). RAM is eventually consistent: an
    invitation may not be visible yet; inside one Organization with sharing enabled there is none, and
    the share itself is visible instead."""
    owner = facts["database"]["accountId"]
    nekt_account = Settings.from_dict(facts["settings"]).nekt_account_id
    invitations = [invitation for invitation in all_pages(
        nekt_ram.get_resource_share_invitations, "resourceShareInvitations", resourceShareArns=[share_arn])
        if invitation.get("receiverAccountId", nekt_account) == nekt_account]
    if not invitations:
        shares = all_pages(nekt_ram.get_resource_shares, "resourceShares", resourceOwner="OTHER-ACCOUNTS",
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
    group_id = group_named(nekt_ec2, vpc_id, name)
    tags = connection_tags(name, connection_id)
    if group_id is None:
        try:
            group_id = nekt_ec2.create_security_group(
                GroupName=name, VpcId=vpc_id, Description=f"Nekt resource endpoint of connection {connection_id}",
                TagSpecifications=[{"ResourceType": "security-group", "Tags": tag_list(tags)}])["GroupId"]
        except ClientError as error:
            group_id = group_named(nekt_ec2, vpc_id, name) if error_code(error) == "InvalidGroup.Duplicate" else None
            if group_id is None:
                raise
    admitted = {rule.get("CidrIpv4") for rule in group_rules(nekt_ec2, group_id) if not rule.get("IsEgress")
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


def _private_dns(endpoint: PlannedEndpoint) -> dict[str, Any]:
    """Private DNS for the database's own names, and only those (SPECIFIED_DOMAINS_ONLY: no other name of the Nekt
    VPC is taken over, whether AWS counts the name as verified or not)."""
    if not endpoint.get("privateDns"):
        return {"PrivateDnsEnabled": False}
    return {"PrivateDnsEnabled": True, "DnsOptions": {"PrivateDnsPreference": "SPECIFIED_DOMAINS_ONLY",
                                                      "PrivateDnsSpecifiedDomains": endpoint["privateDnsNames"]}}


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
            SecurityGroupIds=[group_id], ResourceConfigurationArn=configuration_arn,
            TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": tags}], **_private_dns(endpoint),
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
