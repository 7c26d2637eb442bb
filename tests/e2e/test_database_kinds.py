"""End to end, each database kind beyond RDS (database.kind: redshift, ec2, address) through the real
connect.asl.json and disconnect.asl.json: the same request shape, the same workflow, the same disconnect as
an RDS database. Assertions are on both accounts afterwards (emulator.accounts.snapshot)."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.accounts import snapshot
from emulator.stack import DEFAULT_ACCOUNT, Execution, Stack
from emulator.strict import StrictAws
from emulator.topology import CustomerDatabase, NektNetwork, account_session, create_database, create_probe
from emulator.wire_servers import MongoWireServer, TnsListener

DISCONNECT = "DisconnectStateMachine"
REGION = "us-east-2"
NEKT_PUBLIC_IP = "100.27.146.35"
PARTNER_ACCOUNT = "444455556666"  # owns a private hosted zone associated with the database's VPC

# (the request's database.kind, the topology's kind, the port the database listens on)
KINDS = [
    pytest.param("redshift", "redshift", 5439, id="redshift"),
    pytest.param("redshift-serverless", "redshift-serverless", 5439, id="redshift-serverless"),
    pytest.param("docdb", "docdb", 27017, id="docdb"),
    pytest.param("ec2", "ec2", 5432, id="ec2"),
    pytest.param("address", "ec2", 3306, id="address"),
]


def places(nekt: NektNetwork) -> list[tuple[str, str]]:
    return sorted({(DEFAULT_ACCOUNT, REGION), (nekt.account_id, nekt.region)})


def ec2(account_id: str, region: str) -> Any:
    return account_session(account_id, region).client("ec2")


def routes_of(account_id: str, region: str, route_table_id: str) -> dict[str, str]:
    table = ec2(account_id, region).describe_route_tables(RouteTableIds=[route_table_id])["RouteTables"][0]
    return {r["DestinationCidrBlock"]: r.get("VpcPeeringConnectionId", r.get("GatewayId", ""))
            for r in table["Routes"] if "DestinationCidrBlock" in r}


def ingress_of(group_id: str) -> list[tuple[str, int, int, str]]:
    rules = ec2(DEFAULT_ACCOUNT, REGION).describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group_id]}])["SecurityGroupRules"]
    return [(r["IpProtocol"], r["FromPort"], r["ToPort"], r.get("CidrIpv4", "")) for r in rules if not r["IsEgress"]]


def succeeded(execution: Execution) -> dict[str, Any]:
    assert execution.status == "SUCCEEDED", f"{execution.error}: {execution.error_message}"
    assert isinstance(execution.output, dict)
    return execution.output


def database_of(kind: str, port: int, public: bool = False) -> CustomerDatabase:
    return create_database(identifier="analytics", region=REGION, kind=kind, port=port, publicly_accessible=public)


@pytest.mark.parametrize(("request_kind", "kind", "port"), KINDS)
def test_each_kind_connects_by_peering_and_disconnects_leaving_both_accounts_as_before(
        request_kind: str, kind: str, port: int, deploy: Any, nekt: NektNetwork) -> None:
    database = database_of(kind, port)
    stack: Stack = deploy(nekt)
    before = snapshot(places(nekt))

    result = succeeded(stack.run(database.connect_input(request_kind)))

    connection_id = result["connectionId"]
    assert result["status"] == "CONNECTED" and result["mode"] == "peering"
    assert result["database"]["kind"] == request_kind
    pcx_id = result["peeringConnectionId"]
    view = ec2(DEFAULT_ACCOUNT, REGION).describe_vpc_peering_connections(
        VpcPeeringConnectionIds=[pcx_id])["VpcPeeringConnections"][0]
    assert view["Status"]["Code"] == "active"
    assert (view["RequesterVpcInfo"]["VpcId"], view["AccepterVpcInfo"]["VpcId"]) == (database.vpc_id, nekt.vpc_id)
    # Nekt's private route table reaches the database VPC; the route tables of the database's subnets reach the
    # Nekt /23 (an instance's one subnet: its own table only).
    assert routes_of(nekt.account_id, nekt.region, nekt.private_route_table_id)["10.0.0.0/16"] == pcx_id
    for route_table_id in database.route_table_ids:
        assert routes_of(DEFAULT_ACCOUNT, REGION, route_table_id)[nekt.cidr] == pcx_id
    if kind == "ec2":
        assert nekt.cidr not in routes_of(DEFAULT_ACCOUNT, REGION, database.main_route_table_id)
    assert ingress_of(database.security_group_id) == [("tcp", port, port, nekt.cidr)]
    assert result["hostname"] == (database.private_ip if kind == "ec2" else result["database"]["endpoint"])
    after_connect = snapshot(places(nekt))
    assert after_connect != before

    disconnected = succeeded(stack.run({"connectionId": connection_id, "region": REGION}, state_machine=DISCONNECT))

    assert disconnected["status"] == "DISCONNECTED" and disconnected["connectionId"] == connection_id
    assert snapshot(places(nekt)) == before


@pytest.mark.parametrize(("request_kind", "kind", "port"), [
    pytest.param("redshift", "redshift", 5439, id="redshift"),
    pytest.param("redshift-serverless", "redshift-serverless", 5439, id="redshift-serverless"),
    pytest.param("ec2", "ec2", 5432, id="ec2")])
def test_a_publicly_accessible_kind_takes_the_public_path(
        request_kind: str, kind: str, port: int, deploy: Any, nekt: NektNetwork) -> None:
    database = database_of(kind, port, public=True)
    stack: Stack = deploy(nekt, NektPublicIp=NEKT_PUBLIC_IP)
    before = snapshot(places(nekt))

    result = succeeded(stack.run(database.connect_input(request_kind)))

    assert result["mode"] == "public" and result["peeringConnectionId"] is None
    assert ingress_of(database.security_group_id) == [("tcp", port, port, f"{NEKT_PUBLIC_IP}/32")]
    if kind == "ec2":  # its public name, which resolves to its public address from outside its VPC
        assert result["hostname"].startswith("ec2-")
    succeeded(stack.run({"connectionId": result["connectionId"], "region": REGION}, state_machine=DISCONNECT))
    assert snapshot(places(nekt)) == before


@pytest.mark.parametrize("kind", ["redshift", "redshift-serverless", "docdb", "ec2", "address"])
def test_a_database_in_a_state_that_serves_no_traffic_is_refused_by_name_with_nothing_changed(
        kind: str, deploy: Any, nekt: NektNetwork, strict: StrictAws) -> None:
    database = database_of(kind if kind in ("redshift", "redshift-serverless", "docdb") else "ec2", 5432)
    session = account_session(DEFAULT_ACCOUNT, REGION)
    if kind == "redshift-serverless":
        serverless: Any = strict.rule("redshift-serverless-api")
        serverless.set_status(DEFAULT_ACCOUNT, REGION, database.identifier, "MODIFYING")
    elif kind == "redshift":
        session.client("redshift").pause_cluster(ClusterIdentifier=database.identifier)
    elif kind == "docdb":
        session.client("docdb").stop_db_cluster(DBClusterIdentifier=database.identifier)
    else:
        session.client("ec2").stop_instances(InstanceIds=[database.instance_id])
    stack: Stack = deploy(nekt)
    before = snapshot(places(nekt))

    execution = stack.run(database.connect_input(kind))

    assert (execution.status, execution.error) == ("FAILED", "DatabaseNotAvailable"), execution.error_message
    assert "serves no connection" in execution.error_message
    assert snapshot(places(nekt)) == before


def test_a_serverless_workgroup_still_creating_is_not_available_yet(deploy: Any, nekt: NektNetwork) -> None:
    """A workgroup is CREATING when made (emulator/strict/serverless.py: at least for its first read): Discover
    says it serves no connection yet, with nothing changed; once AVAILABLE, the same request discovers it."""
    database = database_of("ec2", 5432)  # its VPC and subnets
    account_session(DEFAULT_ACCOUNT, REGION).client("redshift-serverless").create_workgroup(
        workgroupName="fresh", namespaceName="fresh-namespace", subnetIds=database.subnet_ids,
        securityGroupIds=[database.security_group_id])
    stack: Stack = deploy(nekt)
    before = snapshot(places(nekt))
    request = {"database": {"kind": "redshift-serverless", "identifier": "fresh", "region": REGION}}

    creating = stack.run(request)

    assert (creating.status, creating.error) == ("FAILED", "DatabaseNotAvailable"), creating.error_message
    assert "fresh is 'CREATING', a state in which it serves no connection: wait until it is available" \
        in creating.error_message
    assert snapshot(places(nekt)) == before
    available = succeeded(stack.run({**request, "dryRun": True}))
    assert available["database"]["kind"] == "redshift-serverless" and available["database"]["vpcId"] == database.vpc_id


def test_an_address_no_network_interface_holds_is_refused_by_name(deploy: Any, nekt: NektNetwork) -> None:
    database = database_of("ec2", 5432)
    stack: Stack = deploy(nekt)
    before = snapshot(places(nekt))

    execution = stack.run({"database": {"kind": "address", "host": "10.0.2.200", "port": 5432,
                                        "vpcId": database.vpc_id, "region": REGION}})

    assert (execution.status, execution.error) == ("FAILED", "AddressNotFound"), execution.error_message
    assert "10.0.2.200" in execution.error_message and database.vpc_id in execution.error_message
    assert snapshot(places(nekt)) == before


def private_zone(database: CustomerDatabase, zone: str, *records: dict[str, Any],
                 owner: str = DEFAULT_ACCOUNT) -> str:
    """A Route 53 private hosted zone of `owner` associated with the database's VPC, holding `records` (another
    account's zone as it is once the VPC's owner authorized the association and the zone's owner made it)."""
    route53 = account_session(owner, REGION).client("route53")
    zone_id = route53.create_hosted_zone(Name=zone, CallerReference=f"{zone}-{database.vpc_id}",
                                         HostedZoneConfig={"Comment": "", "PrivateZone": True},
                                         VPC={"VPCRegion": REGION, "VPCId": database.vpc_id})["HostedZone"]["Id"]
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": record} for record in records]})
    return str(zone_id)


