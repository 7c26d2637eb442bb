"""Finding what the resource-endpoint path made, by the names and tags its stages give it: the product's
resource gateway, a connection's resource configuration, shares and endpoint, and security-group rules.
Read-only: Discover, the stages, their compensations and the disconnect's check share them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code, tag_dict
from nekt_peering.core.errors import (
    ChangeRefused,
    ResourceGatewayUnavailable,
)
from nekt_peering.core.model import CONNECTION_TAG_KEY, MANAGED_BY_TAG
from nekt_peering.resource_endpoint.names import (
    ENDPOINT_GONE,
    SHARE_GONE,
    all_pages,
    configuration_name,
    gateway_name,
    lattice_tags,
    managed,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import SecurityGroupRuleTypeDef, VpcEndpointTypeDef

    from nekt_peering.core.shapes import DatabaseEndpoint, EndpointName, FoundGateway


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
    for gateway in all_pages(lattice.list_resource_gateways, "items"):
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
        tags = lattice_tags(lattice, gateway["arn"])
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None  # deleted between the list and this look
        raise
    return {"resourceGatewayId": gateway["id"], "resourceGatewayArn": gateway["arn"], "status": gateway["status"],
            "securityGroupIds": list(gateway.get("securityGroupIds") or []),
            "subnetIds": list(gateway.get("subnetIds") or []),
            "connectionTag": tags.get(CONNECTION_TAG_KEY) if managed(tags) else None,
            "ipv4AddressesPerEni": int(gateway.get("ipv4AddressesPerEni") or 16)}


def group_named(ec2: EC2Client, vpc_id: str, name: str) -> str | None:
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                   {"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    return next((group["GroupId"] for group in groups if group["GroupName"] == name), None)


def find_group_rule(ec2: EC2Client, group_id: str, port: int, source_group: str) -> SecurityGroupRuleTypeDef | None:
    """The ingress rule of `group_id` admitting exactly TCP `port` from the security group `source_group`."""
    for rule in group_rules(ec2, group_id):
        if (not rule.get("IsEgress") and rule.get("IpProtocol") == "tcp" and rule.get("FromPort") == port
                and rule.get("ToPort") == port and rule.get("ReferencedGroupInfo", {}).get("GroupId") == source_group):
            return rule
    return None


def group_rules(ec2: EC2Client, group_id: str) -> Iterator[SecurityGroupRuleTypeDef]:
    paginator = ec2.get_paginator("describe_security_group_rules")
    for page in paginator.paginate(Filters=[{"Name": "group-id", "Values": [group_id]}]):
        yield from page["SecurityGroupRules"]


def find_configuration(lattice: Any, connection_id: str, listed: Iterable[Mapping[str, Any]] | None = None
                       ) -> dict[str, str] | None:
    """This connection's resource configuration (id, arn, status): by its name, and its tag (a configuration of
    that name that is not tagged with the connection is not this product's, and is left alone)."""
    name = configuration_name(connection_id)
    for item in all_pages(lattice.list_resource_configurations, "items") if listed is None else listed:
        if item.get("name") != name:
            continue
        try:
            tags = lattice_tags(lattice, item["arn"])
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise
        if tags.get(CONNECTION_TAG_KEY) == connection_id and managed(tags):
            return {"id": item["id"], "arn": item["arn"], "status": item.get("status", "")}
        raise ChangeRefused(f"a resource configuration named {name} ({item['id']}) exists and is not tagged "
                            f"{CONNECTION_TAG_KEY}={connection_id}: it is not this connection's. Rename or delete it, "
                            "then start again")
    return None


def find_shares(ram: Any, connection_tag: str) -> list[dict[str, Any]]:
    """The account's live RAM shares tagged with the connection (and the product's tag)."""
    shares = all_pages(ram.get_resource_shares, "resourceShares", resourceOwner="SELF",
                    tagFilters=[{"tagKey": CONNECTION_TAG_KEY, "tagValues": [connection_tag]}])
    return [share for share in shares if share.get("status") not in SHARE_GONE and _share_tags(share).get(
        CONNECTION_TAG_KEY) == connection_tag and managed(_share_tags(share))]


def _share_tags(share: Mapping[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag.get("value", "") for tag in share.get("tags") or []}


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
            and managed(tags))


