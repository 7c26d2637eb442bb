"""Preflight's part for the resource-endpoint path (resource_endpoint.plan), on facts alone: what the path
cannot connect is refused by name before any change, and the endpoint's private DNS names exactly the
database's own names when the Nekt VPC allows it and no other endpoint serves them."""

from __future__ import annotations

from typing import Any

import pytest

from nekt_peering.core.errors import QuotaExceeded, ResourcePathUnsupported
from nekt_peering.resource_endpoint.plan import plan_resource_path

WRITER = "orders-db.cluster-abc.us-east-1.rds.amazonaws.com"
READER = "orders-db.cluster-ro-abc.us-east-1.rds.amazonaws.com"


def zone(subnet: str, zone_id: str, owner: str = "123456789012", free: int = 200) -> dict[str, Any]:
    return {"subnetId": subnet, "zoneId": zone_id, "zone": f"us-east-1-{zone_id}", "cidr": "10.0.0.0/24",
            "ownerId": owner, "freeAddresses": free}


def facts(**changes: Any) -> dict[str, Any]:
    database = {"identifier": "orders-db", "kind": "cluster", "endpoint": WRITER, "readerEndpoint": READER,
                "port": 5432, "publiclyAccessible": False, "accountId": "123456789012", "region": "us-east-1",
                "vpcId": "vpc-0database", "securityGroupId": "sg-0database", "securityGroupRules": []}
    path = {"databaseArn": "arn:aws:rds:us-east-1:123456789012:cluster:orders-db",
            "databaseSubnets": [zone("subnet-0d1", "use1-az1"), zone("subnet-0d2", "use1-az2")],
            "nektSubnets": [zone("subnet-0n1", "use1-az1", "111111111111"), zone("subnet-0n2", "use1-az2",
                                                                                   "111111111111")],
            "gateway": None, "nektResourceEndpoints": 0, "connectionEndpoint": None, "nektVpcDns": False,
            "privateNamesInUse": [], "vpcGateways": 0, "configurations": 0, "configurationExists": False}
    nekt = {"accountId": "111111111111", "region": "us-east-1", "vpcId": "vpc-0nekt", "cidr": "10.100.0.0/23"}
    for key, value in changes.items():
        where, _, name = key.partition("__")
        {"database": database, "path": path, "nekt": nekt}[where][name] = value
    return {"database": database, "nekt": nekt, "resourcePath": path, "quotas": {"limits": {}}}


def test_a_private_cluster_in_nekt_s_region_is_planned() -> None:
    planned = plan_resource_path(facts())
    assert planned["configuration"]["type"] == "ARN" and planned["gateway"]["subnetIds"] == ["subnet-0d1", "subnet-0d2"]
    assert (planned["endpoint"]["privateDns"], planned["endpoint"]["privateDnsNames"]) == (False, [])


def test_with_dns_in_the_nekt_vpc_the_endpoint_serves_the_database_s_own_names_and_only_those() -> None:
    assert plan_resource_path(facts(path__nektVpcDns=True))["endpoint"]["privateDnsNames"] == [WRITER, READER]


def test_names_another_endpoint_serves_already_are_not_asked_for_again() -> None:
    planned = plan_resource_path(facts(path__nektVpcDns=True, path__privateNamesInUse=[READER]))
    assert (planned["endpoint"]["privateDns"], planned["endpoint"]["privateDnsNames"]) == (False, [])


@pytest.mark.parametrize(("change", "said"), [
    ({"database__region": "eu-west-1"}, "needs the database in the Nekt VPC's Region"),
    ({"database__publiclyAccessible": True}, "is publicly accessible"),
    ({"path__databaseSubnets": [zone("subnet-0d1", "use1-az3")]}, "VPC Lattice does not support"),
    ({"path__nektSubnets": [zone("subnet-0n1", "use1-az3", "111111111111")]}, "VPC Lattice does not support"),
    ({"path__gateway": {"resourceGatewayId": "rgw-0small", "resourceGatewayArn": "arn", "status": "ACTIVE",
                        "securityGroupIds": ["sg-0g"], "subnetIds": ["subnet-0d1"], "connectionTag": "other",
                        "ipv4AddressesPerEni": 0}}, "simultaneous connections"),
])
def test_what_the_path_cannot_connect_is_refused_by_name(change: dict[str, Any], said: str) -> None:
    with pytest.raises(ResourcePathUnsupported) as refused:
        plan_resource_path(facts(**change))
    assert said in str(refused.value) and "Nothing was changed" in str(refused.value)


def test_only_unsupported_zones_are_left_out_when_others_remain() -> None:
    planned = plan_resource_path(facts(path__databaseSubnets=[zone("subnet-0d1", "use1-az1"),
                                                              zone("subnet-0d3", "use1-az3")]))
    assert planned["gateway"]["subnetIds"] == ["subnet-0d1"] and planned["endpoint"]["subnetIds"] == ["subnet-0n1"]


@pytest.mark.parametrize(("change", "code"), [
    ({"path__vpcGateways": 100}, "L-0DCA4434"),
    ({"path__configurations": 1998}, "L-5FF8F9B9"),
])
def test_vpc_lattice_s_quotas_are_refused_before_any_change(change: dict[str, Any], code: str) -> None:
    with pytest.raises(QuotaExceeded) as refused:
        plan_resource_path(facts(**change))
    assert code in str(refused.value) and "Amazon VPC Lattice" in str(refused.value)


def test_a_raised_lattice_quota_is_honoured_and_a_connection_s_own_configuration_needs_none() -> None:
    raised = facts(path__configurations=1998)
    raised["quotas"]["limits"] = {"database": {"L-5FF8F9B9": 3000}}
    plan_resource_path(raised)
    plan_resource_path(facts(path__configurations=2000, path__configurationExists=True))