def a_record(name: str, *values: str, kind: str = "A") -> dict[str, Any]:
    return {"Name": name, "Type": kind, "TTL": 60, "ResourceRecords": [{"Value": value} for value in values]}


def test_an_address_by_private_dns_name_connects_to_the_address_its_private_zone_gives(
        deploy: Any, nekt: NektNetwork) -> None:
    """Discover reads the name in the Route 53 private hosted zones associated with the database's VPC (a CNAME
    followed there), then the interface holding the address; Nekt connects to the address, as its VPC cannot
    resolve the customer's private zone. Connect and disconnect leave both accounts as they were."""
    database = database_of("ec2", 5432)
    private_zone(database, "orders.internal", a_record("db.orders.internal", database.private_ip),
                 a_record("warehouse.orders.internal", "db.orders.internal", kind="CNAME"))
    stack: Stack = deploy(nekt)
    before = snapshot(places(nekt))
    request = {"database": {"kind": "address", "host": "warehouse.orders.internal", "port": 5432,
                            "vpcId": database.vpc_id, "region": REGION}}

    result = succeeded(stack.run(request))

    assert result["status"] == "CONNECTED" and result["mode"] == "peering"
    assert result["connectionId"] == "address-warehouse-orders-internal-5432"
    assert result["database"]["endpoint"] == result["hostname"] == database.private_ip
    assert ingress_of(database.security_group_id) == [("tcp", 5432, 5432, nekt.cidr)]
    for route_table_id in database.route_table_ids:
        assert routes_of(DEFAULT_ACCOUNT, REGION, route_table_id)[nekt.cidr] == result["peeringConnectionId"]
    succeeded(stack.run({"connectionId": result["connectionId"], "region": REGION}, state_machine=DISCONNECT))
    assert snapshot(places(nekt)) == before


