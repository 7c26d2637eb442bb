"""The resource-endpoint path's stage logic (nekt_peering.resource_path) on the strict emulator, across the
customer's account and Nekt's: the database shared as a resource configuration through the product's
resource gateway, accepted by Nekt and reached from a resource endpoint in Nekt's private subnets; a repeat
makes no change; a crash half way is picked up; the compensations leave both accounts as they were."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.accounts import aws_calls, is_mutating, snapshot
from emulator.stack import DEFAULT_ACCOUNT
from emulator.strict import StrictAws
from emulator.strict.lattice import LatticeBook, Timing
from emulator.topology import (
    CustomerDatabase,
    NektNetwork,
    account_session,
    add_database,
    create_database,
    create_nekt_network,
)
from nekt_peering.core.compensation import Rollback
from nekt_peering.core.errors import (
    ChangeRefused,
    ResourceConfigurationFailed,
    ResourcePathTimeout,
    ResourceShareRejected,
)
from nekt_peering.core.model import CONNECTION_TAG_KEY
from nekt_peering.core.shapes import (
    DatabaseFacts,
    Facts,
    NektFacts,
    Plan,
    PlannedResourcePath,
    ResourcePathFacts,
    SettingsData,
    SubnetZone,
)
from nekt_peering.resource_endpoint.endpoint import create_resource_endpoint
from nekt_peering.resource_endpoint.names import configuration_name
from nekt_peering.resource_endpoint.plan import plan_resource_path
from nekt_peering.resource_endpoint.share import share_database
from nekt_peering.resource_endpoint.undo import removal_of, remove_resource_endpoint, unshare_database

REGION = "us-east-1"
CUSTOMER = DEFAULT_ACCOUNT
NEKT = "111111111111"
MANAGED = {"nekt:managed-by": "nekt-peering"}


def client(account: str, service: str) -> Any:
    session: Any = account_session(account, REGION)
    return session.client(service)


def customer(account: str = CUSTOMER) -> tuple[Any, Any, Any]:
    return client(account, "ec2"), client(account, "vpc-lattice"), client(account, "ram")


def book(strict: StrictAws) -> LatticeBook:
    return strict.rule("vpc-lattice-api").book  # type: ignore[attr-defined]


# --- the state the stages take: Discover's facts and Preflight's plan, written out --------------------------


def _zones(account: str, subnet_ids: list[str]) -> list[SubnetZone]:
    subnets = client(account, "ec2").describe_subnets(SubnetIds=subnet_ids)["Subnets"]
    return [{"subnetId": s["SubnetId"], "zoneId": s["AvailabilityZoneId"], "zone": s["AvailabilityZone"],
             "cidr": s["CidrBlock"], "ownerId": s["OwnerId"], "freeAddresses": s["AvailableIpAddressCount"]}
            for s in subnets]


def connect_state(db: CustomerDatabase, nekt: NektNetwork, connection_id: str = "orders-db",
                  gateway_id: str | None = None, max_polls: int = 5) -> dict[str, Any]:
    """What Discover and Preflight hand Share the database for `db`: same Region, a cluster by its ARN,
    an instance by its endpoint and port; the Nekt account's share when Nekt is another account."""
    ec2, rds = client(db.account_id, "ec2"), client(db.account_id, "rds")
    if db.kind == "cluster":
        described = rds.describe_db_clusters(DBClusterIdentifier=db.identifier)["DBClusters"][0]
        endpoint, arn = described["Endpoint"], described["DBClusterArn"]
    else:
        described = rds.describe_db_instances(DBInstanceIdentifier=db.identifier)["DBInstances"][0]
        endpoint, arn = described["Endpoint"]["Address"], described["DBInstanceArn"]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [db.security_group_id]}])
    settings: SettingsData = {
        "stackAccountId": db.account_id, "stackRegion": REGION, "nektAccountId": nekt.account_id,
        "nektRegion": REGION, "nektVpcId": nekt.vpc_id, "nektRouteTableId": nekt.private_route_table_id,
        "nektAccepterRoleArn": nekt.accepter_role_arn if nekt.account_id != db.account_id else "",
        "nektExternalId": "nekt-demo-external-id" if nekt.account_id != db.account_id else "",
        "nektPublicIp": "52.1.2.3", "pollIntervalSeconds": 0, "maxPolls": max_polls, "nektProbeFunctionArn": "",
    }
    database: DatabaseFacts = {
        "identifier": db.identifier, "kind": "cluster" if db.kind == "cluster" else "instance",
        "engine": "postgres", "status": "available", "endpoint": endpoint, "port": db.port,
        "readerEndpoint": described.get("ReaderEndpoint"),
        "publiclyAccessible": False, "vpcId": db.vpc_id, "securityGroupIds": [db.security_group_id],
        "securityGroupId": db.security_group_id, "accountId": db.account_id, "region": REGION, "cidrs": db.cidrs,
        "routeTables": [], "subnetIds": db.subnet_ids, "subnetCidrs": [],
        "securityGroupRules": [{"ruleId": r["SecurityGroupRuleId"], "protocol": r.get("IpProtocol"),
                                "fromPort": r.get("FromPort"), "toPort": r.get("ToPort"), "cidr": r.get("CidrIpv4"),
                                "description": "", "tags": {}}
                               for r in rules["SecurityGroupRules"] if not r["IsEgress"]],
        "networkAcls": [],
    }
    private_cidrs = [s["cidr"] for s in _zones(nekt.account_id, nekt.private_subnet_ids)]
    nekt_facts: NektFacts = {
        "accountId": nekt.account_id, "region": REGION, "vpcId": nekt.vpc_id, "cidrs": nekt.cidrs,
        "cidr": nekt.cidr, "routeTable": {"routeTableId": nekt.private_route_table_id, "routes": []},
        "privateSubnetIds": nekt.private_subnet_ids, "privateSubnetCidrs": private_cidrs, "networkAcls": [],
    }
    path_facts: ResourcePathFacts = {
        "databaseArn": arn, "databaseSubnets": _zones(db.account_id, db.subnet_ids),
        "nektSubnets": _zones(nekt.account_id, nekt.private_subnet_ids), "gateway": None, "nektResourceEndpoints": 0,
        "connectionEndpoint": None,
    }
    facts: Facts = {
        "request": {"identifier": db.identifier, "region": REGION, "mode": "auto", "connectionId": connection_id,
                    "dryRun": False},
        "settings": settings, "mode": "resource-endpoint", "database": database, "nekt": nekt_facts,
        "peerings": [], "resourcePath": path_facts, "modeReason": "the database VPC overlaps the Nekt VPC",
    }
    planned: PlannedResourcePath = {
        "gateway": {"resourceGatewayId": gateway_id, "subnetIds": db.subnet_ids[:2], "exists": gateway_id is not None},
        "configuration": {"type": "ARN" if db.kind == "cluster" else "SINGLE",
                          "arn": arn if db.kind == "cluster" else None,
                          "domainName": None if db.kind == "cluster" else endpoint, "port": db.port},
        "share": nekt.account_id != db.account_id,
        "endpoint": {"vpcId": nekt.vpc_id, "subnetIds": nekt.private_subnet_ids, "allowedCidrs": private_cidrs,
                     "port": db.port},
    }
    plan: Plan = {
        "status": "PLANNED", "mode": "resource-endpoint", "resourcePath": planned, "connectionId": connection_id,
        "dryRun": False,
        "database": {"identifier": db.identifier, "kind": db.kind, "engine": "postgres", "endpoint": endpoint,
                     "port": db.port, "accountId": db.account_id, "region": REGION, "vpcId": db.vpc_id},
        "peering": None, "routes": [],
        "ingress": {"groupId": db.security_group_id, "port": db.port, "cidr": nekt.cidr, "exists": False,
                    "ruleId": None},
        "dnsResolution": {"needed": False, "reason": "no peering"}, "changes": [],
    }
    return {"discovery": facts, "plan": plan}


