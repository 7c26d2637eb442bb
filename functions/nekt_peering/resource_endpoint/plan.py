"""The resource-endpoint path's part of Preflight's plan: the gateway, configuration and endpoint to reuse or make.

The database is shared as a VPC resource (AWS PrivateLink for VPC resources): a resource gateway in its
VPC, a resource configuration for it, a RAM share to the Nekt account, a resource VPC endpoint in Nekt's
private subnets. No peering and no route: overlapping CIDRs are allowed, and only the database's port is
exposed. The path is same-Region only (docs/aws-fidelity.md, "Facts for the workflow")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nekt_peering.core.errors import NoFreeAddresses, NoSharedZone, ResourcePathUnsupported
from nekt_peering.core.quotas import (
    CONFIGURATIONS_PER_CONNECTION,
    RESOURCE_CONFIGURATIONS_PER_REGION,
    RESOURCE_ENDPOINTS_PER_VPC,
    RESOURCE_GATEWAYS_PER_VPC,
    RULES_PER_GROUP,
    Quota,
)
from nekt_peering.resource_endpoint.names import gateway_name, is_ip_address

if TYPE_CHECKING:

    from nekt_peering.core.shapes import (
        Change,
        FoundGateway,
        PlannedConfiguration,
        PlannedResourcePath,
        RuleFacts,
        SubnetZone,
    )

# A resource endpoint takes a block of 16 contiguous free addresses in each of its subnets
# (docs/aws-fidelity.md, `resource-endpoint-addresses`), a resource gateway 16 addresses in each of its (its
# network interface's, ipv4AddressesPerEni's default): a subnet with fewer free cannot hold them.
ENDPOINT_ADDRESSES = 16
GATEWAY_ADDRESSES = 16
# "The following Availability Zones aren't supported for VPC Lattice" (Quotas for Amazon VPC Lattice).
UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2", "apne1-az3", "apne2-az2", "euc1-az2", "euw1-az4", "cac1-az3",
                                  "ilc1-az2"})
# "Each IPv4 address can support up to 55,000 simultaneous connections per destination IP" (resource gateways).
CONNECTIONS_PER_ADDRESS = 55_000
PEAK_CONNECTIONS = 10_000  # the most simultaneous connections Nekt opens to one database (its pools' ceiling)


def same_region(database: Mapping[str, Any], nekt: Mapping[str, Any]) -> bool:
    return bool(database["region"] == nekt["region"])


def other_region_reason(database: Mapping[str, Any], nekt: Mapping[str, Any]) -> str:
    return (f"The resource-endpoint path (which allows overlapping CIDRs) needs the database in the Nekt VPC's "
            f"Region ({nekt['region']}); {database['identifier']} is in {database['region']}")


def plan_resource_path(facts: Mapping[str, Any]) -> PlannedResourcePath:
    database, nekt, found = facts["database"], facts["nekt"], facts["resourcePath"]
    _refuse_what_the_path_cannot_connect(database, nekt)
    gateway = found["gateway"]
    account = database["accountId"]
    if gateway is not None:
        by_id = {zone["subnetId"]: zone for zone in found["databaseSubnets"]}
        gateway_zones = [by_id[subnet] for subnet in gateway["subnetIds"] if subnet in by_id]
        gateway_subnets = list(gateway["subnetIds"])
        _refuse_a_gateway_too_small(gateway, database)
    else:
        _refuse_past_a_quota(facts, RESOURCE_GATEWAYS_PER_VPC, "vpcGateways", 1, f"the database VPC "
                             f"{database['vpcId']}", "Delete resource gateways this VPC no longer uses")
        owned = [zone for zone in found["databaseSubnets"] if zone["ownerId"] in ("", account)]
        gateway_zones = _one_per_zone(_with_room(_supported(owned, "the database's subnets", database["vpcId"]),
                                                 GATEWAY_ADDRESSES, "the database's subnets that can hold a "
                                                 "resource gateway", "Free addresses in one of them (or add a "
                                                 "subnet with room to the database's subnet group)"))
        gateway_subnets = [zone["subnetId"] for zone in gateway_zones]
    if not found.get("configurationExists"):
        _refuse_past_a_quota(facts, RESOURCE_CONFIGURATIONS_PER_REGION, "configurations",
                             CONFIGURATIONS_PER_CONNECTION, f"account {account} in region {database['region']}",
                             "Delete resource configurations the account no longer uses")
    gateway_zone_ids = {zone["zoneId"] for zone in gateway_zones}
    nekt_zones = _supported(found["nektSubnets"], "Nekt's private subnets", nekt["vpcId"])
    shared_zones = [zone for zone in nekt_zones if zone["zoneId"] in gateway_zone_ids]
    if not shared_zones:
        raise NoSharedZone(
            f"the database's subnets that can hold a resource gateway are in the Availability Zones "
            f"{_zones(gateway_zones)}, Nekt's private subnets in {_zones(found['nektSubnets'])}: AWS requires at "
            "least one zone in common (compared by zone id, the same in every account). Nothing was changed. Add "
            "a subnet in one of Nekt's zones to the database's subnet group, or ask Nekt support for a private "
            "subnet in one of the database's zones, then run again")
    own = found.get("connectionEndpoint")
    endpoint_subnets = list(own["subnetIds"]) if own else _endpoint_subnets(shared_zones)
    needed = 0 if own else 1
    if found["nektResourceEndpoints"] + needed > RESOURCE_ENDPOINTS_PER_VPC.limit(facts, "nekt"):
        raise RESOURCE_ENDPOINTS_PER_VPC.refuse(
            f"the Nekt VPC {nekt['vpcId']} (account {nekt['accountId']}, region {nekt['region']})",
            found["nektResourceEndpoints"], needed, RESOURCE_ENDPOINTS_PER_VPC.limit(facts, "nekt"),
            "Ask Nekt support (the Nekt VPC holds one endpoint per customer database)")
    gateway_group = gateway["securityGroupIds"][0] if gateway and gateway["securityGroupIds"] else None
    if gateway_rule(database, gateway_group) is None:
        used, limit = len(database["securityGroupRules"]), RULES_PER_GROUP.limit(facts, "database")
        if used + 1 > limit:
            raise RULES_PER_GROUP.refuse(f"security group {database['securityGroupId']}", used, 1, limit,
                                         "Remove inbound rules it no longer uses")
    configuration = planned_configuration(database, found["databaseArn"])
    return {
        "gateway": {"resourceGatewayId": gateway["resourceGatewayId"] if gateway else None,
                    "subnetIds": gateway_subnets, "exists": gateway is not None},
        "configuration": configuration,
        "share": nekt["accountId"] != account,
        "endpoint": {"vpcId": nekt["vpcId"], "subnetIds": endpoint_subnets,
                     "allowedCidrs": [nekt["cidr"]], "port": int(database["port"]),
                     **private_dns(database, found)},  # type: ignore[typeddict-item]
    }


def private_dns(database: Mapping[str, Any], found: Mapping[str, Any]) -> dict[str, Any]:
    """The database keeps its own names (those its certificate covers) through the endpoint: private DNS for
    exactly those names (an ARN configuration's by AWS, an instance's as the configuration's custom domain
    name), which needs the Nekt VPC's DNS hostnames and DNS support, and no other endpoint of the Nekt VPC
    serving one of them already (another connection to the same database). Else the endpoint's own names."""
    names = [name for name in (database["endpoint"], database.get("readerEndpoint"))
             if name and not is_ip_address(name)]  # an IP address (EC2, address) has no name to keep
    if not names or not found.get("nektVpcDns") or set(names) & set(found.get("privateNamesInUse") or []):
        return {"privateDns": False, "privateDnsNames": []}
    return {"privateDns": True, "privateDnsNames": names}


