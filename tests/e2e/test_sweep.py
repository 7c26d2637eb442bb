"""The health sweep (statemachine/sweep.asl.json), started as its schedule starts it, over connections of every
path: a sweep with nothing wrong changes nothing and publishes nothing but its metric; then each connection drifts
in its own way, made by hand in the emulated accounts, and one sweep marks each DEGRADED naming its drift by id, in
its registry item and in a `Connection Degraded` event, leaves the one with nothing wrong alone, and counts them.
The drifts not made here are the integration tier's (tests/integration/test_drift.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from emulator.accounts import snapshot
from emulator.stack import DEFAULT_ACCOUNT, Stack
from emulator.topology import NektNetwork, account_session, create_database
from nekt_peering.handlers.record_sweep import METRIC, NAMESPACE
from nekt_peering.registry import store

PEERED = "us-east-2"  # the peering path's databases: cross-region


def connections(stack: Stack) -> dict[str, dict[str, Any]]:
    found = boto3.client("dynamodb", region_name=stack.region).scan(
        TableName=stack.tables["ConnectionsTable"], ConsistentRead=True)["Items"]
    return {values["connectionId"]: values for values in map(store.from_item, found) if values["sk"] == "connection"}


def without_health(items: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The items as a reader sees them, but for the health a check records (and the version its write counts)."""
    return {cid: {key: value for key, value in item.items() if key not in ("health", "version")}
            for cid, item in items.items()}


def health_events(stack: Stack) -> list[tuple[str, dict[str, Any]]]:
    return [(event["detail-type"], event["detail"]) for event in stack.published()
            if event["detail-type"] in ("Connection Degraded", "Connection Restored")]


def metric(stack: Stack, health: str) -> tuple[float, float]:
    """The sweeps' values for this health so far: how many were put, and their sum."""
    now = datetime.now(UTC)
    points = boto3.client("cloudwatch", region_name=stack.region).get_metric_statistics(
        Namespace=NAMESPACE, MetricName=METRIC, StartTime=now - timedelta(hours=1), EndTime=now + timedelta(hours=1),
        Period=7200, Statistics=["Sum", "SampleCount"],
        Dimensions=[{"Name": "Stack", "Value": stack.name}, {"Name": "Health", "Value": health}])["Datapoints"]
    return sum(point["SampleCount"] for point in points), sum(point["Sum"] for point in points)


def sweep(stack: Stack) -> dict[str, int]:
    swept = stack.wait(stack.fire_schedule())
    assert swept.status == "SUCCEEDED", swept.cause
    return dict(swept.output)


def acl_of(ec2: Any, subnet_id: str) -> str:
    return str(ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])[
        "NetworkAcls"][0]["NetworkAclId"])


def wait_until_gone(ec2: Any, endpoint_id: str) -> None:
    """AWS deletes an endpoint in its own time (the strict layer's Deleting, a few reads long)."""
    for _ in range(100):
        if all(found["State"] in ("Deleted", "deleted") for found in ec2.describe_vpc_endpoints()["VpcEndpoints"]
               if found["VpcEndpointId"] == endpoint_id):
            return
    raise AssertionError(f"{endpoint_id} still there")