def test_a_private_dns_name_without_a_private_address_is_refused_by_name(deploy: Any, nekt: NektNetwork) -> None:
    """No zone of the VPC's holds the name; an alias (whose addresses Route 53 does not list); a public address; a
    CNAME that leads back to itself; a zone another account owns (listed for the VPC, its records not ours)."""
    database = database_of("ec2", 5432)
    private_zone(database, "orders.internal", a_record("public.orders.internal", "52.1.2.3"),
                 a_record("loop.orders.internal", "loop.orders.internal", kind="CNAME"), {
        "Name": "balanced.orders.internal", "Type": "A", "AliasTarget": {
            "HostedZoneId": "Z26RNL4JYFTOTI", "DNSName": "internal-db-123.us-east-2.elb.amazonaws.com",
            "EvaluateTargetHealth": False}})
    private_zone(database, "partner.internal", a_record("db.partner.internal", "10.0.1.99"), owner=PARTNER_ACCOUNT)
    stack: Stack = deploy(nekt)
    before = snapshot(places(nekt))

    def refused(host: str) -> str:
        execution = stack.run({"database": {"kind": "address", "host": host, "port": 5432,
                                            "vpcId": database.vpc_id, "region": REGION}})
        assert (execution.status, execution.error) == ("FAILED", "HostNotResolved"), execution.error_message
        assert host in execution.error_message and database.vpc_id in execution.error_message
        return str(execution.error_message)

    assert "no private hosted zone associated with the VPC contains db.elsewhere.example" in refused(
        "db.elsewhere.example")
    assert "has no A record for it" in refused("missing.orders.internal")
    assert "alias to internal-db-123.us-east-2.elb.amazonaws.com" in refused("balanced.orders.internal")
    assert "holds 52.1.2.3, no private IPv4 address" in refused("public.orders.internal")
    assert "more than 3 CNAMEs lead from it" in refused("loop.orders.internal")
    assert f"belongs to {PARTNER_ACCOUNT}, whose records this account does not read" in refused("db.partner.internal")
    assert snapshot(places(nekt)) == before


