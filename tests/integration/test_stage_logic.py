"""Each stage's logic module against moto: discover, routes, ingress, peering, dns.

The Nekt network is in its own account (us-east-1), the database in the stack's account (us-east-2),
as for most customers. No handler or state machine is involved: the modules get boto3 clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from emulator.accounts import set_peering_status, wait_for_peering
from emulator.stack import DEFAULT_ACCOUNT
from emulator.topology import CustomerDatabase, NektNetwork, account_session, create_database
from nekt_peering.connect import discover
from nekt_peering.connect.preflight import plan
from nekt_peering.core.ec2 import find_peerings, peering_facts
from nekt_peering.core.errors import (
    DatabaseNotAvailable,
    DatabaseNotFound,
    InvalidInput,
    NektNetworkNotFound,
    PeeringFailed,
    PeeringMismatch,
    PeeringTimeout,
    RouteConflict,
)
from nekt_peering.core.model import ConnectRequest, Settings
from nekt_peering.ingress.authorize import allowed_rule, authorize_ingress, find_rule
from nekt_peering.peering import dns, routes
from nekt_peering.peering.request import accept_peering, check_status, request_peering

DB_REGION = "us-east-2"
OTHER_ACCOUNT = "222222222222"


def client(account_id: str, region: str, service: str) -> Any:
    return account_session(account_id, region).client(service)  # type: ignore[call-overload]


def make_settings(nekt: NektNetwork, **parameters: str) -> Settings:
    """The settings the deployed stack passes, from CloudFormation parameter names (NektVpcId=...)."""
    parameters = {**nekt.stack_parameters(), "NektPublicIp": "100.27.146.35", "PollIntervalSeconds": "0",
                  "MaxPolls": "5", **parameters}
    return Settings.parse({"stackAccountId": DEFAULT_ACCOUNT, "stackRegion": "us-east-1",
                           **{key[0].lower() + key[1:]: value for key, value in parameters.items()}})


@dataclass
class World:
    nekt: NektNetwork
    database: CustomerDatabase
    settings: Settings
    db_ec2: Any
    rds: Any
    nekt_ec2: Any

    def discover(self, mode: str = "auto", **database: str) -> dict[str, Any]:
        request = ConnectRequest.parse({"database": {"identifier": self.database.identifier, "region": DB_REGION,
                                                     **database}, "mode": mode}, default_region="us-east-1")
        return discover.discover(request, self.settings, self.rds, self.db_ec2, lambda: self.nekt_ec2)

    def request_peering(self, facts: dict[str, Any]) -> dict[str, Any]:
        """The request, once AWS shows it pending-acceptance in both accounts (as the workflow waits)."""
        requested = request_peering(self.db_ec2, facts, {"peering": None})
        for ec2 in (self.db_ec2, self.nekt_ec2):
            wait_for_peering(ec2, requested["peeringConnectionId"], "pending-acceptance")
        return {**requested, "status": "pending-acceptance", "seen": True}

    def status(self, peering_id: str, ec2: Any = None) -> str:
        described = (ec2 or self.db_ec2).describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])
        return str(described["VpcPeeringConnections"][0]["Status"]["Code"])


@pytest.fixture
def world(nekt: NektNetwork) -> World:
    """A private MySQL on 3306 (not the guide's PostgreSQL port, so the port is really read)."""
    database = create_database(region=DB_REGION, port=3306, engine="mysql")
    return World(nekt, database, make_settings(nekt), client(DEFAULT_ACCOUNT, DB_REGION, "ec2"),
                 client(DEFAULT_ACCOUNT, DB_REGION, "rds"), client(nekt.account_id, nekt.region, "ec2"))


def routes_to(ec2: Any, route_table_id: str, destination: str) -> list[dict[str, Any]]:
    table = ec2.describe_route_tables(RouteTableIds=[route_table_id])["RouteTables"][0]
    return [r for r in table["Routes"] if r.get("DestinationCidrBlock") == destination]


def force_status(peering_id: str, code: str) -> None:
    """A status AWS could report, held until the next accept or delete."""
    set_peering_status(DEFAULT_ACCOUNT, DB_REGION, peering_id, code)


# --- discover: the database ---------------------------------------------------------------------


def test_unknown_database_is_not_found_and_points_to_support_for_databases_outside_aws(world: World) -> None:
    with pytest.raises(DatabaseNotFound) as raised:
        discover.discover_database(world.rds, world.db_ec2, "billing-db", DEFAULT_ACCOUNT, DB_REGION)

    message = str(raised.value)
    assert "'billing-db'" in message and DEFAULT_ACCOUNT in message and DB_REGION in message
    assert "outside AWS" in message and "support" in message


def test_stopped_database_is_not_available(world: World) -> None:
    world.rds.stop_db_instance(DBInstanceIdentifier="orders-db")

    with pytest.raises(DatabaseNotAvailable, match="'stopped'"):
        discover.discover_database(world.rds, world.db_ec2, "orders-db", DEFAULT_ACCOUNT, DB_REGION)


def test_instance_facts_name_its_vpc_port_group_and_every_route_table_of_its_subnets(world: World) -> None:
    found = discover.discover_database(world.rds, world.db_ec2, "orders-db", DEFAULT_ACCOUNT, DB_REGION)

    assert found["kind"] == "instance" and found["engine"] == "mysql" and found["status"] == "available"
    assert found["port"] == 3306
    assert found["vpcId"] == world.database.vpc_id and found["cidrs"] == ["10.0.0.0/16"]
    assert found["securityGroupId"] == world.database.security_group_id
    assert found["publiclyAccessible"] is False
    # Two explicitly associated tables plus the main one, which serves the third subnet.
    assert sorted(rt["routeTableId"] for rt in found["routeTables"]) == sorted(world.database.route_table_ids)
    assert world.database.main_route_table_id in {rt["routeTableId"] for rt in found["routeTables"]}
    assert sorted(found["subnetIds"]) == sorted(world.database.subnet_ids)
    assert found["subnetCidrs"] == ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]
    # No explicit ACL: every subnet is on the VPC's default one.
    assert [sorted(acl["subnetIds"]) for acl in found["networkAcls"]] == [sorted(world.database.subnet_ids)]