def _refuse_what_the_path_cannot_connect(database: Mapping[str, Any], nekt: Mapping[str, Any]) -> None:
    if not same_region(database, nekt):
        raise ResourcePathUnsupported(f"{other_region_reason(database, nekt)}: a resource endpoint reaches a resource "
                                      "configuration of its own Region. Nothing was changed. Connect with mode "
                                      "'peering' or 'auto' (peering works across Regions)")
    if database["publiclyAccessible"]:
        raise ResourcePathUnsupported(
            f"{database['identifier']} is publicly accessible: AWS refuses a resource configuration for a publicly "
            "accessible cluster, and Nekt reaches a publicly accessible database by its public address. Nothing was "
            "changed. Connect with mode 'public' or 'auto', or make it private (not publicly accessible) first")


def _supported(zones: list[SubnetZone], which: str, vpc_id: str) -> list[SubnetZone]:
    """The subnets in zones VPC Lattice supports (AWS lists the others by zone id; for a resource endpoint's
    subnets as well: the stricter reading, the page names VPC Lattice as a whole)."""
    supported = [zone for zone in zones if zone["zoneId"] not in UNSUPPORTED_ZONE_IDS]
    if zones and not supported:
        raise ResourcePathUnsupported(
            f"{which} in {vpc_id} are all in Availability Zones VPC Lattice does not support "
            f"({_zones(zones)}; unsupported: {', '.join(sorted(UNSUPPORTED_ZONE_IDS))}). Nothing was changed. Add a "
            "subnet in another zone (for Nekt's, ask Nekt support), or connect with mode 'auto' or 'peering'")
    return supported