def test_an_instance_or_cluster_that_does_not_exist_is_database_not_found(deploy: Any, nekt: NektNetwork) -> None:
    stack: Stack = deploy(nekt)

    missing_instance = stack.run({"database": {"kind": "ec2", "instanceId": "i-0123456789abcdef0", "port": 5432,
                                               "region": REGION}})
    missing_cluster = stack.run({"database": {"kind": "redshift", "identifier": "nothing-here", "region": REGION}})
    create_database(identifier="orders-db", region=REGION, cidr="10.50.0.0/16", kind="cluster", engine="postgresql")
    aurora_as_docdb = stack.run({"database": {"kind": "docdb", "identifier": "orders-db", "region": REGION}})

    assert (missing_instance.status, missing_instance.error) == ("FAILED", "DatabaseNotFound")
    assert "i-0123456789abcdef0" in missing_instance.error_message
    assert (missing_cluster.status, missing_cluster.error) == ("FAILED", "DatabaseNotFound")
    assert "Redshift" in missing_cluster.error_message
    # DocumentDB shares RDS's API: an Aurora cluster is no DocumentDB cluster.
    assert (aurora_as_docdb.status, aurora_as_docdb.error) == ("FAILED", "DatabaseNotFound")
    assert "DocumentDB" in aurora_as_docdb.error_message


@pytest.mark.parametrize(("request_kind", "kind", "port", "definition"), [
    pytest.param("redshift", "redshift", 5439, "dnsResource", id="redshift"),
    pytest.param("docdb", "docdb", 27017, "dnsResource", id="docdb"),
    pytest.param("redshift-serverless", "redshift-serverless", 5439, "dnsResource", id="redshift-serverless"),
    pytest.param("ec2", "ec2", 5432, "ipResource", id="ec2"),
    pytest.param("address", "ec2", 5432, "ipResource", id="address"),
])
def test_each_kind_whose_vpc_overlaps_nekt_s_connects_through_a_resource_endpoint(
        request_kind: str, kind: str, port: int, definition: str, deploy: Any, nekt: NektNetwork) -> None:
    """ARN configurations are RDS's: the others are a SINGLE configuration on the endpoint's DNS name (Redshift,
    DocumentDB) or private IP address (an instance, an address)."""
    database = create_database(identifier="analytics", region=nekt.region, cidr="10.100.0.0/16", kind=kind, port=port)
    stack: Stack = deploy(nekt)
    region_places = sorted({(DEFAULT_ACCOUNT, nekt.region), (nekt.account_id, nekt.region)})
    before = snapshot(region_places)

    result = succeeded(stack.run(database.connect_input(request_kind)))

    assert result["mode"] == "resource-endpoint" and result["peeringConnectionId"] is None
    lattice = account_session(DEFAULT_ACCOUNT, nekt.region).client("vpc-lattice")
    configuration = lattice.get_resource_configuration(
        resourceConfigurationIdentifier=result["resourcePath"]["resourceConfigurationArn"])
    assert configuration["type"] == "SINGLE" and configuration["portRanges"] == [str(port)]
    assert list(configuration["resourceConfigurationDefinition"]) == [definition]
    if definition == "ipResource":
        assert configuration["resourceConfigurationDefinition"]["ipResource"]["ipAddress"] == database.private_ip
        assert ".vpc-lattice-rsc." in result["hostname"]  # an address has no name of its own to keep
    succeeded(stack.run({"connectionId": result["connectionId"], "region": nekt.region}, state_machine=DISCONNECT))
    assert snapshot(region_places) == before