def test_aurora_cluster_is_found_as_a_cluster_with_its_own_endpoint_and_port(aws: None) -> None:
    cluster = create_database(identifier="analytics", region=DB_REGION, kind="cluster", port=3306, engine="mysql",
                              cidr="10.20.0.0/16", secondary_cidr="10.21.0.0/16")
    rds, ec2 = client(DEFAULT_ACCOUNT, DB_REGION, "rds"), client(DEFAULT_ACCOUNT, DB_REGION, "ec2")
    described = rds.describe_db_clusters(DBClusterIdentifier="analytics")["DBClusters"][0]

    found = discover.discover_database(rds, ec2, "analytics", DEFAULT_ACCOUNT, DB_REGION)

    assert found["kind"] == "cluster" and found["engine"] == "aurora-mysql"
    assert found["endpoint"] == described["Endpoint"] and ".cluster-" in found["endpoint"]
    assert found["port"] == 3306
    assert found["vpcId"] == cluster.vpc_id and found["cidrs"] == ["10.20.0.0/16", "10.21.0.0/16"]
    assert sorted(rt["routeTableId"] for rt in found["routeTables"]) == sorted(cluster.route_table_ids)


def test_auto_mode_for_a_public_database_is_public_and_never_touches_the_nekt_account(aws: None,
                                                                                      nekt: NektNetwork) -> None:
    create_database(region=DB_REGION, publicly_accessible=True)
    rds, ec2 = client(DEFAULT_ACCOUNT, DB_REGION, "rds"), client(DEFAULT_ACCOUNT, DB_REGION, "ec2")
    request = ConnectRequest.parse({"database": {"identifier": "orders-db", "region": DB_REGION}}, "us-east-1")

    def nekt_ec2() -> Any:
        raise AssertionError("the public path must not assume the Nekt role")

    found = discover.discover(request, make_settings(nekt), rds, ec2, nekt_ec2)

    assert found["mode"] == "public" and found["nekt"] is None and found["peerings"] == []