# --- running the stages as the workflow does ----------------------------------------------------------------


def share(state: dict[str, Any], account: str = CUSTOMER, polls: int = 10) -> dict[str, Any]:
    """Share the database, run again while it waits (as the workflow's Wait/Choice loop does)."""
    for _ in range(polls):
        state["sharedDatabase"] = share_database(*customer(account), state)
        if not state["sharedDatabase"]["waiting"]:
            return dict(state["sharedDatabase"])
    raise AssertionError(f"still waiting: {state['sharedDatabase']}")


def endpoint(state: dict[str, Any], account: str = NEKT, polls: int = 10) -> dict[str, Any]:
    for _ in range(polls):
        state["resourceEndpoint"] = create_resource_endpoint(
            client(account, "ec2"), client(account, "ram"), state)
        if not state["resourceEndpoint"]["waiting"]:
            return dict(state["resourceEndpoint"])
    raise AssertionError(f"still waiting: {state['resourceEndpoint']}")


def connect(state: dict[str, Any], nekt_account: str = NEKT) -> None:
    share(state)
    endpoint(state, nekt_account)


def remove(state: dict[str, Any], nekt_account: str = NEKT, polls: int = 10) -> dict[str, Any]:
    """The compensations in the workflow's order, each run again while it waits: the Nekt side, then the
    customer's."""
    steps: list[Callable[[Rollback], None]] = [
        lambda rollback: remove_resource_endpoint(client(nekt_account, "ec2"), state, rollback),
        lambda rollback: unshare_database(*customer(), state, rollback),
    ]
    for step in steps:
        for _ in range(polls):
            rollback = Rollback(state)
            step(rollback)
            state["rollback"] = dict(rollback.result())
            if not rollback.waiting:
                break
        else:
            raise AssertionError(f"still waiting: {state['rollback']}")
    return dict(state["rollback"])