def _refuse_a_gateway_too_small(gateway: FoundGateway, database: Mapping[str, Any]) -> None:
    """Each of a gateway's addresses carries up to 55,000 simultaneous connections to one destination, and the
    number is fixed when the gateway is made."""
    capacity = gateway.get("ipv4AddressesPerEni", GATEWAY_ADDRESSES) * CONNECTIONS_PER_ADDRESS
    if capacity < PEAK_CONNECTIONS:
        raise ResourcePathUnsupported(
            f"resource gateway {gateway['resourceGatewayId']} in {database['vpcId']} has "
            f"{gateway.get('ipv4AddressesPerEni')} IPv4 addresses per network interface: {capacity} simultaneous "
            f"connections to {database['identifier']}, fewer than the {PEAK_CONNECTIONS} Nekt may open. Nothing was "
            "changed. Disconnect every connection of that VPC (the gateway then goes), then connect again")


def _refuse_past_a_quota(facts: Mapping[str, Any], quota: Quota, counted: str, needed: int, where: str,
                         free: str) -> None:
    used, limit = int(facts["resourcePath"].get(counted, 0)), quota.limit(facts, "database")
    if used + needed > limit:
        raise quota.refuse(where, used, needed, limit, free)


def planned_configuration(database: Mapping[str, Any], database_arn: str) -> PlannedConfiguration:
    """An Aurora cluster not publicly accessible by its ARN, which follows fail-overs (AWS documents the ARN
    type with cluster ARNs and refuses a publicly accessible cluster); anything else by its endpoint and port
    (a DNS name, or a private IP address: `domainName` holds either, and Share the database defines it as AWS's
    dnsResource or ipResource)."""
    if database["kind"] == "cluster" and not database["publiclyAccessible"]:
        return {"type": "ARN", "arn": database_arn, "domainName": None, "port": int(database["port"])}
    return {"type": "SINGLE", "arn": None, "domainName": database["endpoint"], "port": int(database["port"])}


def gateway_rule(database: Mapping[str, Any], group_id: str | None) -> RuleFacts | None:
    """The database group's rule (as Discover read it) admitting the gateway's group on the database's port."""
    return next((rule for rule in database["securityGroupRules"] if group_id and rule.get("sourceGroupId") == group_id
                 and rule["protocol"] == "tcp" and rule["fromPort"] == rule["toPort"] == database["port"]), None)