def database_endpoints(lattice: Any, facts: Mapping[str, Any], configuration: Mapping[str, str],
                       listed: Iterable[Mapping[str, Any]] | None = None) -> list[DatabaseEndpoint]:
    """What a resource endpoint will reach, by the configuration each of its associations names: for an Aurora
    cluster's ARN configuration the CHILD configurations AWS makes for it ("Child resource configurations are
    automatically managed by AWS"; one association each), else the configuration itself. Which child is the
    writer is not documented: a child's `customDomainName` (a user's report: the RDS endpoint's name) tells it
    when present; else the Nekt side tells it by the association's private DNS name (endpoint_names)."""
    database = facts["database"]
    children = [item for item in (all_pages(lattice.list_resource_configurations, "items") if listed is None
                                  else listed) if item.get("resourceConfigurationGroupId") == configuration["id"]]
    if not children:
        return [{"role": "writer" if database["kind"] == "cluster" else "database",
                 "resourceConfigurationArn": configuration["arn"], "domainName": database["endpoint"]}]
    return sorted(({"role": _role(database, child.get("customDomainName")), "resourceConfigurationArn": child["arn"],
                    "domainName": child.get("customDomainName")} for child in children),
                  key=lambda endpoint: (ROLE_ORDER.index(endpoint["role"]), endpoint["resourceConfigurationArn"]))


ROLE_ORDER = ("writer", "reader", "database", "unknown")


def _role(database: Mapping[str, Any], name: str | None) -> Any:
    return {database.get("endpoint"): "writer", database.get("readerEndpoint"): "reader"}.get(name, "unknown") \
        if name else "unknown"


def endpoint_names(nekt_ec2: EC2Client, endpoint_id: str, endpoints: list[DatabaseEndpoint],
                   database: Mapping[str, Any]) -> list[EndpointName] | None:
    """The resource endpoint's DNS names, one per database endpoint it reaches, from its associations (AWS
    documents a resource endpoint's names there, not in DescribeVpcEndpoints' DnsEntries, which is for interface
    endpoints); None while an association or its name is not there yet."""
    by_arn = {association.get("AssociatedResourceArn"): association for association in
              endpoint_associations(nekt_ec2, [endpoint_id]) if (association.get("DnsEntry") or {}).get("DnsName")}
    if not endpoints:  # not known from the database's side (a record from before this was kept): every association
        endpoints = [{"role": "unknown", "resourceConfigurationArn": str(arn), "domainName": None} for arn in by_arn]
    names: list[EndpointName] = []
    for endpoint in endpoints:
        association = by_arn.get(endpoint["resourceConfigurationArn"])
        if association is None:
            return None
        private = (association.get("PrivateDnsEntry") or {}).get("DnsName")
        role = endpoint["role"] if endpoint["role"] != "unknown" else _role(database, private)
        names.append({"role": role, "dnsName": association["DnsEntry"]["DnsName"], "privateDnsName": private,
                      "domainName": endpoint["domainName"] or private,
                      "accessible": association.get("AssociatedResourceAccessibility") == "Accessible"})
    return sorted(names, key=lambda name: ROLE_ORDER.index(name["role"])) or None


def endpoint_associations(nekt_ec2: EC2Client, endpoint_ids: list[str]) -> list[Any]:
    """The associations of resource endpoints (every page; at most 50 endpoints a call)."""
    found: list[Any] = []
    for start in range(0, len(endpoint_ids), 50):
        arguments: dict[str, Any] = {"VpcEndpointIds": endpoint_ids[start:start + 50]}
        while True:
            page = nekt_ec2.describe_vpc_endpoint_associations(**arguments)
            found += page.get("VpcEndpointAssociations") or []
            if not page.get("NextToken"):
                break
            arguments["NextToken"] = page["NextToken"]
    return found


def connect_to(names: list[EndpointName], wanted: str) -> EndpointName:
    """The endpoint Nekt connects to: the one asked for (writer by default), else the first (an instance's only
    one; a cluster's when AWS showed no name that tells writer from reader: the result says so)."""
    return next((name for name in names if name["role"] == wanted), names[0])


def hostname_of(name: EndpointName) -> str:
    """With private DNS the database's own name resolves to the endpoint in the Nekt VPC: its certificate
    covers it. Otherwise the endpoint's own name."""
    return name["privateDnsName"] or name["dnsName"]
