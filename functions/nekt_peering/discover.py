"""Stage 1, Discover: read everything the plan needs about the database and the Nekt VPC.

Nothing here changes AWS. Preflight turns these facts into a plan without further calls.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from nekt_peering.aws import error_code, tag_dict
from nekt_peering.errors import DatabaseNotAvailable, DatabaseNotFound, InvalidInput, NektNetworkNotFound
from nekt_peering.model import ConnectRequest, Settings
from nekt_peering.network_acls import read_network_acls

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
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_rds.type_defs import DBClusterTypeDef, DBInstanceTypeDef, DBSubnetGroupTypeDef

    from nekt_peering.shapes import (
        DatabaseFacts,
        Facts,
        Mode,
        NektFacts,
        PeeringFacts,
        RouteTableFacts,
        RuleFacts,
        VpcInfo,
    )

NEKT_PRIVATE_ROUTE_TABLE_NAME = "nekt-rtb-private"
ROUTE_TARGET_KEYS = (
    "VpcPeeringConnectionId", "GatewayId", "NatGatewayId", "TransitGatewayId", "NetworkInterfaceId",
    "InstanceId", "EgressOnlyInternetGatewayId", "LocalGatewayId", "CarrierGatewayId", "CoreNetworkArn",
)
LIVE_PEERING_STATES = frozenset({"initiating-request", "pending-acceptance", "provisioning", "active"})


def discover(
    request: ConnectRequest,
    settings: Settings,
    rds: RDSClient,
    ec2: EC2Client,
    nekt_ec2_factory: Callable[[], Any],
) -> Facts:
    """Facts about both sides; the Nekt side (and its assumed role) only when peering is needed."""
    database = discover_database(rds, ec2, request.identifier, settings.stack_account_id, request.region)
    mode = resolve_mode(request.mode, database)
    facts: Facts = {
        "request": request.to_dict(),
        "settings": settings.to_dict(),
        "mode": mode,
        "database": database,
        "nekt": None,
        "peerings": [],
    }
    if mode == "peering":
        facts["nekt"] = discover_nekt(nekt_ec2_factory(), settings)
        facts["peerings"] = find_peerings(ec2, database["vpcId"], settings.nekt_vpc_id)
    return facts


def resolve_mode(requested: str, database: DatabaseFacts) -> Mode:
    if requested == "auto":
        return "public" if database["publiclyAccessible"] else "peering"
    if requested == "public" and not database["publiclyAccessible"]:
        raise InvalidInput(
            f"mode is 'public' but {database['identifier']} is not publicly accessible: Nekt can reach it only "
            "through peering. Use mode 'peering' or 'auto'"
        )
    return cast("Mode", requested)  # "peering" or "public": the input schema allows no other


def discover_database(
    rds: RDSClient, ec2: EC2Client, identifier: str, account_id: str, region: str
) -> DatabaseFacts:
    database = _describe_instance(rds, identifier) or _describe_cluster(rds, identifier)
    if database is None:
        raise DatabaseNotFound(
            f"no RDS DB instance or Aurora DB cluster named {identifier!r} in account {account_id}, region "
            f"{region}. Check the identifier and the region (database.region). A database outside AWS cannot "
            "be connected by this workflow: ask Nekt support for a call"
        )
    if database["status"] != "available":
        raise DatabaseNotAvailable(
            f"{identifier} is {database['status']!r}, not 'available': wait until it is available and run again"
        )
    vpc_id = database["vpcId"]
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    route_tables = _route_tables(ec2, vpc_id)
    subnet_ids = database["subnetIds"]
    database_route_tables = sorted({_route_table_of(subnet, route_tables) for subnet in subnet_ids})
    return cast("DatabaseFacts", {
        **database,
        "accountId": account_id,
        "region": region,
        "cidrs": _associated_cidrs(vpc),
        "subnetCidrs": _subnet_cidrs(ec2, subnet_ids),
        "networkAcls": read_network_acls(ec2, subnet_ids),
        "routeTables": [_route_table_facts(route_tables[rt]) for rt in database_route_tables],
        "securityGroupRules": _ingress_rules(ec2, database["securityGroupIds"][0]),
    })


def _subnet_cidrs(ec2: EC2Client, subnet_ids: list[str]) -> list[str]:
    """Where the database's addresses can be: the IPv4 CIDRs of its subnet group's subnets."""
    subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"] if subnet_ids else []
    return sorted({subnet["CidrBlock"] for subnet in subnets})


def _describe_instance(rds: RDSClient, identifier: str) -> dict[str, Any] | None:
    try:
        instance = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    except ClientError as error:
        if error_code(error) == "DBInstanceNotFound":
            return None
        raise
    endpoint = instance.get("Endpoint") or {}
    return _database_facts(
        identifier, "instance", instance, instance["DBInstanceStatus"], endpoint.get("Address"),
        endpoint.get("Port") or instance.get("DbInstancePort"), bool(instance.get("PubliclyAccessible")),
        instance["DBSubnetGroup"],
    )


def _describe_cluster(rds: RDSClient, identifier: str) -> dict[str, Any] | None:
    try:
        cluster = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
    except ClientError as error:
        if error_code(error) == "DBClusterNotFoundFault":
            return None
        raise
    subnet_group = rds.describe_db_subnet_groups(DBSubnetGroupName=cluster["DBSubnetGroup"])["DBSubnetGroups"][0]
    # Aurora decides public reachability per instance: the cluster is reachable if any member is.
    members = [member["DBInstanceIdentifier"] for member in cluster.get("DBClusterMembers", [])]
    public = bool(cluster.get("PubliclyAccessible")) or any(
        rds.describe_db_instances(DBInstanceIdentifier=member)["DBInstances"][0].get("PubliclyAccessible")
        for member in members
    )
    return _database_facts(
        identifier, "cluster", cluster, cluster["Status"], cluster.get("Endpoint"), cluster.get("Port"), public,
        subnet_group,
    )


def _database_facts(
    identifier: str, kind: str, described: DBInstanceTypeDef | DBClusterTypeDef, status: str, endpoint: str | None,
    port: int | None, public: bool, subnet_group: DBSubnetGroupTypeDef,
) -> dict[str, Any]:
    groups = [group["VpcSecurityGroupId"] for group in described.get("VpcSecurityGroups", [])
              if group.get("Status", "active") == "active"]
    if not groups:
        raise DatabaseNotAvailable(f"{identifier} has no active VPC security group: add one and run again")
    return {
        "identifier": identifier,
        "kind": kind,
        "engine": described.get("Engine"),
        "status": status,
        "endpoint": endpoint,
        "port": int(port) if port else None,
        "publiclyAccessible": public,
        "vpcId": subnet_group["VpcId"],
        "subnetIds": [subnet["SubnetIdentifier"] for subnet in subnet_group.get("Subnets", [])],
        "securityGroupIds": groups,
        "securityGroupId": groups[0],
    }


def discover_nekt(ec2: EC2Client, settings: Settings) -> NektFacts:
    where = f"account {settings.nekt_account_id}, region {settings.nekt_region}"
    try:
        vpc = ec2.describe_vpcs(VpcIds=[settings.nekt_vpc_id])["Vpcs"][0]
    except ClientError as error:
        if error_code(error) != "InvalidVpcID.NotFound":
            raise
        raise NektNetworkNotFound(
            f"the Nekt VPC {settings.nekt_vpc_id} does not exist in {where}: redeploy with the right NektVpcId, "
            "NektAccountId and NektRegion"
        ) from None
    route_tables = _route_tables(ec2, settings.nekt_vpc_id)
    route_table = _nekt_private_route_table(route_tables, settings, where)
    private = [subnet for subnet in _subnets(ec2, settings.nekt_vpc_id)
               if _route_table_of(subnet["SubnetId"], route_tables) == route_table["RouteTableId"]]
    private_subnets = [subnet["CidrBlock"] for subnet in private]
    cidrs = _associated_cidrs(vpc)
    containing = sorted({cidr for cidr in cidrs for subnet in private_subnets
                         if ipaddress.IPv4Network(subnet).subnet_of(ipaddress.IPv4Network(cidr))})
    if len(containing) != 1:
        found = ", ".join(containing) or "none"
        raise NektNetworkNotFound(
            f"the Nekt private route table {route_table['RouteTableId']} must serve subnets of exactly one CIDR "
            f"of {settings.nekt_vpc_id} (the /23 of the guide); found {found}. Associate the private subnets "
            "with it, or redeploy with NektRouteTableId set to the route table of Nekt's private subnets"
        )
    return {
        "accountId": settings.nekt_account_id,
        "region": settings.nekt_region,
        "vpcId": settings.nekt_vpc_id,
        "cidrs": cidrs,
        "cidr": containing[0],
        "routeTable": _route_table_facts(route_table),
        "privateSubnetIds": sorted(subnet["SubnetId"] for subnet in private),
        "privateSubnetCidrs": sorted(private_subnets),
        "networkAcls": read_network_acls(ec2, [subnet["SubnetId"] for subnet in private]),
    }


def _nekt_private_route_table(
    route_tables: dict[str, RouteTableTypeDef], settings: Settings, where: str
) -> RouteTableTypeDef:
    if settings.nekt_route_table_id:
        if settings.nekt_route_table_id not in route_tables:
            raise NektNetworkNotFound(
                f"route table {settings.nekt_route_table_id} (NektRouteTableId) is not in {settings.nekt_vpc_id} "
                f"in {where}: redeploy with a route table of the Nekt VPC, or leave it empty"
            )
        return route_tables[settings.nekt_route_table_id]
    named = [rt for rt in route_tables.values()
             if tag_dict(rt.get("Tags")).get("Name") == NEKT_PRIVATE_ROUTE_TABLE_NAME]
    if len(named) != 1:
        raise NektNetworkNotFound(
            f"{len(named)} route tables tagged Name={NEKT_PRIVATE_ROUTE_TABLE_NAME} in {settings.nekt_vpc_id} "
            f"({where}); expected exactly one: tag the private route table, or set NektRouteTableId"
        )
    return named[0]


def find_peerings(ec2: EC2Client, database_vpc_id: str, nekt_vpc_id: str) -> list[PeeringFacts]:
    """Live peerings between the two VPCs, in either direction."""
    vpcs = [database_vpc_id, nekt_vpc_id]
    described = ec2.describe_vpc_peering_connections(Filters=[
        {"Name": "requester-vpc-info.vpc-id", "Values": vpcs},
        {"Name": "accepter-vpc-info.vpc-id", "Values": vpcs},
    ])["VpcPeeringConnections"]
    return [
        peering_facts(pcx) for pcx in described
        if pcx["Status"]["Code"] in LIVE_PEERING_STATES
        and {pcx["RequesterVpcInfo"]["VpcId"], pcx["AccepterVpcInfo"]["VpcId"]} == set(vpcs)
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


def _associated_cidrs(vpc: VpcTypeDef) -> list[str]:
    associations = vpc.get("CidrBlockAssociationSet") or [{"CidrBlock": vpc["CidrBlock"]}]
    return [a["CidrBlock"] for a in associations
            if a.get("CidrBlockState", {}).get("State", "associated") == "associated"]


def _route_tables(ec2: EC2Client, vpc_id: str) -> dict[str, RouteTableTypeDef]:
    paginator = ec2.get_paginator("describe_route_tables")
    pages = paginator.paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return {rt["RouteTableId"]: rt for page in pages for rt in page["RouteTables"]}


def _route_table_of(subnet_id: str, route_tables: dict[str, RouteTableTypeDef]) -> str:
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


def _subnets(ec2: EC2Client, vpc_id: str) -> list[SubnetTypeDef]:
    paginator = ec2.get_paginator("describe_subnets")
    pages = paginator.paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    return [subnet for page in pages for subnet in page["Subnets"]]


def _route_table_facts(rt: RouteTableTypeDef) -> RouteTableFacts:
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


def _ingress_rules(ec2: EC2Client, group_id: str) -> list[RuleFacts]:
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
        "description": rule.get("Description", ""),
        "tags": tag_dict(rule.get("Tags")),
    }
