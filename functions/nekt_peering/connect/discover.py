"""Stage 1, Discover: read everything the plan needs about the database and the Nekt VPC.

Nothing here changes AWS. Preflight turns these facts into a plan without further calls."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from nekt_peering.connect.path_choice import fall_back_from_peering, mode_reason, resolve_mode
from nekt_peering.core.aws import error_code, tag_dict
from nekt_peering.core.ec2 import (
    LIVE_PEERING_STATES,
    associated_cidrs,
    ingress_rules,
    peerings_between,
    route_table_facts,
    route_table_of,
    vpc_attribute,
    vpc_route_tables,
    vpc_subnets,
)
from nekt_peering.core.errors import (
    InvalidInput,
    InvalidSettings,
    NektNetworkNotFound,
    SharedVpcNotSupported,
    VpcDnsDisabled,
)
from nekt_peering.core.model import ConnectRequest, Settings
from nekt_peering.core.network_acls import read_network_acls
from nekt_peering.core.quotas import (
    ACTIVE_PEERINGS_PER_VPC,
    CONFIGURATIONS_PER_CONNECTION,
    OUTSTANDING_REQUESTS,
    RESOURCE_CONFIGURATIONS_PER_REGION,
    RESOURCE_ENDPOINTS_PER_VPC,
    RESOURCE_GATEWAYS_PER_VPC,
    ROUTES_PER_TABLE,
    RULES_PER_GROUP,
    Quota,
    routes_counted,
)
from nekt_peering.databases import describe_database
from nekt_peering.resource_endpoint.discover import discover_resource_path

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import RouteTableTypeDef, VpcPeeringConnectionTypeDef
    from mypy_boto3_rds import RDSClient

    from nekt_peering.core.shapes import DatabaseFacts, Facts, Mode, NektFacts

NEKT_PRIVATE_ROUTE_TABLE_NAME = "nekt-rtb-private"
OUTSTANDING_REQUEST_STATES = frozenset({"initiating-request", "pending-acceptance"})


def discover(
    request: ConnectRequest,
    settings: Settings,
    rds: RDSClient,
    ec2: EC2Client,
    nekt_ec2_factory: Callable[[], Any],
    quotas_factory: Callable[[str], Any] | None = None,
    lattice_factory: Callable[[], Any] | None = None,
    connected: Mode | None = None,
    database_client: Callable[[str], Any] | None = None,
) -> Facts:
    """Facts about both sides; the Nekt side (and its assumed role) only when the path needs it.
    `quotas_factory(side)`: a Service Quotas client in the database ("database") or Nekt ("nekt") account;
    `lattice_factory()`: a VPC Lattice client in the database account (the resource-endpoint path);
    `connected`: the path the connection relies on now (connected_path), which `auto` keeps;
    `database_client(service)`: another client in the database account, for a kind that reads another service."""
    database = discover_database(rds, ec2, request.identifier, settings.stack_account_id, request.region, request,
                                 database_client)
    if request.endpoint == "reader" and not database.get("readerEndpoint"):
        raise InvalidInput(f"database.endpoint is 'reader' but {request.identifier} ({database['kind']}) has no reader "
                           "endpoint (an Aurora cluster has one): leave it out (or 'writer'). Nothing "
                           "was changed")
    mode = resolve_mode(request.mode, database, connected)
    facts: Facts = {
        "request": request.to_dict(),
        "settings": settings.to_dict(),
        "mode": mode,
        "modeReason": mode_reason(request.mode, database, connected),
        "connected": connected,
        "database": database,
        "nekt": None,
        "peerings": [],
    }
    counts: dict[str, int] = {}
    nekt_ec2: Any = None
    if mode != "public":
        nekt_ec2 = nekt_ec2_factory()
        facts["nekt"] = nekt = discover_nekt(nekt_ec2, settings)
    if mode == "peering":
        live = _live_peerings(ec2)
        facts["peerings"] = peerings_between(live, database["vpcId"], settings.nekt_vpc_id)
        counts = {
            "databaseVpcActivePeerings": _active_peerings_of(live, database["vpcId"]),
            "outstandingRequests": sum(
                1 for pcx in live if pcx["Status"]["Code"] in OUTSTANDING_REQUEST_STATES
                and (pcx["RequesterVpcInfo"].get("OwnerId"), pcx["RequesterVpcInfo"].get("Region"))
                == (settings.stack_account_id, request.region)),
            # Nekt in this account and region sees the same peerings: no second read.
            "nektVpcActivePeerings": _active_peerings_of(
                live if (settings.nekt_account_id, settings.nekt_region) == (settings.stack_account_id, request.region)
                else _live_peerings(nekt_ec2, states=["active"]), settings.nekt_vpc_id),
        }
    facts["quotas"] = {**counts, "limits": {}}  # type: ignore[typeddict-item]  # counts: the three keys
    facts["quotas"]["limits"] = read_quotas(facts, quotas_factory)
    if mode == "peering" and request.mode == "auto" and connected is None:
        mode = fall_back_from_peering(facts)
    if mode == "resource-endpoint":
        if lattice_factory is None:
            raise InvalidSettings("the resource-endpoint path needs a VPC Lattice client (redeploy the stack)")
        facts["resourcePath"] = discover_resource_path(ec2, lattice_factory(), nekt_ec2, database, nekt,
                                                       request.connection_id)
        facts["quotas"]["limits"] = read_quotas(facts, quotas_factory)
    elif mode == "peering" and database["publiclyAccessible"]:
        check_dns_attributes(ec2, nekt_ec2, database, nekt)
    return facts


def read_quotas(facts: Facts, quotas_factory: Callable[[str], Any] | None) -> dict[str, dict[str, int]]:
    """The applied value of each quota a connect at AWS's default would go past, per side ("database",
    "nekt"): none in the common case, so no call; a raised quota is then honoured by Preflight."""
    database, nekt, counts = facts["database"], facts["nekt"], facts["quotas"]
    near: dict[str, set[Quota]] = {"database": set(), "nekt": set()}
    if len(database["securityGroupRules"]) + 1 > RULES_PER_GROUP.default:
        near["database"].add(RULES_PER_GROUP)
    resource_path = facts.get("resourcePath")
    if resource_path and resource_path["nektResourceEndpoints"] + 1 > RESOURCE_ENDPOINTS_PER_VPC.default:
        near["nekt"].add(RESOURCE_ENDPOINTS_PER_VPC)
    if resource_path and resource_path.get("vpcGateways", 0) + 1 > RESOURCE_GATEWAYS_PER_VPC.default:
        near["database"].add(RESOURCE_GATEWAYS_PER_VPC)
    if resource_path and resource_path.get("configurations", 0) + CONFIGURATIONS_PER_CONNECTION > \
            RESOURCE_CONFIGURATIONS_PER_REGION.default:
        near["database"].add(RESOURCE_CONFIGURATIONS_PER_REGION)
    if nekt is not None and "outstandingRequests" in counts:
        if counts["outstandingRequests"] + 1 > OUTSTANDING_REQUESTS.default:
            near["database"].add(OUTSTANDING_REQUESTS)
        for side, active in (("database", counts["databaseVpcActivePeerings"]),
                             ("nekt", counts["nektVpcActivePeerings"])):
            if active + 1 > ACTIVE_PEERINGS_PER_VPC.default:
                near[side].add(ACTIVE_PEERINGS_PER_VPC)
        if any(routes_counted(table) + 1 > ROUTES_PER_TABLE.default for table in database["routeTables"]):
            near["database"].add(ROUTES_PER_TABLE)
        if routes_counted(nekt["routeTable"]) + len(database["cidrs"]) > ROUTES_PER_TABLE.default:
            near["nekt"].add(ROUTES_PER_TABLE)
    # Read again for the resource-endpoint path's facts: what was read already is not asked twice.
    limits = {side: dict(values) for side, values in (counts.get("limits") or {}).items()}
    for side, quotas in near.items():
        unread = [quota for quota in sorted(quotas, key=str) if quota.code not in limits.get(side, {})]
        if unread and quotas_factory is not None:
            service_quotas = quotas_factory(side)
            limits.setdefault(side, {}).update({quota.code: _applied_quota(service_quotas, quota) for quota in unread})
    return limits


def _applied_quota(service_quotas: Any, quota: Quota) -> int:
    try:
        value = service_quotas.get_service_quota(ServiceCode=quota.service, QuotaCode=quota.code)["Quota"]["Value"]
    except ClientError as error:
        if error_code(error) != "NoSuchResourceException":  # never changed from the default
            raise
        return quota.default
    return int(value)


def check_dns_attributes(ec2: EC2Client, nekt_ec2: EC2Client, database: DatabaseFacts, nekt: NektFacts) -> None:
    """A publicly accessible database reached through the peering resolves to its private address from the
    Nekt VPC only with the peering's DNS option, which AWS accepts only when both VPCs have DNS hostnames
    and DNS resolution on: refuse now, by name, rather than roll back the whole connect at its last stage."""
    off = [f"{vpc_id} ({side}, account {account}, region {region}): {attribute}"
           for client, vpc_id, side, account, region in (
               (ec2, database["vpcId"], "database VPC", database["accountId"], database["region"]),
               (nekt_ec2, nekt["vpcId"], "Nekt VPC", nekt["accountId"], nekt["region"]))
           for attribute in ("enableDnsHostnames", "enableDnsSupport")
           if not vpc_attribute(client, vpc_id, attribute)]
    if off:
        raise VpcDnsDisabled(
            f"{database['identifier']} is publicly accessible, so through the peering its endpoint resolves to its "
            "private address only with the peering's DNS resolution option, which AWS allows only when both VPCs "
            f"have DNS hostnames and DNS resolution on. Off: {'; '.join(off)}. Nothing was changed. Turn them on "
            "(aws ec2 modify-vpc-attribute --vpc-id <vpc> --enable-dns-hostnames, then --enable-dns-support; for "
            "the Nekt VPC ask Nekt support), or connect with mode 'auto', then run again"
        )


def _live_peerings(ec2: EC2Client, states: list[str] | None = None) -> list[VpcPeeringConnectionTypeDef]:
    """The peerings this account sees in this region, in the given states (default: live)."""
    paginator = ec2.get_paginator("describe_vpc_peering_connections")
    pages = paginator.paginate(Filters=[{"Name": "status-code", "Values": states or sorted(LIVE_PEERING_STATES)}])
    return [pcx for page in pages for pcx in page["VpcPeeringConnections"]]


def _active_peerings_of(peerings: Sequence[VpcPeeringConnectionTypeDef], vpc_id: str) -> int:
    return sum(1 for pcx in peerings if pcx["Status"]["Code"] == "active"
               and vpc_id in (pcx["RequesterVpcInfo"].get("VpcId"), pcx["AccepterVpcInfo"].get("VpcId")))


def discover_database(
    rds: RDSClient, ec2: EC2Client, identifier: str, account_id: str, region: str,
    request: ConnectRequest | None = None, database_client: Callable[[str], Any] | None = None,
) -> DatabaseFacts:
    """The database (by the request's kind: an RDS one by `identifier` without a request) and its network.
    `database_client(service)`: a client of another service in the database's account and region."""
    clients = {"rds": rds, "ec2": ec2}

    def client(service: str) -> Any:
        if service not in clients:
            if database_client is None:
                raise InvalidSettings(f"reading this kind of database needs a {service} client (redeploy the stack)")
            clients[service] = database_client(service)
        return clients[service]

    database = describe_database(request or _rds_request(identifier, region), client, account_id, region)
    vpc_id = database["vpcId"]
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    if vpc.get("OwnerId", account_id) != account_id:
        raise SharedVpcNotSupported(
            f"{identifier} is in VPC {vpc_id}, which account {vpc['OwnerId']} owns and shares with this account "
            f"{account_id} (AWS RAM): only the VPC owner can create a peering from it or change its route tables. "
            f"Nothing was changed. Deploy this workflow in account {vpc['OwnerId']}, or ask Nekt support for a call"
        )
    route_tables = vpc_route_tables(ec2, vpc_id)
    subnet_ids = database["subnetIds"]
    database_route_tables = sorted({route_table_of(subnet, route_tables) for subnet in subnet_ids})
    return cast("DatabaseFacts", {
        **database,
        "accountId": account_id,
        "region": region,
        "cidrs": associated_cidrs(vpc),
        "subnetCidrs": _subnet_cidrs(ec2, subnet_ids),
        "networkAcls": read_network_acls(ec2, subnet_ids),
        "routeTables": [route_table_facts(route_tables[rt]) for rt in database_route_tables],
        "securityGroupRules": ingress_rules(ec2, database["securityGroupIds"][0]),
    })


def _rds_request(identifier: str, region: str) -> ConnectRequest:
    return ConnectRequest(identifier=identifier, region=region, mode="auto", connection_id=identifier, dry_run=False)


def _subnet_cidrs(ec2: EC2Client, subnet_ids: list[str]) -> list[str]:
    """Where the database's addresses can be: the IPv4 CIDRs of its subnets (an RDS subnet group's, ...)."""
    subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"] if subnet_ids else []
    return sorted({subnet["CidrBlock"] for subnet in subnets})


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
    route_tables = vpc_route_tables(ec2, settings.nekt_vpc_id)
    route_table = _nekt_private_route_table(route_tables, settings, where)
    private = [subnet for subnet in vpc_subnets(ec2, settings.nekt_vpc_id)
               if route_table_of(subnet["SubnetId"], route_tables) == route_table["RouteTableId"]]
    private_subnets = [subnet["CidrBlock"] for subnet in private]
    cidrs = associated_cidrs(vpc)
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
        "routeTable": route_table_facts(route_table),
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
