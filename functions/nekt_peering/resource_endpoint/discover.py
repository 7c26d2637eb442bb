"""The resource-endpoint path's facts, for Discover: the database's and Nekt's subnets by
zone, the product's resource gateway in the database VPC, and the resource endpoints of the Nekt VPC."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nekt_peering.core.ec2 import vpc_attribute
from nekt_peering.resource_endpoint.find import (
    database_endpoints,
    endpoint_associations,
    find_configuration,
    find_product_gateway,
    is_connection_endpoint,
)
from nekt_peering.resource_endpoint.names import all_pages

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from nekt_peering.core.shapes import DatabaseFacts, NektFacts, ResourcePathFacts, SubnetZone

LIVE_ENDPOINT_STATES = frozenset({"PendingAcceptance", "Pending", "Available"})


def discover_resource_path(ec2: EC2Client, lattice: Any, nekt_ec2: EC2Client, database: DatabaseFacts,
                           nekt: NektFacts, connection_id: str) -> ResourcePathFacts:
    endpoints = [endpoint for page in nekt_ec2.get_paginator("describe_vpc_endpoints").paginate(
        Filters=[{"Name": "vpc-id", "Values": [nekt["vpcId"]]}, {"Name": "vpc-endpoint-type", "Values": ["Resource"]}])
        for endpoint in page["VpcEndpoints"] if endpoint["State"] in LIVE_ENDPOINT_STATES]
    own = next((endpoint for endpoint in endpoints if is_connection_endpoint(endpoint, connection_id)), None)
    configurations = list(all_pages(lattice.list_resource_configurations, "items"))  # read once, used thrice
    configuration = find_configuration(lattice, connection_id, configurations)
    gateways = [gateway for gateway in all_pages(lattice.list_resource_gateways, "items")
                if gateway.get("vpcIdentifier") == database["vpcId"]]
    others = [endpoint["VpcEndpointId"] for endpoint in endpoints if endpoint.get("PrivateDnsEnabled")
              and endpoint is not own]
    facts: ResourcePathFacts = {
        "databaseArn": database.get("arn") or "",
        "databaseSubnets": subnet_zones(ec2, database["subnetIds"]),
        "nektSubnets": subnet_zones(nekt_ec2, nekt["privateSubnetIds"]),
        "gateway": find_product_gateway(lattice, database["vpcId"]),
        "nektResourceEndpoints": len(endpoints),
        "connectionEndpoint": {"vpcEndpointId": own["VpcEndpointId"], "subnetIds": list(own.get("SubnetIds", []))}
        if own else None,
        "privateNamesInUse": _private_names(nekt_ec2, others),
        "nektVpcDns": all(vpc_attribute(nekt_ec2, nekt["vpcId"], name) for name in ("enableDnsHostnames",
                                                                                      "enableDnsSupport")),
        "vpcGateways": len(gateways), "configurations": len(configurations),
        "configurationExists": configuration is not None,
    }
    if configuration and own:
        facts["endpoints"] = database_endpoints(lattice, {"database": database}, configuration, configurations)
    return facts


def _private_names(nekt_ec2: EC2Client, endpoint_ids: list[str]) -> list[str]:
    """The names other resource endpoints of the Nekt VPC serve by private DNS (their associations')."""
    return sorted({association["PrivateDnsEntry"]["DnsName"] for association in endpoint_associations(
        nekt_ec2, endpoint_ids) if (association.get("PrivateDnsEntry") or {}).get("DnsName")})


def subnet_zones(ec2: EC2Client, subnet_ids: list[str]) -> list[SubnetZone]:
    subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"] if subnet_ids else []
    return sorted(({"subnetId": subnet["SubnetId"], "zoneId": subnet.get("AvailabilityZoneId", ""),
                    "zone": subnet.get("AvailabilityZone", ""), "cidr": subnet["CidrBlock"],
                    "ownerId": subnet.get("OwnerId", ""), "freeAddresses": subnet.get("AvailableIpAddressCount", 0)}
                   for subnet in subnets), key=lambda zone: zone["subnetId"])