def test_public_mode_for_a_private_database_is_invalid_input(world: World) -> None:
    with pytest.raises(InvalidInput, match="not publicly accessible"):
        world.discover(mode="public")


def test_the_reader_endpoint_of_an_instance_is_invalid_input(world: World) -> None:
    with pytest.raises(InvalidInput, match="has no reader endpoint"):
        world.discover(endpoint="reader")


def test_a_cluster_s_reader_endpoint_is_among_its_facts(aws: None) -> None:
    create_database(identifier="analytics", region=DB_REGION, kind="cluster", engine="postgresql")
    rds, ec2 = client(DEFAULT_ACCOUNT, DB_REGION, "rds"), client(DEFAULT_ACCOUNT, DB_REGION, "ec2")
    found = discover.discover_database(rds, ec2, "analytics", DEFAULT_ACCOUNT, DB_REGION)
    assert found["readerEndpoint"] == rds.describe_db_clusters(DBClusterIdentifier="analytics")["DBClusters"][0][
        "ReaderEndpoint"] and ".cluster-ro-" in found["readerEndpoint"]


# --- discover: the Nekt network -----------------------------------------------------------------


def test_nekt_facts_use_the_route_table_tagged_nekt_rtb_private_and_its_slash23(world: World) -> None:
    found = discover.discover_nekt(world.nekt_ec2, world.settings)

    assert found["routeTable"]["routeTableId"] == world.nekt.private_route_table_id
    assert found["cidr"] == "10.100.0.0/23"
    assert found["cidrs"] == ["10.100.0.0/23", "10.100.8.0/24"]
    assert (found["accountId"], found["region"], found["vpcId"]) == (world.nekt.account_id, "us-east-1",
                                                                      world.nekt.vpc_id)


def test_wrong_nekt_vpc_id_is_nekt_network_not_found(world: World) -> None:
    settings = make_settings(world.nekt, NektVpcId="vpc-0123456789abcdef0")

    with pytest.raises(NektNetworkNotFound, match="vpc-0123456789abcdef0 does not exist"):
        discover.discover_nekt(world.nekt_ec2, settings)


def test_nekt_vpc_without_the_nekt_rtb_private_tag_is_nekt_network_not_found(world: World) -> None:
    world.nekt_ec2.delete_tags(Resources=[world.nekt.private_route_table_id], Tags=[{"Key": "Name"}])

    with pytest.raises(NektNetworkNotFound, match="nekt-rtb-private"):
        discover.discover_nekt(world.nekt_ec2, world.settings)


def test_nekt_route_table_setting_from_another_vpc_is_nekt_network_not_found(world: World) -> None:
    other_vpc = world.nekt_ec2.create_vpc(CidrBlock="10.200.0.0/16")["Vpc"]["VpcId"]
    foreign_table = world.nekt_ec2.create_route_table(VpcId=other_vpc)["RouteTable"]["RouteTableId"]
    settings = make_settings(world.nekt, NektRouteTableId=foreign_table)

    with pytest.raises(NektNetworkNotFound, match=foreign_table):
        discover.discover_nekt(world.nekt_ec2, settings)


def test_live_peerings_are_found_in_either_direction_and_dead_ones_ignored(world: World) -> None:
    ours = world.request_peering(world.discover())["peeringConnectionId"]

    found = find_peerings(world.db_ec2, world.database.vpc_id, world.nekt.vpc_id)
    assert [(p["peeringConnectionId"], p["status"]) for p in found] == [(ours, "pending-acceptance")]
    assert found[0]["requester"]["vpcId"] == world.database.vpc_id

    world.db_ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=ours)
    assert find_peerings(world.db_ec2, world.database.vpc_id, world.nekt.vpc_id) == []


# --- routes -------------------------------------------------------------------------------------


def test_ensure_route_creates_the_route_once(world: World) -> None:
    pcx = world.request_peering(world.discover())["peeringConnectionId"]
    table = world.nekt.private_route_table_id

    first = routes.ensure_route(world.nekt_ec2, table, "10.0.0.0/16", pcx, "nekt")
    second = routes.ensure_route(world.nekt_ec2, table, "10.0.0.0/16", pcx, "nekt")

    assert (first, second) == (True, False)
    [only] = routes_to(world.nekt_ec2, table, "10.0.0.0/16")
    assert only["VpcPeeringConnectionId"] == pcx