@pytest.mark.parametrize(("request_kind", "kind"), [pytest.param("redshift", "redshift", id="redshift"),
                                                    pytest.param("ec2", "ec2", id="ec2")])
def test_connected_only_after_the_probe_spoke_postgresql_to_the_kind_from_the_nekt_vpc(
        request_kind: str, kind: str, deploy: Any, nekt: NektNetwork, postgres: Any) -> None:
    """Redshift speaks PostgreSQL's protocol; a database on EC2 says its engine. The emulated endpoint (the
    cluster's name, the instance's address) reaches a real PostgreSQL on 127.0.0.1 (emulator/network.py)."""
    database = database_of(kind, postgres.port)
    create_probe(nekt)
    stack: Stack = deploy(nekt)
    discovered = succeeded(stack.run({**database.connect_input(request_kind), "dryRun": True}))
    endpoint = discovered["database"]["endpoint"]
    stack.network.place(endpoint, database.private_ip or "10.0.1.10")

    result = succeeded(stack.run(database.connect_input(request_kind)))

    probe = result["probe"]
    assert probe["reachable"] is True and probe["host"] == endpoint
    assert probe["handshake"]["protocol"] == "postgresql"
    assert probe["engine"] == ("redshift" if kind == "redshift" else "postgres")


@pytest.mark.parametrize(("kind", "engine", "protocol"), [
    pytest.param("docdb", "docdb", "mongodb", id="docdb"),
    pytest.param("instance", "oracle-ee", "oracle", id="oracle"),
])
def test_connected_only_after_the_probe_spoke_documentdb_s_or_oracle_s_protocol_from_the_nekt_vpc(
        kind: str, engine: str, protocol: str, deploy: Any, nekt: NektNetwork) -> None:
    """DocumentDB answers hello over TLS; an RDS for Oracle's listener refuses the probe's unknown service, which
    proves the path all the same. The servers are built from the protocols' specifications (emulator/wire_servers.py:
    neither installs from PyPI, Debian or npm), reached through the emulated endpoint as the real ones would be."""
    server = (MongoWireServer(tls=True, set_name="rs0") if protocol == "mongodb" else TnsListener()).start()
    try:
        database = create_database(identifier="analytics", region=REGION, kind=kind, port=server.port, engine=engine)
        create_probe(nekt)
        stack: Stack = deploy(nekt)
        discovered = succeeded(stack.run({**database.connect_input(), "dryRun": True}))
        endpoint = discovered["database"]["endpoint"]
        stack.network.place(endpoint, "10.0.1.10")

        result = succeeded(stack.run(database.connect_input()))
    finally:
        server.stop()

    probe = result["probe"]
    assert probe["reachable"] is True and probe["host"] == endpoint and probe["engine"] == engine
    assert probe["handshake"]["protocol"] == protocol and result["path"] == probe["detail"]
    if isinstance(server, MongoWireServer):
        assert probe["handshake"]["tls"] is True and probe["handshake"]["setName"] == "rs0"
        assert server.commands[-1] == {"hello": 1, "$db": "admin"}
    else:
        assert probe["handshake"]["answer"] == "REFUSE" and probe["handshake"]["error"] == "ORA-12514"