def lattice_state(accounts: list[str]) -> dict[str, Any]:
    """What the path can change, per account, beyond snapshot()'s rules: resource gateways and
    configurations, live RAM shares, live resource endpoints, security groups, rules with their group
    references."""
    state: dict[str, Any] = snapshot([(account, REGION) for account in accounts])
    for account in accounts:
        ec2, lattice, ram = customer(account)
        state[account] = {
            "gateways": sorted(g["name"] for g in lattice.list_resource_gateways()["items"]),
            "configurations": sorted(c["name"] for c in lattice.list_resource_configurations()["items"]),
            "shares": sorted(s["name"] for s in ram.get_resource_shares(resourceOwner="SELF")["resourceShares"]
                             if s["status"] != "DELETED"),
            "endpoints": sorted(e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
                                if e["State"] != "Deleted"),
            "groups": sorted(g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]),
            "references": sorted((r["GroupId"], r.get("ReferencedGroupInfo", {}).get("GroupId", ""))
                                 for r in ec2.describe_security_group_rules()["SecurityGroupRules"]),
        }
    return state


def mutating(calls: Any) -> dict[tuple[str, str], int]:
    return {call: n for call, n in calls.items() if is_mutating(call[1])}


@pytest.fixture
def overlapping() -> tuple[CustomerDatabase, NektNetwork]:
    """An Aurora cluster whose VPC overlaps the Nekt VPC (peering is impossible), in Nekt's Region."""
    nekt = create_nekt_network(region=REGION)
    db = create_database(region=REGION, kind="cluster", engine="postgresql", cidr="10.100.0.0/16")
    return db, nekt


# --- the path ---------------------------------------------------------------------------------------------