def test_ensure_route_refuses_a_destination_routed_through_an_internet_gateway(world: World) -> None:
    pcx = world.request_peering(world.discover())["peeringConnectionId"]
    table = world.database.route_table_ids[0]
    igw = world.db_ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    world.db_ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=world.database.vpc_id)
    world.db_ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.100.0.0/23", GatewayId=igw)

    with pytest.raises(RouteConflict) as raised:
        routes.ensure_route(world.db_ec2, table, "10.100.0.0/23", pcx, "database")

    assert table in str(raised.value) and igw in str(raised.value) and pcx in str(raised.value)
    [untouched] = routes_to(world.db_ec2, table, "10.100.0.0/23")
    assert untouched["GatewayId"] == igw


def test_ensure_route_refuses_a_destination_routed_through_an_old_peering(world: World) -> None:
    facts = world.discover()
    old = world.request_peering(facts)["peeringConnectionId"]
    table = world.database.main_route_table_id
    world.db_ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.100.0.0/23", VpcPeeringConnectionId=old)
    world.db_ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=old)
    new = world.request_peering(facts)["peeringConnectionId"]

    with pytest.raises(RouteConflict, match=old):
        routes.ensure_route(world.db_ec2, table, "10.100.0.0/23", new, "database")


def test_update_routes_writes_each_side_with_its_own_account(world: World) -> None:
    facts = world.discover()
    pcx = world.request_peering(facts)["peeringConnectionId"]
    planned = plan(facts)["routes"]

    done = routes.update_routes(world.db_ec2, world.nekt_ec2, planned, pcx, routes.allowed_routes(facts))

    assert [r["created"] for r in done] == [True] * 4
    assert routes_to(world.nekt_ec2, world.nekt.private_route_table_id, "10.0.0.0/16")[0][
        "VpcPeeringConnectionId"] == pcx
    for table in world.database.route_table_ids:
        assert routes_to(world.db_ec2, table, "10.100.0.0/23")[0]["VpcPeeringConnectionId"] == pcx
    assert routes_to(world.nekt_ec2, world.nekt.main_route_table_id, "10.0.0.0/16") == []


# --- ingress ------------------------------------------------------------------------------------


def test_authorize_ingress_adds_one_tagged_nekt_rule_on_the_database_port(world: World) -> None:
    facts = world.discover()
    planned, allowed = plan(facts)["ingress"], allowed_rule(facts)

    before = facts["database"]["securityGroupRules"]
    first = authorize_ingress(world.db_ec2, planned, "orders", allowed, before)
    # An attempt whose answer was lost, run again: the rule is this execution's all the same.
    second = authorize_ingress(world.db_ec2, planned, "orders", allowed, before)

    assert (first["created"], second["created"]) == (True, True)
    assert first["ruleId"] == second["ruleId"]
    rules = [r for r in world.db_ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [world.database.security_group_id]}])["SecurityGroupRules"]
        if not r["IsEgress"]]
    [rule] = rules
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 3306, 3306)
    assert rule["CidrIpv4"] == "10.100.0.0/23" and rule["Description"] == "Nekt"
    assert rule["SecurityGroupRuleId"] == first["ruleId"]
    tags = {t["Key"]: t["Value"] for t in rule["Tags"]}
    assert tags["nekt:connection-id"] == "orders" and tags["nekt:managed-by"] == "nekt-peering"


def test_authorize_ingress_adds_its_rule_beside_a_rule_for_another_port(world: World) -> None:
    world.db_ec2.authorize_security_group_ingress(
        GroupId=world.database.security_group_id,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                        "IpRanges": [{"CidrIp": "10.100.0.0/23"}]}])
    facts = world.discover()

    assert authorize_ingress(world.db_ec2, plan(facts)["ingress"], "orders",
                             allowed_rule(facts), facts["database"]["securityGroupRules"])["created"] is True
    assert find_rule(world.db_ec2, world.database.security_group_id, 3306, "10.100.0.0/23") is not None


