"""What the stages read of EC2, in the shapes the facts carry: peerings, route tables, subnets,
security group rules, and the two sides of a route. Read-only helpers every path and stage shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.core.aws import tag_dict
from nekt_peering.core.errors import PeeringFailed

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import (
        RouteTableTypeDef,
        SecurityGroupRuleTypeDef,
        SubnetTypeDef,
        VpcPeeringConnectionTypeDef,
        VpcPeeringConnectionVpcInfoTypeDef,
        VpcTypeDef,
    )

    from nekt_peering.core.shapes import PeeringFacts, RouteTableFacts, RuleFacts, Side, VpcInfo

ROUTE_TARGET_KEYS = (
    "VpcPeeringConnectionId", "GatewayId", "NatGatewayId", "TransitGatewayId", "NetworkInterfaceId",
    "InstanceId", "EgressOnlyInternetGatewayId", "LocalGatewayId", "CarrierGatewayId", "CoreNetworkArn",
)
LIVE_PEERING_STATES = frozenset({"initiating-request", "pending-acceptance", "provisioning", "active"})


def find_peerings(ec2: EC2Client, database_vpc_id: str, nekt_vpc_id: str) -> list[PeeringFacts]:
    """Live peerings between the two VPCs, in either direction."""
    vpcs = [database_vpc_id, nekt_vpc_id]
    described = ec2.describe_vpc_peering_connections(Filters=[
        {"Name": "requester-vpc-info.vpc-id", "Values": vpcs},
        {"Name": "accepter-vpc-info.vpc-id", "Values": vpcs},
    ])["VpcPeeringConnections"]
    return peerings_between(described, database_vpc_id, nekt_vpc_id)


def peerings_between(described: Sequence[VpcPeeringConnectionTypeDef], database_vpc_id: str, nekt_vpc_id: str
                     ) -> list[PeeringFacts]:
    return [
        peering_facts(pcx) for pcx in described
        if pcx["Status"]["Code"] in LIVE_PEERING_STATES
        and {pcx["RequesterVpcInfo"]["VpcId"], pcx["AccepterVpcInfo"]["VpcId"]} == {database_vpc_id, nekt_vpc_id}
    ]


def peering_facts(pcx: VpcPeeringConnectionTypeDef) -> PeeringFacts:
    requester, accepter = pcx["RequesterVpcInfo"], pcx["AccepterVpcInfo"]
    return {
        "peeringConnectionId": pcx["VpcPeeringConnectionId"],
        "status": pcx["Status"]["Code"],
        "statusMessage": pcx["Status"].get("Message", ""),
        "requester": _vpc_info(requester),
        "accepter": _vpc_info(accepter),
        "tags": tag_dict(pcx.get("Tags")),
    }


def _vpc_info(info: VpcPeeringConnectionVpcInfoTypeDef) -> VpcInfo:
    return {
        "vpcId": info.get("VpcId"),
        "ownerId": info.get("OwnerId"),
        "region": info.get("Region"),
        "cidr": info.get("CidrBlock"),
        "allowDnsResolutionFromRemoteVpc": bool(
            (info.get("PeeringOptions") or {}).get("AllowDnsResolutionFromRemoteVpc")
        ),
    }


def associated_cidrs(vpc: VpcTypeDef) -> list[str]:
    associations = vpc.get("CidrBlockAssociationSet") or [{"CidrBlock": vpc["CidrBlock"]}]
    return [a["CidrBlock"] for a in associations
            if a.get("CidrBlockState", {}).get("State", "associated") == "associated"]


def vpc_route_tables(ec2: EC2Client, vpc_id: str) -> dict[str, RouteTableTypeDef]:
    paginator = ec2.get_paginator("describe_route_tables")
    pages = paginator.paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return {rt["RouteTableId"]: rt for page in pages for rt in page["RouteTables"]}


def route_table_of(subnet_id: str, route_tables: dict[str, RouteTableTypeDef]) -> str:
    """The explicitly associated route table, else the VPC's main one (as AWS routes the subnet)."""
    main = None
    for rt in route_tables.values():
        for association in rt.get("Associations", []):
            if association.get("SubnetId") == subnet_id:
                return str(rt["RouteTableId"])
            if association.get("Main"):
                main = rt["RouteTableId"]
    if main is None:
        raise LookupError(f"subnet {subnet_id} has no route table and its VPC has no main route table")
    return str(main)


def vpc_subnets(ec2: EC2Client, vpc_id: str) -> list[SubnetTypeDef]:
    paginator = ec2.get_paginator("describe_subnets")
    pages = paginator.paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return [subnet for page in pages for subnet in page["Subnets"]]


def route_table_facts(rt: RouteTableTypeDef) -> RouteTableFacts:
    return {
        "routeTableId": rt["RouteTableId"],
        "routes": [
            {"destinationCidr": route["DestinationCidrBlock"], "target": route_target(route),
             "state": route.get("State", "active")}
            for route in rt.get("Routes", []) if "DestinationCidrBlock" in route
        ],
    }


def route_target(route: Mapping[str, Any]) -> str:
    """Whatever a route (RouteTypeDef) goes to, under whichever of its target keys AWS filled."""
    return next((str(route[key]) for key in ROUTE_TARGET_KEYS if route.get(key)), "unknown")


def ingress_rules(ec2: EC2Client, group_id: str) -> list[RuleFacts]:
    paginator = ec2.get_paginator("describe_security_group_rules")
    pages = paginator.paginate(Filters=[{"Name": "group-id", "Values": [group_id]}])
    return [rule_facts(rule) for page in pages for rule in page["SecurityGroupRules"] if not rule.get("IsEgress")]


def allows_tcp_port_from(rule: Mapping[str, object], port: int, cidr: str) -> bool:
    """Whether an ingress rule (as rule_facts gives it) is exactly the one a connection needs."""
    return (rule["protocol"] == "tcp" and rule["fromPort"] == port and rule["toPort"] == port
            and rule["cidr"] == cidr)


def rule_facts(rule: SecurityGroupRuleTypeDef) -> RuleFacts:
    return {
        "ruleId": rule["SecurityGroupRuleId"],
        "protocol": rule.get("IpProtocol"),
        "fromPort": rule.get("FromPort"),
        "toPort": rule.get("ToPort"),
        "cidr": rule.get("CidrIpv4"),
        "sourceGroupId": rule.get("ReferencedGroupInfo", {}).get("GroupId"),
        "description": rule.get("Description", ""),
        "tags": tag_dict(rule.get("Tags")),
    }

DATABASE_SIDE: Side = "database"
NEKT_SIDE: Side = "nekt"


def describe_peering(ec2: EC2Client, peering_id: str) -> VpcPeeringConnectionTypeDef:
    """The peering as this account sees it; PeeringFailed once AWS has forgotten it."""
    try:
        found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])["VpcPeeringConnections"]
    except ClientError as error:
        if "NotFound" not in str(error.response.get("Error", {}).get("Code", "")):
            raise
        found = []
    if not found:  # forgotten, or never one this account is part of
        raise PeeringFailed(f"peering {peering_id} no longer exists: run again to request a new one")
    return found[0].copy()


def vpc_attribute(ec2: Any, vpc_id: str, attribute: str) -> bool:
    """A VPC's boolean attribute (enableDnsHostnames, enableDnsSupport) as DescribeVpcAttribute answers it."""
    described = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute)
    return bool((described.get(attribute[0].upper() + attribute[1:]) or {}).get("Value"))