def test_a_sweep_names_each_connection_s_drift_and_leaves_the_rest_as_it_was(deploy: Any, nekt: NektNetwork) -> None:
    databases = {name: create_database(name, region=PEERED, cidr=f"10.{index}.0.0/16") for index, name in enumerate(
        ("orders-healthy", "orders-route", "orders-peering", "orders-acl", "orders-stopped"))}
    databases["orders-public"] = create_database("orders-public", region=PEERED, cidr="10.5.0.0/16",
                                                 publicly_accessible=True)
    databases["orders-resource"] = create_database("orders-resource", region=nekt.region, cidr="10.6.0.0/16")
    stack = deploy(nekt)
    for name, database in databases.items():
        mode = {"mode": "resource-endpoint"} if name == "orders-resource" else {}
        connected = stack.run(database.connect_input(**mode))
        assert connected.status == "SUCCEEDED", (name, connected.cause)
    places = [(DEFAULT_ACCOUNT, PEERED), (DEFAULT_ACCOUNT, nekt.region), (nekt.account_id, nekt.region)]
    before, registry = snapshot(places), connections(stack)

    assert sweep(stack) == {"HEALTHY": 7, "DEGRADED": 0}

    assert snapshot(places) == before, "a sweep changes nothing in either account"
    swept = connections(stack)
    assert without_health(swept) == without_health(registry), "nor anything but each connection's health"
    assert {cid: item["health"]["state"] for cid, item in swept.items()} == dict.fromkeys(databases, "HEALTHY")
    assert health_events(stack) == [], "and publishes nothing"
    assert (metric(stack, "HEALTHY"), metric(stack, "DEGRADED")) == ((1, 7), (1, 0)), "but its metric"

    database_ec2 = account_session(DEFAULT_ACCOUNT, PEERED).client("ec2")
    # Someone tidies a route table, deletes "an unused peering", adds a network ACL, stops a database.
    database_ec2.delete_route(RouteTableId=databases["orders-route"].route_table_ids[0], DestinationCidrBlock=nekt.cidr)
    database_ec2.delete_vpc_peering_connection(
        VpcPeeringConnectionId=registry["orders-peering"]["result"]["peeringConnectionId"])
    database_ec2.create_network_acl_entry(
        NetworkAclId=acl_of(database_ec2, databases["orders-acl"].subnet_ids[0]), RuleNumber=50, Protocol="6",
        RuleAction="deny", Egress=False, CidrBlock=nekt.cidr, PortRange={"From": 5432, "To": 5432})
    account_session(DEFAULT_ACCOUNT, PEERED).client("rds").stop_db_instance(DBInstanceIdentifier="orders-stopped")
    # Tightens the public database's security group; deletes the resource endpoint in the Nekt VPC.
    public_group = databases["orders-public"].security_group_id
    rules = database_ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [public_group]}])["SecurityGroupRules"]
    database_ec2.revoke_security_group_ingress(GroupId=public_group, SecurityGroupRuleIds=[
        rule["SecurityGroupRuleId"] for rule in rules if not rule["IsEgress"]])
    nekt_ec2 = account_session(nekt.account_id, nekt.region).client("ec2")
    endpoint = registry["orders-resource"]["result"]["resourcePath"]["vpcEndpointId"]
    nekt_ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint])
    wait_until_gone(nekt_ec2, endpoint)
    drifted, registry = snapshot(places), connections(stack)

    assert sweep(stack) == {"HEALTHY": 1, "DEGRADED": 6}

    swept = connections(stack)
    drift = {cid: (item["health"]["state"], item["health"].get("drift")) for cid, item in swept.items()}
    assert drift == {
        "orders-healthy": ("HEALTHY", None),
        "orders-route": ("DEGRADED", ["route-missing"]),
        "orders-peering": ("DEGRADED", ["peering-gone"]),
        "orders-acl": ("DEGRADED", ["network-acl-denies"]),
        "orders-stopped": ("DEGRADED", ["database-stopped"]),
        "orders-public": ("DEGRADED", ["ingress-rule-missing"]),
        "orders-resource": ("DEGRADED", ["resource-endpoint-gone"]),
    }
    assert sorted(health_events(stack), key=lambda event: event[1]["connectionId"]) == sorted(
        (("Connection Degraded", {"connectionId": cid, "health": swept[cid]["health"]})
         for cid in databases if cid != "orders-healthy"), key=lambda event: event[1]["connectionId"])
    assert swept["orders-healthy"]["health"]["since"] == registry["orders-healthy"]["health"]["since"]
    assert without_health(swept) == without_health(registry)
    assert snapshot(places) == drifted, "a sweep repairs nothing: repair is a run of its own"
    assert (metric(stack, "HEALTHY"), metric(stack, "DEGRADED")) == ((2, 7 + 1), (2, 0 + 6))