# --- peering: status ----------------------------------------------------------------------------


def test_check_status_counts_the_poll_and_reports_pending_acceptance(world: World) -> None:
    requested = world.request_peering(world.discover())

    checked = check_status(world.db_ec2, requested, "pending-acceptance", max_polls=5)

    assert checked == {**requested, "status": "pending-acceptance", "polls": 1}
    assert check_status(world.db_ec2, checked, "pending-acceptance", max_polls=5)["polls"] == 2


def test_check_status_fails_when_nekt_rejects_the_request(world: World) -> None:
    requested = world.request_peering(world.discover())
    world.nekt_ec2.reject_vpc_peering_connection(VpcPeeringConnectionId=requested["peeringConnectionId"])

    with pytest.raises(PeeringFailed, match="'rejected'"):
        check_status(world.db_ec2, requested, "pending-acceptance", max_polls=5)


def test_check_status_fails_when_the_request_is_deleted(world: World) -> None:
    requested = world.request_peering(world.discover())
    world.db_ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=requested["peeringConnectionId"])

    with pytest.raises(PeeringFailed, match="'deleted'|'deleting'"):  # deleting first across Regions
        check_status(world.db_ec2, requested, "active", max_polls=5)


def test_check_status_keeps_polling_until_the_last_allowed_poll(world: World) -> None:
    requested = world.request_peering(world.discover())
    force_status(requested["peeringConnectionId"], "initiating-request")

    checked = check_status(world.db_ec2, {**requested, "polls": 1}, "pending-acceptance", max_polls=3)

    assert (checked["status"], checked["polls"]) == ("initiating-request", 2)


def test_check_status_times_out_when_the_last_poll_is_not_the_awaited_status(world: World) -> None:
    requested = world.request_peering(world.discover())
    force_status(requested["peeringConnectionId"], "initiating-request")

    with pytest.raises(PeeringTimeout) as raised:
        check_status(world.db_ec2, {**requested, "polls": 2}, "pending-acceptance", max_polls=3)

    assert "'initiating-request'" in str(raised.value) and "3 polls" in str(raised.value)


def test_check_status_awaiting_active_times_out_on_a_still_pending_peering(world: World) -> None:
    requested = world.request_peering(world.discover())

    with pytest.raises(PeeringTimeout, match="'pending-acceptance'"):
        check_status(world.db_ec2, requested, "active", max_polls=1)


def test_check_status_reaching_active_on_the_last_poll_is_not_a_timeout(world: World) -> None:
    requested = world.request_peering(world.discover())
    force_status(requested["peeringConnectionId"], "active")

    checked = check_status(world.db_ec2, {**requested, "polls": 4}, "active", max_polls=5)

    assert (checked["status"], checked["polls"]) == ("active", 5)


# --- peering: accept ----------------------------------------------------------------------------


def test_accept_twice_accepts_once_and_names_the_peering_in_the_nekt_account(world: World) -> None:
    facts = world.discover()
    requested = world.request_peering(facts)

    first = accept_peering(world.nekt_ec2, facts, requested)
    second = accept_peering(world.nekt_ec2, facts, first)

    assert (first["accepted"], first["status"], first["polls"]) == (True, "provisioning", 0)
    assert (second["accepted"], second["status"]) == (False, "provisioning")
    wait_for_peering(world.nekt_ec2, requested["peeringConnectionId"], "active")
    described = world.nekt_ec2.describe_vpc_peering_connections(
        VpcPeeringConnectionIds=[requested["peeringConnectionId"]])["VpcPeeringConnections"][0]
    assert {t["Key"]: t["Value"] for t in described["Tags"]}["Name"] == "orders-db <> Nekt"