def test_an_overlapping_cluster_is_shared_by_its_arn_and_reached_through_a_resource_endpoint(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    state = connect_state(db, nekt)

    first = share_database(*customer(), state)
    assert (first["waiting"], first["polls"], first["gatewayStatus"]) == (True, 1, "CREATE_IN_PROGRESS")
    state["sharedDatabase"] = first
    shared = share(state)
    assert shared["gatewayCreated"] and shared["ingressCreated"] and shared["configurationCreated"]
    assert shared["shareCreated"] and shared["gatewayStatus"] == "ACTIVE" and not shared["waiting"]

    ec2, lattice, ram = customer()
    gateway = lattice.get_resource_gateway(resourceGatewayIdentifier=shared["resourceGatewayId"])
    assert (gateway["name"], gateway["vpcId"], gateway["status"]) == (f"nekt-{db.vpc_id}", db.vpc_id, "ACTIVE")
    assert gateway["subnetIds"] == db.subnet_ids[:2] and gateway["securityGroupIds"] == [
        shared["gatewaySecurityGroupId"]]
    assert lattice.list_tags_for_resource(resourceArn=gateway["arn"])["tags"] == {
        "Name": f"nekt-{db.vpc_id}", CONNECTION_TAG_KEY: "orders-db", **MANAGED}
    group = ec2.describe_security_groups(GroupIds=[shared["gatewaySecurityGroupId"]])["SecurityGroups"][0]
    assert (group["GroupName"], group["VpcId"]) == (f"nekt-resource-gateway-{db.vpc_id}", db.vpc_id)
    rule = ec2.describe_security_group_rules(SecurityGroupRuleIds=[shared["ingressRuleId"]])["SecurityGroupRules"][0]
    assert (rule["GroupId"], rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == (
        db.security_group_id, "tcp", db.port, db.port)
    assert rule["ReferencedGroupInfo"]["GroupId"] == shared["gatewaySecurityGroupId"] and not rule.get("CidrIpv4")
    assert {t["Key"]: t["Value"] for t in rule["Tags"]}[CONNECTION_TAG_KEY] == "orders-db"
    configuration = lattice.get_resource_configuration(
        resourceConfigurationIdentifier=shared["resourceConfigurationId"])
    assert (configuration["type"], configuration["resourceGatewayId"]) == ("ARN", shared["resourceGatewayId"])
    assert configuration["resourceConfigurationDefinition"] == {"arnResource": {
        "arn": f"arn:aws:rds:{REGION}:{CUSTOMER}:cluster:{db.identifier}"}}
    assert configuration["allowAssociationToShareableServiceNetwork"] is False
    assert 3 <= len(configuration["name"]) <= 40 and configuration["name"].startswith("nekt-orders-db-")
    found = ram.get_resource_shares(resourceOwner="SELF", resourceShareArns=[shared["resourceShareArn"]])
    assert found["resourceShares"][0]["status"] == "ACTIVE"
    principals = ram.get_resource_share_associations(associationType="PRINCIPAL", resourceShareArns=[
        shared["resourceShareArn"]])["resourceShareAssociations"]
    assert [(p["associatedEntity"], p["status"]) for p in principals] == [(NEKT, "ASSOCIATING")]

    made = endpoint(state)
    assert made["invitationAccepted"] and made["created"] and made["state"] == "Available"
    cluster = client(CUSTOMER, "rds").describe_db_clusters(DBClusterIdentifier=db.identifier)[
        "DBClusters"][0]
    # One name per cluster endpoint, from the endpoint's associations; Nekt connects to the writer's.
    assert [(name["role"], name["domainName"], name["accessible"]) for name in made["names"]] == [
        ("writer", cluster["Endpoint"], True), ("reader", cluster["ReaderEndpoint"], True)]
    assert [endpoint["role"] for endpoint in shared["endpoints"]] == ["writer", "reader"]
    assert made["dnsName"] == made["names"][0]["dnsName"] and made["names"][0]["privateDnsName"] is None
    assert made["dnsName"].startswith(f"{made['vpcEndpointId']}.rcfg-")
    assert made["dnsName"].endswith(f".vpc-lattice-rsc.{REGION}.on.aws")
    nekt_ec2 = client(NEKT, "ec2")
    described = nekt_ec2.describe_vpc_endpoints(VpcEndpointIds=[made["vpcEndpointId"]])["VpcEndpoints"][0]
    assert (described["VpcEndpointType"], described["VpcId"], described["ResourceConfigurationArn"]) == (
        "Resource", nekt.vpc_id, shared["resourceConfigurationArn"])
    assert sorted(described["SubnetIds"]) == sorted(nekt.private_subnet_ids) and not described["PrivateDnsEnabled"]
    assert [g["GroupId"] for g in described["Groups"]] == [made["securityGroupId"]]
    assert {t["Key"]: t["Value"] for t in described["Tags"]}[CONNECTION_TAG_KEY] == "orders-db"
    endpoint_rules = nekt_ec2.describe_security_group_rules(Filters=[
        {"Name": "group-id", "Values": [made["securityGroupId"]]}])["SecurityGroupRules"]
    assert sorted(r["CidrIpv4"] for r in endpoint_rules if not r["IsEgress"]) == sorted(
        state["plan"]["resourcePath"]["endpoint"]["allowedCidrs"])
    assert all((r["FromPort"], r["ToPort"]) == (db.port, db.port) for r in endpoint_rules if not r["IsEgress"])
    assert ram.get_resource_share_associations(associationType="PRINCIPAL", resourceShareArns=[
        shared["resourceShareArn"]])["resourceShareAssociations"][0]["status"] == "ASSOCIATED"

    # A repeat of both stages (a new execution, whose Discover found the gateway) changes nothing and says so.
    repeat = connect_state(db, nekt, gateway_id=shared["resourceGatewayId"])
    repeat["discovery"]["resourcePath"] |= {"configurationExists": True, "connectionEndpoint": {
        "vpcEndpointId": made["vpcEndpointId"], "subnetIds": nekt.private_subnet_ids}}  # what its Discover saw
    with aws_calls() as calls:
        again = share(repeat)
        again_endpoint = endpoint(repeat)
    assert mutating(calls) == {} and calls
    assert again["resourceGatewayId"] == shared["resourceGatewayId"] and not again["gatewayCreated"]
    assert (again["resourceConfigurationArn"], again["resourceShareArn"], again["ingressRuleId"]) == (
        shared["resourceConfigurationArn"], shared["resourceShareArn"], shared["ingressRuleId"])
    assert not (again["configurationCreated"] or again["shareCreated"] or again["ingressCreated"])
    assert (again_endpoint["vpcEndpointId"], again_endpoint["dnsName"]) == (made["vpcEndpointId"], made["dnsName"])
    assert not (again_endpoint["created"] or again_endpoint["invitationAccepted"])


def test_an_instance_is_shared_by_its_endpoint_and_port(strict: StrictAws) -> None:
    nekt = create_nekt_network(region=REGION)
    db = create_database(region=REGION, kind="instance", port=5433)
    state = connect_state(db, nekt)
    connect(state)
    configuration = client(CUSTOMER, "vpc-lattice").get_resource_configuration(
        resourceConfigurationIdentifier=state["sharedDatabase"]["resourceConfigurationId"])
    assert (configuration["type"], configuration["portRanges"], configuration["protocol"]) == (
        "SINGLE", ["5433"], "TCP")
    assert configuration["resourceConfigurationDefinition"]["dnsResource"] == {
        "domainName": state["discovery"]["database"]["endpoint"], "ipAddressType": "IPV4"}
    assert state["resourceEndpoint"]["state"] == "Available" and state["resourceEndpoint"]["dnsName"]


def test_nekt_in_the_customer_s_account_needs_no_share(strict: StrictAws) -> None:
    nekt = create_nekt_network(account_id=CUSTOMER, region=REGION)
    db = create_database(region=REGION, kind="cluster", engine="postgresql", cidr="10.100.0.0/16")
    before = lattice_state([CUSTOMER])
    state = connect_state(db, nekt)
    assert state["plan"]["resourcePath"]["share"] is False
    with aws_calls() as calls:
        connect(state, nekt_account=CUSTOMER)
    assert state["sharedDatabase"]["resourceShareArn"] is None and not state["sharedDatabase"]["shareCreated"]
    assert not [call for call in calls if call[0] == "ram" and is_mutating(call[1])]
    assert state["resourceEndpoint"]["state"] == "Available" and not state["resourceEndpoint"]["invitationAccepted"]
    assert client(CUSTOMER, "ram").get_resource_shares(resourceOwner="SELF")["resourceShares"] == []
    outcome = remove(state, nekt_account=CUSTOMER)
    assert outcome["complete"] and lattice_state([CUSTOMER]) == before


def test_inside_one_organization_there_is_no_invitation_and_the_share_is_used_as_it_is(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    book(strict).organization_sharing |= {CUSTOMER, NEKT}
    state = connect_state(db, nekt)
    share(state)
    with aws_calls() as calls:
        made = endpoint(state)
    assert made["state"] == "Available" and not made["invitationAccepted"]
    assert ("ram", "AcceptResourceShareInvitation") not in calls


def test_an_invitation_not_visible_yet_is_waited_for_within_max_polls(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    state = connect_state(db, nekt, max_polls=2)
    share(state)
    invitations = book(strict).invitations
    hidden = dict(invitations)
    invitations.clear()  # RAM is eventually consistent: the invitation is not there yet
    waiting = create_resource_endpoint(client(NEKT, "ec2"), client(NEKT, "ram"), state)
    assert (waiting["waiting"], waiting["polls"], waiting["vpcEndpointId"]) == (True, 1, None)
    assert client(NEKT, "ec2").describe_security_groups(Filters=[
        {"Name": "group-name", "Values": ["nekt-endpoint-orders-db"]}])["SecurityGroups"] == []
    state["resourceEndpoint"] = waiting
    state["resourceEndpoint"] = create_resource_endpoint(client(NEKT, "ec2"), client(NEKT, "ram"), state)
    with pytest.raises(ResourcePathTimeout) as late:
        create_resource_endpoint(client(NEKT, "ec2"), client(NEKT, "ram"), state)
    assert "after 2 polls" in str(late.value) and state["sharedDatabase"]["resourceShareArn"] in str(late.value)
    invitations.update(hidden)
    state.pop("resourceEndpoint")
    assert endpoint(state)["state"] == "Available"


def test_a_rejected_invitation_is_a_named_error_and_nekt_s_account_is_untouched(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    state = connect_state(db, nekt)
    share(state)
    nekt_ram = client(NEKT, "ram")
    invitation = nekt_ram.get_resource_share_invitations()["resourceShareInvitations"][0]
    nekt_ram.reject_resource_share_invitation(resourceShareInvitationArn=invitation["resourceShareInvitationArn"])
    before = lattice_state([NEKT])
    with pytest.raises(ResourceShareRejected) as rejected:
        create_resource_endpoint(client(NEKT, "ec2"), nekt_ram, state)
    assert "REJECTED" in str(rejected.value) and state["sharedDatabase"]["resourceShareArn"] in str(rejected.value)
    assert lattice_state([NEKT]) == before


def test_a_slow_gateway_is_a_named_timeout_after_max_polls(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    book(strict).timing = Timing(gateway_creating=10)
    state = connect_state(db, nekt, max_polls=3)
    for polls in (1, 2, 3):
        state["sharedDatabase"] = share_database(*customer(), state)
        assert (state["sharedDatabase"]["waiting"], state["sharedDatabase"]["polls"]) == (True, polls)
    with pytest.raises(ResourcePathTimeout) as late:
        share_database(*customer(), state)
    assert state["sharedDatabase"]["resourceGatewayId"] in str(late.value) and "CREATE_IN_PROGRESS" in str(late.value)


def test_a_crash_after_the_gateway_s_create_reuses_it_and_still_marks_it_created(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    state = connect_state(db, nekt)
    lost = share_database(*customer(), state)  # its record never reached the execution
    with aws_calls() as calls:
        shared = share(state)
    assert shared["resourceGatewayId"] == lost["resourceGatewayId"] and shared["gatewayCreated"]
    assert ("vpc-lattice", "CreateResourceGateway") not in calls and ("ec2", "CreateSecurityGroup") not in calls
    assert len(client(CUSTOMER, "vpc-lattice").list_resource_gateways()["items"]) == 1


def test_a_crash_after_the_configuration_s_and_the_rule_s_create_finds_them(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    state = connect_state(db, nekt)
    shared = share(state)
    state.pop("sharedDatabase")  # the run that made them crashed before its record was kept
    with aws_calls() as calls:
        again = share(state)
    assert mutating(calls) == {}
    assert (again["resourceConfigurationId"], again["ingressRuleId"], again["resourceShareArn"]) == (
        shared["resourceConfigurationId"], shared["ingressRuleId"], shared["resourceShareArn"])
    assert again["gatewayCreated"] and again["ingressCreated"]  # not there when Discover read the group


def test_a_second_database_of_the_vpc_reuses_the_gateway_and_its_rule(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    first = connect_state(db, nekt)
    connect(first)
    after_first = lattice_state([CUSTOMER, NEKT])
    second_db = add_database(db, "billing-db")  # an instance on the same security group and port
    second = connect_state(second_db, nekt, connection_id="billing-db",
                           gateway_id=first["sharedDatabase"]["resourceGatewayId"])
    shared = share(second)
    assert shared["resourceGatewayId"] == first["sharedDatabase"]["resourceGatewayId"]
    assert not shared["gatewayCreated"] and not shared["ingressCreated"]
    assert shared["ingressRuleId"] == first["sharedDatabase"]["ingressRuleId"]
    assert shared["resourceConfigurationId"] != first["sharedDatabase"]["resourceConfigurationId"]
    assert endpoint(second)["state"] == "Available"

    removal = removal_of(*customer()[:2], second)
    assert removal == {"connectionTag": "billing-db", "gateway": None, "ingress": None}
    assert remove(second)["complete"]
    assert lattice_state([CUSTOMER, NEKT]) == after_first  # the first connection's path is whole


# --- the compensations ------------------------------------------------------------------------------------


def test_the_compensations_leave_both_accounts_as_before_and_twice_change_nothing(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    before = lattice_state([CUSTOMER, NEKT])
    state = connect_state(db, nekt)
    connect(state)
    assert lattice_state([CUSTOMER, NEKT]) != before
    state["error"] = {"Error": "Unreachable", "Cause": "the probe could not reach the database"}

    outcome = remove(state)
    assert outcome["complete"] and not outcome["left"], outcome
    assert lattice_state([CUSTOMER, NEKT]) == before
    undone = " ".join(outcome["undone"])
    for removed in ("resource endpoint", "resource share", "resource configuration", "resource gateway",
                    "ingress rule", "nekt-endpoint-orders-db", f"nekt-resource-gateway-{db.vpc_id}"):
        assert removed in undone, removed

    state.pop("rollback")
    with aws_calls() as calls:
        twice = remove(state)
    assert twice["complete"] and twice["undone"] == [] and mutating(calls) == {}
    assert lattice_state([CUSTOMER, NEKT]) == before


def test_each_removal_step_waits_up_to_max_polls_on_its_own(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    """With MaxPolls 5, the endpoint and then the gateway each take 3 polls to go: 6 together, but each
    step has its own bound, so nothing is left behind."""
    db, nekt = overlapping
    before = lattice_state([CUSTOMER, NEKT])
    state = connect_state(db, nekt, max_polls=5)
    connect(state)
    book(strict).timing = Timing(endpoint_deleting=3, gateway_deleting=3)
    state["error"] = {"Error": "Unreachable", "Cause": "the probe could not reach the database"}

    outcome = remove(state)

    assert outcome["complete"] and not outcome["left"], outcome
    assert lattice_state([CUSTOMER, NEKT]) == before


def test_a_connect_that_failed_half_way_without_its_records_is_undone(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    before = lattice_state([CUSTOMER, NEKT])
    state = connect_state(db, nekt)
    share(state)
    # Nekt's side half made: its security group and the endpoint, then the stage was lost.
    try:
        endpoint(state)
    finally:
        state.pop("resourceEndpoint", None)
    state.pop("sharedDatabase")
    removal = removal_of(*customer()[:2], state)
    assert removal["gateway"] and removal["gateway"]["resourceGatewayId"]
    assert removal["ingress"] and removal["ingress"]["groupId"] == db.security_group_id
    assert remove(state)["complete"]
    assert lattice_state([CUSTOMER, NEKT]) == before


def test_a_connect_lost_between_the_gateway_s_group_and_the_gateway_is_undone(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    before = lattice_state([CUSTOMER, NEKT])
    state = connect_state(db, nekt)
    ec2, lattice, ram = customer()

    class LostOnCreate:
        """The lattice client, but the gateway's create never answers (the Lambda timed out)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(lattice, name)

        def create_resource_gateway(self, **_: Any) -> None:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "lost"}}, "CreateResourceGateway")

    with pytest.raises(ClientError) as refused:
        share_database(ec2, LostOnCreate(), ram, state)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    groups = client(CUSTOMER, "ec2").describe_security_groups(Filters=[
        {"Name": "group-name", "Values": [f"nekt-resource-gateway-{db.vpc_id}"]}])["SecurityGroups"]
    assert len(groups) == 1  # made just before
    assert remove(state)["complete"]
    assert lattice_state([CUSTOMER, NEKT]) == before


def test_a_removal_stopped_half_way_is_finished_by_the_next_run(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    before = lattice_state([CUSTOMER, NEKT])
    state = connect_state(db, nekt)
    connect(state)
    state["removal"] = removal_of(*customer()[:2], state)  # as a disconnect's Find gives it
    nekt_ec2 = client(NEKT, "ec2")
    remove_resource_endpoint(nekt_ec2, state, Rollback(state))  # deleting, then lost
    refused = Rollback(state)
    unshare_database(*customer(), state, refused)  # the endpoint still lives: refused, named
    assert any(state["sharedDatabase"]["resourceConfigurationId"] in left for left in refused.left)
    outcome = remove(state)
    assert outcome["complete"], outcome
    assert lattice_state([CUSTOMER, NEKT]) == before


def test_nothing_to_undo_is_no_call_that_changes_anything(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    before = lattice_state([CUSTOMER, NEKT])
    state = connect_state(db, nekt)
    with aws_calls() as calls:
        outcome = remove(state)
    assert outcome == {"undone": [], "left": [], "complete": True, "cause": "Removed: nothing (already disconnected).",
                       "waiting": False, "stepPolls": 0}
    assert mutating(calls) == {} and lattice_state([CUSTOMER, NEKT]) == before


def test_what_the_product_did_not_make_is_never_removed(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    ec2, lattice, _ = customer()
    group = ec2.create_security_group(GroupName="someone-elses", Description="x", VpcId=db.vpc_id)["GroupId"]
    theirs = lattice.create_resource_gateway(name="theirs", vpcIdentifier=db.vpc_id, subnetIds=db.subnet_ids[:1],
                                             securityGroupIds=[group])
    before = lattice_state([CUSTOMER, NEKT])
    state = connect_state(db, nekt)
    state["removal"] = {"connectionTag": "orders-db", "gateway": {"resourceGatewayId": theirs["id"],
                                                                  "securityGroupId": group}, "ingress": None}
    assert remove(state)["complete"]
    assert lattice_state([CUSTOMER, NEKT]) == before


# --- what a stage refuses to do -----------------------------------------------------------------------


def test_a_plan_that_shares_another_database_or_admits_other_networks_is_refused(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    before = lattice_state([CUSTOMER, NEKT])
    state = connect_state(db, nekt)
    planned = state["plan"]["resourcePath"]
    planned["configuration"]["arn"] = f"arn:aws:rds:{REGION}:{CUSTOMER}:cluster:another-db"
    with pytest.raises(ChangeRefused) as other_database:
        share(state)
    assert "another-db" in str(other_database.value)
    planned["configuration"]["arn"] = state["discovery"]["resourcePath"]["databaseArn"]
    share(state)
    planned["endpoint"]["allowedCidrs"] = ["0.0.0.0/0"]
    with pytest.raises(ChangeRefused) as wide:
        endpoint(state)
    assert "0.0.0.0/0" in str(wide.value)
    assert lattice_state([NEKT]) == {key: value for key, value in before.items() if NEKT in key}


def test_configuration_names_are_valid_and_distinct_for_every_connection_id() -> None:
    import re

    ids = ["orders-db", "Orders_DB", "orders_db", "a", "x" * 63, "A-" * 31 + "b", "9-to-5", "db--1"]
    names = [configuration_name(connection_id) for connection_id in ids]
    for name in names:
        assert 3 <= len(name) <= 40 and re.fullmatch(r"(?!rcfg-)(?![-])(?!.*[-]$)(?!.*[-]{2})[a-z0-9-]+", name), name
    assert len(set(names)) == len(names)
    assert configuration_name("orders-db") == configuration_name("orders-db")


# --- issue 22: every asynchronous step waited for, each within its own bound --------------------------------


def test_a_slow_configuration_and_share_are_each_waited_for_and_undone_in_the_order_aws_requires(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    """With MaxPolls 4, the gateway, the configuration and the share's association are each slow to be ready, and
    the configuration and the gateway to go: each wait has its own bound, nothing is left behind, and the gateway
    is deleted only once its configuration is gone (AWS refuses it before)."""
    db, nekt = overlapping
    before = lattice_state([CUSTOMER, NEKT])
    state = connect_state(db, nekt, max_polls=4)
    book(strict).timing = Timing(gateway_creating=3, configuration_creating=3, share_associating=3,
                                 configuration_deleting=2, gateway_deleting=2)
    waited_for = []
    for _ in range(12):
        state["sharedDatabase"] = share_database(*customer(), state)
        waited_for.append(state["sharedDatabase"].get("waitingFor") if state["sharedDatabase"]["waiting"] else None)
        if not state["sharedDatabase"]["waiting"]:
            break
    waits = [w for w in waited_for if w]
    assert [kind for kind, _ in itertools.groupby(waits)] == ["gateway", "configuration", "association"]
    assert len(waits) > 4  # more than MaxPolls in all: each wait has its own bound
    endpoint(state)
    state["error"] = {"Error": "Unreachable", "Cause": "the probe could not reach the database"}

    with aws_calls() as calls:
        outcome = remove(state)

    assert outcome["complete"] and not outcome["left"], outcome
    assert calls[("vpc-lattice", "DeleteResourceGateway")] == 1  # never refused: asked once the configuration went
    assert lattice_state([CUSTOMER, NEKT]) == before


def test_a_configuration_aws_fails_is_a_named_error_quoting_its_reason_and_is_undone(
        strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    db, nekt = overlapping
    before = lattice_state([CUSTOMER, NEKT])
    state = connect_state(db, nekt)
    book(strict).failing[configuration_name("orders-db")] = "The DB cluster orders-db is being modified."
    with pytest.raises(ResourceConfigurationFailed) as failed:
        share(state)
    assert "CREATE_FAILED: The DB cluster orders-db is being modified." in str(failed.value)
    assert state["sharedDatabase"]["configurationCreated"]  # the record a rollback needs, kept from the last poll
    state["error"] = {"Error": "ResourceConfigurationFailed", "Cause": str(failed.value)}

    outcome = remove(state)

    assert outcome["complete"], outcome
    assert lattice_state([CUSTOMER, NEKT]) == before


@pytest.mark.parametrize("reading", ["documented", "pessimistic"])
def test_the_path_works_under_both_readings_of_what_aws_leaves_open(
        reading: str, strict: StrictAws, overlapping: tuple[CustomerDatabase, NektNetwork]) -> None:
    """Documented (the CLI examples): a gateway and a configuration ACTIVE at once, a child naming its endpoint.
    Pessimistic: both created asynchronously, and no child field naming its endpoint: then only the associations'
    private DNS names, with DNS on in the Nekt VPC, tell the writer from the reader."""
    db, nekt = overlapping
    client(NEKT, "ec2").modify_vpc_attribute(VpcId=nekt.vpc_id, EnableDnsHostnames={"Value": True})
    before = lattice_state([CUSTOMER, NEKT])
    state = connect_state(db, nekt)
    state["plan"]["resourcePath"]["endpoint"] |= plan_resource_path(state["discovery"] | {
        "resourcePath": state["discovery"]["resourcePath"] | {"nektVpcDns": True}})["endpoint"]
    book(strict).child_domain_names = reading == "documented"
    with strict.relax("lattice-lifecycle") if reading == "documented" else contextlib.nullcontext():
        connect(state)
        made = state["resourceEndpoint"]
        cluster = client(CUSTOMER, "rds").describe_db_clusters(DBClusterIdentifier=db.identifier)["DBClusters"][0]
        assert [(name["role"], name["privateDnsName"]) for name in made["names"]] == [
            ("writer", cluster["Endpoint"]), ("reader", cluster["ReaderEndpoint"])]
        assert made["dnsName"] == cluster["Endpoint"]
        state["error"] = {"Error": "Unreachable", "Cause": "the probe could not reach the database"}
        assert remove(state)["complete"]
    assert lattice_state([CUSTOMER, NEKT]) == before