def _endpoint_subnets(shared_zones: list[SubnetZone]) -> list[str]:
    """One of Nekt's private subnets per zone shared with the gateway, among those with room for the endpoint
    (a zone without one is left out: one zone in common is what AWS requires)."""
    roomy = _with_room(shared_zones, ENDPOINT_ADDRESSES, "Nekt's private subnets in the zones the database's gateway "
                       "can use", "Ask Nekt support to free addresses in one of them, or to add a private subnet in "
                       "one of those zones", contiguous=True)
    return [zone["subnetId"] for zone in _one_per_zone(roomy)]


def _with_room(zones: list[SubnetZone], needed: int, which: str, remedy: str, contiguous: bool = False
               ) -> list[SubnetZone]:
    """The subnets with `needed` free addresses; none of them (when there are subnets): NoFreeAddresses."""
    roomy = [zone for zone in zones if zone["freeAddresses"] >= needed]
    if zones and not roomy:
        subnets = ", ".join(f"{zone['subnetId']} in {zone['zone']} ({zone['zoneId']}): {zone['freeAddresses']} free"
                            for zone in zones)
        thing = ("a resource endpoint takes {} contiguous free addresses in each of its subnets" if contiguous else
                 "a resource gateway takes {} addresses in each of its subnets").format(needed)
        raise NoFreeAddresses(f"{thing}, and none of {which} has that many ({subnets}). Nothing was changed. "
                              f"{remedy}, then run again")
    return roomy


def _one_per_zone(zones: list[SubnetZone]) -> list[SubnetZone]:
    chosen: dict[str, SubnetZone] = {}
    for zone in sorted(zones, key=lambda zone: zone["subnetId"]):
        chosen.setdefault(zone["zoneId"], zone)
    return sorted(chosen.values(), key=lambda zone: zone["zoneId"])


def _zones(zones: list[SubnetZone]) -> str:
    return ", ".join(sorted({f"{zone['zone']} ({zone['zoneId']})" for zone in zones})) or "none"


def resource_path_changes(facts: Mapping[str, Any], planned: PlannedResourcePath) -> list[Change]:
    database, nekt = facts["database"], facts["nekt"]
    changes: list[Change] = []
    if not planned["gateway"]["exists"]:
        changes += [
            {"action": "CreateSecurityGroup",
             "summary": f"a security group for the resource gateway in {database['vpcId']}"},
            {"action": "CreateResourceGateway", "summary": f"resource gateway {gateway_name(database['vpcId'])} in "
                                                           f"subnets {', '.join(planned['gateway']['subnetIds'])}"},
        ]
    configuration = planned["configuration"]
    target = configuration["arn"] if configuration["type"] == "ARN" else (
        f"{configuration['domainName']}:{configuration['port']}")
    gateway = facts["resourcePath"]["gateway"]
    if gateway_rule(database, gateway["securityGroupIds"][0] if gateway and gateway["securityGroupIds"] else None
                    ) is None:
        changes.append({"action": "AuthorizeSecurityGroupIngress", "summary": f"allow TCP {database['port']} from "
                        f"the resource gateway's security group on {database['securityGroupId']}"})
    changes.append({"action": "CreateResourceConfiguration",
                    "summary": f"resource configuration ({configuration['type']}) for {target}"})
    if planned["share"]:
        changes += [
            {"action": "CreateResourceShare", "summary": f"share it with account {nekt['accountId']} (AWS RAM)"},
            {"action": "AcceptResourceShareInvitation", "summary": f"accept the share in account {nekt['accountId']}"},
        ]
    if not facts["resourcePath"].get("connectionEndpoint"):  # the connection's own is there: kept as it is
        changes += [
            {"action": "CreateSecurityGroup", "summary": f"a security group for the endpoint in {nekt['vpcId']} "
                                                         f"admitting TCP {database['port']} from {nekt['cidr']}"},
            {"action": "CreateVpcEndpoint", "summary":
             f"resource VPC endpoint in {nekt['vpcId']}, subnets {', '.join(planned['endpoint']['subnetIds'])}"},
        ]
    return changes