@pytest.mark.parametrize(("account", "wrong"), [
    pytest.param(DEFAULT_ACCOUNT, ["requester VPC"], id="another-vpc-of-the-database-account"),
    pytest.param(OTHER_ACCOUNT, ["requester VPC", "requester account"], id="a-vpc-of-another-account"),
])
def test_accept_refuses_a_request_not_from_the_database_vpc(world: World, account: str, wrong: list[str]) -> None:
    facts = world.discover()
    rogue_ec2 = client(account, DB_REGION, "ec2")
    rogue_vpc = rogue_ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    rogue = rogue_ec2.create_vpc_peering_connection(
        VpcId=rogue_vpc, PeerVpcId=world.nekt.vpc_id, PeerOwnerId=world.nekt.account_id, PeerRegion="us-east-1",
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    wait_for_peering(world.nekt_ec2, rogue, "pending-acceptance")
    claimed = {"peeringConnectionId": rogue, "status": "pending-acceptance", "created": True, "polls": 0}

    with pytest.raises(PeeringMismatch) as raised:
        accept_peering(world.nekt_ec2, facts, claimed)

    message = str(raised.value)
    assert rogue in message and rogue_vpc in message and world.database.vpc_id in message
    for what in wrong:
        assert f"{what} is" in message
    assert world.status(rogue, world.nekt_ec2) == "pending-acceptance"


def test_accept_of_a_rejected_request_fails(world: World) -> None:
    facts = world.discover()
    requested = world.request_peering(facts)
    world.nekt_ec2.reject_vpc_peering_connection(VpcPeeringConnectionId=requested["peeringConnectionId"])

    with pytest.raises(PeeringFailed, match="'rejected'"):
        accept_peering(world.nekt_ec2, facts, requested)


# --- dns ----------------------------------------------------------------------------------------


def test_enable_dns_resolution_on_the_database_side_once(world: World) -> None:
    facts = world.discover()
    pcx = accept_peering(world.nekt_ec2, facts, world.request_peering(facts))["peeringConnectionId"]
    wait_for_peering(world.db_ec2, pcx, "active")  # AWS provisions an accepted peering for a few describes

    public = {**facts, "database": {**facts["database"], "publiclyAccessible": True}}
    for vpc_id, ec2 in ((world.database.vpc_id, world.db_ec2), (world.nekt.vpc_id, world.nekt_ec2)):
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})

    private = dns.enable_dns_resolution(world.db_ec2, facts, pcx)
    first = dns.enable_dns_resolution(world.db_ec2, public, pcx)
    second = dns.enable_dns_resolution(world.db_ec2, public, pcx)

    assert private == {"needed": False, "enabled": False, "changed": False, "reason": dns.why(facts)}
    assert first == {"needed": True, "enabled": True, "side": "requester", "changed": True, "reason": dns.why(public)}
    # Run again (an attempt whose answer was lost): off when Discover read the peering, so this execution's.
    assert second == first
    # On when Discover read it: the customer's, never turned off by this connection.
    discovered_on = {**public, "peerings": [peering_facts(world.db_ec2.describe_vpc_peering_connections(
        VpcPeeringConnectionIds=[pcx])["VpcPeeringConnections"][0])]}
    assert dns.enable_dns_resolution(world.db_ec2, discovered_on, pcx)["changed"] is False
    described = world.db_ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])[
        "VpcPeeringConnections"][0]
    assert described["RequesterVpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"] is True


# --- the stages together ------------------------------------------------------------------------


def test_after_every_stage_a_new_discovery_plans_no_changes(world: World) -> None:
    facts = world.discover()
    first_plan = plan(facts)
    pcx = accept_peering(world.nekt_ec2, facts, world.request_peering(facts))["peeringConnectionId"]
    wait_for_peering(world.db_ec2, pcx, "active")  # AWS provisions an accepted peering for a few describes
    routes.update_routes(world.db_ec2, world.nekt_ec2, first_plan["routes"], pcx, routes.allowed_routes(facts))
    authorize_ingress(world.db_ec2, first_plan["ingress"], "orders-db", allowed_rule(facts),
                      facts["database"]["securityGroupRules"])
    dns.enable_dns_resolution(world.db_ec2, facts, pcx)

    again = plan(world.discover())

    assert again["changes"] == []
    assert again["peering"]["peeringConnectionId"] == pcx and again["peering"]["connectionTag"] == "orders-db"
    assert all(r["exists"] for r in again["routes"]) and again["ingress"]["exists"]
