"""The resource-endpoint path through the real state machines on the strict emulator: a database that
peering cannot reach (its VPC overlaps Nekt's, or its CIDR is another peered customer's) is shared as a VPC
resource and reached from a resource endpoint in Nekt's subnets; `auto` takes the path and says why; the
disconnect restores both accounts; a repeat connect changes nothing. Assertions on both accounts and the
registry afterwards."""

from __future__ import annotations

import ipaddress
from typing import Any

import boto3
import pytest

from emulator.accounts import aws_calls, is_mutating, snapshot
from emulator.databases import PostgresServer
from emulator.stack import DEFAULT_ACCOUNT, Execution, Stack
from emulator.topology import NektNetwork, account_session, add_database, create_database, create_probe
from nekt_peering.core.errors import VerificationFailed
from nekt_peering.registry import store

DISCONNECT = "DisconnectStateMachine"
PATH_SERVICES = ("ec2", "vpc-lattice", "ram")


def places(nekt: NektNetwork) -> list[tuple[str, str]]:
    return sorted({(DEFAULT_ACCOUNT, nekt.region), (nekt.account_id, nekt.region)})


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs between two snapshots, by place, kind and item: readable when a test fails."""
    found = []
    for place in sorted(set(before) | set(after)):
        for kind in sorted(set(before.get(place, {})) | set(after.get(place, {}))):
            old, new = before.get(place, {}).get(kind), after.get(place, {}).get(kind)
            if isinstance(old, dict) and isinstance(new, dict):
                found += [f"{place} {kind} {key}: {old.get(key)} -> {new.get(key)}"
                          for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]
            elif isinstance(old, list) and isinstance(new, list):
                found += [f"{place} {kind}: gone {item}" for item in old if item not in new]
                found += [f"{place} {kind}: new {item}" for item in new if item not in old]
            elif old != new:
                found.append(f"{place} {kind}: {old} -> {new}")
    return found


def connect(stack: Stack, identifier: str, region: str, **options: Any) -> Execution:
    return stack.run({"database": {"identifier": identifier, "region": region}, **options})


def disconnect(stack: Stack, connection_id: str, region: str) -> Execution:
    return stack.run({"connectionId": connection_id, "region": region}, state_machine=DISCONNECT)


def network_changes(calls: Any) -> dict[Any, int]:
    return {call: n for call, n in calls.items() if call[0] in PATH_SERVICES and is_mutating(call[1])}


def registry_resources(stack: Stack) -> dict[str, list[str]]:
    items = boto3.client("dynamodb", region_name=stack.region).scan(TableName=stack.tables["ConnectionsTable"])["Items"]
    return {value["resourceId"]: value.get("users", []) for value in map(store.from_item, items)
            if value["pk"].startswith("network#")}


def connection(stack: Stack, connection_id: str) -> Any:
    return store.get_connection(boto3.client("dynamodb", region_name=stack.region),
                                   stack.tables["ConnectionsTable"], connection_id)


def overlapping_cluster(nekt: NektNetwork, identifier: str = "orders-db", port: int = 5432) -> Any:
    """An Aurora cluster in Nekt's Region whose VPC (10.100.0.0/16) holds Nekt's (10.100.0.0/23)."""
    return create_database(identifier, region=nekt.region, cidr="10.100.0.0/16", kind="cluster", engine="postgresql",
                           port=port)


def test_a_database_whose_vpc_overlaps_nekt_s_connects_through_a_resource_endpoint(
        deploy: Any, nekt: NektNetwork, postgres: PostgresServer) -> None:
    database = overlapping_cluster(nekt, port=postgres.port)
    stack = deploy(nekt, NektProbeFunctionArn=create_probe(nekt))
    cluster_endpoint = account_session(DEFAULT_ACCOUNT, nekt.region).client("rds").describe_db_clusters()[
        "DBClusters"][0]["Endpoint"]
    stack.network.place(cluster_endpoint, "10.100.1.10")  # the cluster's address in its own VPC, served
    before = snapshot(places(nekt))

    plan = connect(stack, "orders-db", nekt.region, dryRun=True)
    assert plan.status == "SUCCEEDED", plan.cause
    assert plan.output["mode"] == "resource-endpoint"
    assert "CidrOverlap" in plan.output["modeReason"] and "overlaps 10.100.0.0/23" in plan.output["modeReason"]
    assert plan.output["resourcePath"]["configuration"]["type"] == "ARN"  # a cluster: follows its fail-overs
    assert snapshot(places(nekt)) == before  # a dry run changes nothing

    execution = connect(stack, "orders-db", nekt.region)

    assert execution.status == "SUCCEEDED", execution.cause
    result = execution.output
    assert result["mode"] == "resource-endpoint" and result["peeringConnectionId"] is None
    assert result["hostname"].startswith(result["resourcePath"]["vpcEndpointId"])
    assert result["hostname"].endswith(f".vpc-lattice-rsc.{nekt.region}.on.aws")
    assert result["probe"]["reachable"] and result["probe"]["handshake"]["protocol"] == "postgresql"
    # The customer's account: a gateway in the database's VPC, its group admitted on the database's group.
    customer = account_session(DEFAULT_ACCOUNT, nekt.region)
    gateway = customer.client("vpc-lattice").get_resource_gateway(
        resourceGatewayIdentifier=result["resourcePath"]["resourceGatewayId"])
    assert (gateway["status"], gateway["vpcId"]) == ("ACTIVE", database.vpc_id)
    rules = customer.client("ec2").describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [database.security_group_id]}])["SecurityGroupRules"]
    assert [(r["FromPort"], r["ReferencedGroupInfo"]["GroupId"]) for r in rules if "ReferencedGroupInfo" in r] == [
        (postgres.port, gateway["securityGroupIds"][0])]
    assert not any(r.get("CidrIpv4") for r in rules if not r["IsEgress"])  # no CIDR opened: no route either
    # Nekt's account: the share accepted, the endpoint available, no peering and no route.
    nekt_session = account_session(nekt.account_id, nekt.region)
    endpoint = nekt_session.client("ec2").describe_vpc_endpoints(
        VpcEndpointIds=[result["resourcePath"]["vpcEndpointId"]])["VpcEndpoints"][0]
    assert (endpoint["State"], endpoint["VpcId"], endpoint["VpcEndpointType"]) == ("Available", nekt.vpc_id, "Resource")
    assert snapshot(places(nekt))[f"{nekt.account_id}/{nekt.region}"]["routes"] == before[
        f"{nekt.account_id}/{nekt.region}"]["routes"]
    record = connection(stack, "orders-db")
    assert (record["state"], record["mode"]) == ("CONNECTED", "resource-endpoint")

    # Again: verified, and nothing changes in either account.
    with aws_calls() as calls:
        again = connect(stack, "orders-db", nekt.region)
    assert again.status == "SUCCEEDED", again.cause
    assert network_changes(calls) == {}
    assert again.output["hostname"] == result["hostname"]
    # Checked again later, read-only, through the endpoint; then without the rule admitting the gateway.
    check_input = {"database": {"identifier": "orders-db", "region": nekt.region}, "connectionId": "orders-db"}
    checked = stack.run(check_input, state_machine="CheckPathStateMachine")
    assert checked.status == "SUCCEEDED", checked.cause
    assert checked.output["status"] == "REACHABLE" and checked.output["probe"]["reachable"]
    rule_id = next(r["SecurityGroupRuleId"] for r in rules if "ReferencedGroupInfo" in r)
    customer.client("ec2").revoke_security_group_ingress(GroupId=database.security_group_id,
                                                         SecurityGroupRuleIds=[rule_id])
    broken = stack.run(check_input, state_machine="CheckPathStateMachine")
    assert (broken.status, broken.error) == ("FAILED", "VerificationFailed")
    assert "the rule admitting the gateway's group not found" in (broken.error_message or "")
    repaired = connect(stack, "orders-db", nekt.region)  # a connect again puts it back
    assert repaired.status == "SUCCEEDED", repaired.cause

    gone = disconnect(stack, "orders-db", nekt.region)

    assert gone.status == "SUCCEEDED", gone.cause
    assert differences(before, snapshot(places(nekt))) == []
    assert registry_resources(stack) == {}
    assert connection(stack, "orders-db")["state"] == "DISCONNECTED"


def test_a_customer_with_the_cidr_of_a_peered_customer_connects_through_a_resource_endpoint(
        deploy: Any, nekt: NektNetwork) -> None:
    create_database("orders-db", region=nekt.region, cidr="10.0.0.0/16")
    create_database("billing-db", region=nekt.region, cidr="10.0.0.0/16")  # another VPC, the same CIDR
    stack = deploy(nekt)
    first = connect(stack, "orders-db", nekt.region)
    assert first.status == "SUCCEEDED", first.cause
    assert first.output["mode"] == "peering"
    with_first = snapshot(places(nekt))

    second = connect(stack, "billing-db", nekt.region)

    assert second.status == "SUCCEEDED", second.cause
    assert second.output["mode"] == "resource-endpoint"
    assert connection(stack, "billing-db")["mode"] == "resource-endpoint"
    assert disconnect(stack, "billing-db", nekt.region).status == "SUCCEEDED"
    assert differences(with_first, snapshot(places(nekt))) == []  # the peered customer untouched
    assert connection(stack, "orders-db")["state"] == "CONNECTED"


def test_peering_s_refusal_stands_in_another_region_saying_why(deploy: Any, nekt: NektNetwork) -> None:
    create_database("orders-db", region="us-east-2", cidr="10.100.0.0/16")
    stack = deploy(nekt)
    before = snapshot([(DEFAULT_ACCOUNT, "us-east-2"), (nekt.account_id, nekt.region)])

    execution = connect(stack, "orders-db", "us-east-2")

    assert (execution.status, execution.error) == ("FAILED", "CidrOverlap")
    assert "needs the database in the Nekt VPC's Region (us-east-1)" in (execution.cause or "")
    assert snapshot([(DEFAULT_ACCOUNT, "us-east-2"), (nekt.account_id, nekt.region)]) == before


def test_two_databases_of_one_vpc_share_its_resource_gateway(deploy: Any, nekt: NektNetwork) -> None:
    orders = overlapping_cluster(nekt)
    add_database(orders, "billing-db", same_security_group=False)
    stack = deploy(nekt)
    before = snapshot(places(nekt))

    first = connect(stack, "orders-db", nekt.region, mode="resource-endpoint")
    second = connect(stack, "billing-db", nekt.region, mode="resource-endpoint")

    assert first.status == second.status == "SUCCEEDED", (first.cause, second.cause)
    gateway = first.output["resourcePath"]["resourceGatewayId"]
    assert second.output["resourcePath"]["resourceGatewayId"] == gateway
    assert second.output["hostname"] != first.output["hostname"]  # one endpoint per database
    assert registry_resources(stack)[store.gateway_id(gateway)] == ["billing-db", "orders-db"]

    assert disconnect(stack, "orders-db", nekt.region).status == "SUCCEEDED"
    lattice = account_session(DEFAULT_ACCOUNT, nekt.region).client("vpc-lattice")
    assert lattice.get_resource_gateway(resourceGatewayIdentifier=gateway)["status"] == "ACTIVE"
    with aws_calls() as calls:
        again = connect(stack, "billing-db", nekt.region, mode="resource-endpoint")
    assert again.status == "SUCCEEDED", again.cause
    assert network_changes(calls) == {}

    assert disconnect(stack, "billing-db", nekt.region).status == "SUCCEEDED"
    assert differences(before, snapshot(places(nekt))) == []
    assert registry_resources(stack) == {}


@pytest.mark.parametrize("mode", ["resource-endpoint", "auto"])
def test_an_instance_is_shared_by_its_endpoint_and_port_in_the_same_account(mode: str, deploy: Any) -> None:
    from emulator.topology import create_nekt_network

    nekt = create_nekt_network(account_id=DEFAULT_ACCOUNT, region="us-east-1")
    create_database("orders-db", region="us-east-1", cidr="10.100.0.0/16")  # an instance
    stack = deploy(nekt)
    before = snapshot(places(nekt))

    execution = connect(stack, "orders-db", "us-east-1", mode=mode)

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["resourcePath"]["resourceShareArn"] is None  # Nekt is this account: nothing to share
    configuration = account_session(DEFAULT_ACCOUNT, "us-east-1").client("vpc-lattice").get_resource_configuration(
        resourceConfigurationIdentifier=execution.output["resourcePath"]["resourceConfigurationArn"])
    assert configuration["type"] == "SINGLE" and configuration["portRanges"] == ["5432"]
    gone = disconnect(stack, "orders-db", "us-east-1")
    assert gone.status == "SUCCEEDED", gone.cause
    assert differences(before, snapshot(places(nekt))) == []


@pytest.mark.parametrize(("stage", "fault", "error"), [
    ("VerifyFunction", VerificationFailed("the connection is incomplete: (test) injected"), "VerificationFailed"),
    # Lost before returning its record (a Lambda timeout): no record of what the stage found, but the
    # connection was connected by this path as the run began.
    ("ShareDatabaseFunction", TimeoutError("Task timed out after 60.00 seconds"), "TimeoutError"),
])
def test_a_failed_run_again_of_a_connected_connection_keeps_what_was_there(
        stage: str, fault: Exception, error: str, deploy: Any, nekt: NektNetwork) -> None:
    overlapping_cluster(nekt)
    stack = deploy(nekt)
    assert connect(stack, "orders-db", nekt.region).status == "SUCCEEDED"
    connected = snapshot(places(nekt))

    def fail(event: dict[str, Any]) -> None:
        raise fault

    stack.runtime.before_invoke(stage, fail)
    again = connect(stack, "orders-db", nekt.region)

    assert (again.status, again.error) == ("FAILED", error)
    assert differences(connected, snapshot(places(nekt))) == []  # its endpoint, share and gateway stay
    record = connection(stack, "orders-db")
    assert record["state"] == "CONNECTED" and record["lastError"]["error"] == error
    stack.runtime.before.clear()
    checked = stack.run({"database": {"identifier": "orders-db", "region": nekt.region}, "connectionId": "orders-db"},
                        state_machine="CheckPathStateMachine")
    assert checked.status == "SUCCEEDED", checked.cause


# --- Nekt's subnets: room for the endpoint, a zone in common --------------------------------------------


def nekt_ec2(nekt: NektNetwork) -> Any:
    return account_session(nekt.account_id, nekt.region).client("ec2")


def take_all_but(ec2: Any, subnet_id: str, left: int) -> None:
    """Another network interface holds all the subnet's free addresses but `left`."""
    free = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["AvailableIpAddressCount"]
    ec2.create_network_interface(SubnetId=subnet_id, SecondaryPrivateIpAddressCount=free - left - 1)


def take_every_tenth(nekt: NektNetwork, subnet_id: str) -> None:
    """Addresses held every tenth: over 200 free, never 16 in a row."""
    ec2 = nekt_ec2(nekt)
    cidr = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["CidrBlock"]
    held = [str(ipaddress.ip_network(cidr)[index]) for index in range(9, 255, 10)]
    ec2.create_network_interface(SubnetId=subnet_id, PrivateIpAddresses=[
        {"PrivateIpAddress": address, "Primary": index == 0} for index, address in enumerate(held)])


def test_the_endpoint_goes_in_the_nekt_subnets_with_room_for_it(deploy: Any, nekt: NektNetwork) -> None:
    overlapping_cluster(nekt)
    full, roomy = nekt.private_subnet_ids
    take_all_but(nekt_ec2(nekt), full, 10)
    stack = deploy(nekt)
    before = snapshot(places(nekt))

    plan = connect(stack, "orders-db", nekt.region, dryRun=True)
    execution = connect(stack, "orders-db", nekt.region)

    assert plan.output["resourcePath"]["endpoint"]["subnetIds"] == [roomy]
    assert execution.status == "SUCCEEDED", execution.cause
    endpoint = nekt_ec2(nekt).describe_vpc_endpoints(
        VpcEndpointIds=[execution.output["resourcePath"]["vpcEndpointId"]])["VpcEndpoints"][0]
    assert endpoint["SubnetIds"] == [roomy]
    take_all_but(nekt_ec2(nekt), roomy, 10)  # its own endpoint's addresses are not asked for again
    with aws_calls() as calls:
        again = connect(stack, "orders-db", nekt.region)
    assert again.status == "SUCCEEDED", again.cause
    assert network_changes(calls) == {}
    assert disconnect(stack, "orders-db", nekt.region).status == "SUCCEEDED"
    assert differences(before, snapshot(places(nekt))) == []


def test_no_room_for_the_endpoint_in_nekt_s_subnets_is_refused_before_any_change(
        deploy: Any, nekt: NektNetwork) -> None:
    overlapping_cluster(nekt)
    for subnet_id in nekt.private_subnet_ids:
        take_all_but(nekt_ec2(nekt), subnet_id, 10)
    stack = deploy(nekt)
    before = snapshot(places(nekt))

    execution = connect(stack, "orders-db", nekt.region)

    assert (execution.status, execution.error) == ("FAILED", "NoFreeAddresses")
    assert f"{nekt.private_subnet_ids[0]} in {nekt.region}a" in (execution.cause or "")
    assert "10 free" in (execution.cause or "") and "Nothing was changed" in (execution.cause or "")
    assert differences(before, snapshot(places(nekt))) == []


def test_the_gateway_goes_in_the_database_subnets_with_room_and_none_is_refused(deploy: Any, nekt: NektNetwork) -> None:
    database = overlapping_cluster(nekt)  # subnets in zones a, b and c
    customer_ec2 = account_session(DEFAULT_ACCOUNT, nekt.region).client("ec2")
    take_all_but(customer_ec2, database.subnet_ids[0], 10)
    stack = deploy(nekt)

    plan = connect(stack, "orders-db", nekt.region, dryRun=True)
    assert plan.status == "SUCCEEDED", plan.cause
    assert sorted(plan.output["resourcePath"]["gateway"]["subnetIds"]) == sorted(database.subnet_ids[1:])

    for subnet_id in database.subnet_ids[1:]:
        take_all_but(customer_ec2, subnet_id, 12)
    before = snapshot(places(nekt))
    refused = connect(stack, "orders-db", nekt.region)
    assert (refused.status, refused.error) == ("FAILED", "NoFreeAddresses")
    assert "a resource gateway takes 16 addresses" in (refused.cause or "")
    assert f"{database.subnet_ids[0]} in {nekt.region}a" in (refused.cause or "") and "12 free" in (refused.cause or "")
    assert differences(before, snapshot(places(nekt))) == []


def test_free_addresses_not_in_one_block_are_a_named_error_and_the_run_is_undone(
        deploy: Any, nekt: NektNetwork) -> None:
    overlapping_cluster(nekt)
    for subnet_id in nekt.private_subnet_ids:
        take_every_tenth(nekt, subnet_id)
    stack = deploy(nekt)
    before = snapshot(places(nekt))

    execution = connect(stack, "orders-db", nekt.region)

    assert (execution.status, execution.error) == ("FAILED", "NoFreeAddresses")
    assert "16 contiguous free addresses" in (execution.cause or "")
    assert differences(before, snapshot(places(nekt))) == []  # the gateway, share and groups undone
    assert registry_resources(stack) == {}


def test_nekt_subnets_in_no_zone_of_the_database_are_refused_before_any_change(
        deploy: Any, nekt: NektNetwork) -> None:
    overlapping_cluster(nekt)  # subnets in zones a, b and c
    ec2 = nekt_ec2(nekt)
    for association in ec2.describe_route_tables(RouteTableIds=[nekt.private_route_table_id])["RouteTables"][0][
            "Associations"]:
        ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
    ec2.delete_subnet(SubnetId=nekt.private_subnet_ids[1])
    elsewhere = ec2.create_subnet(VpcId=nekt.vpc_id, CidrBlock="10.100.1.0/24",
                                  AvailabilityZone=f"{nekt.region}d")["Subnet"]["SubnetId"]
    ec2.associate_route_table(RouteTableId=nekt.private_route_table_id, SubnetId=elsewhere)
    stack = deploy(nekt)
    before = snapshot(places(nekt))

    execution = connect(stack, "orders-db", nekt.region)

    assert (execution.status, execution.error) == ("FAILED", "NoSharedZone")
    assert f"{nekt.region}d" in (execution.cause or "") and "Nothing was changed" in (execution.cause or "")
    assert differences(before, snapshot(places(nekt))) == []


# --- a connected connection keeps its path ---------------------------------------------------------------


def test_a_connected_connection_keeps_its_path_when_auto_would_now_choose_another(
        deploy: Any, nekt: NektNetwork) -> None:
    """billing-db took the resource-endpoint path because orders-db, peered, has its CIDR; once orders-db is
    gone, auto would peer billing-db: a connect again keeps its path (a change would leave the endpoint
    counted where billing-db's disconnect no longer looks); asking for peering is refused, changing nothing."""
    create_database("orders-db", region=nekt.region, cidr="10.0.0.0/16")
    create_database("billing-db", region=nekt.region, cidr="10.0.0.0/16")
    stack = deploy(nekt)
    before = snapshot(places(nekt))
    assert connect(stack, "orders-db", nekt.region).output["mode"] == "peering"
    assert connect(stack, "billing-db", nekt.region).output["mode"] == "resource-endpoint"
    assert disconnect(stack, "orders-db", nekt.region).status == "SUCCEEDED"
    connected = snapshot(places(nekt))
    fresh = connect(stack, "orders-db", nekt.region, dryRun=True)  # never connected: auto peers it again
    assert fresh.output["mode"] == "peering"

    plan = connect(stack, "billing-db", nekt.region, dryRun=True)
    with aws_calls() as calls:
        again = connect(stack, "billing-db", nekt.region)
    refused = connect(stack, "billing-db", nekt.region, mode="peering")
    checked = stack.run({"database": {"identifier": "billing-db", "region": nekt.region}, "connectionId": "billing-db"},
                        state_machine="CheckPathStateMachine")

    assert again.status == "SUCCEEDED", again.cause
    assert plan.output["mode"] == again.output["mode"] == "resource-endpoint"
    assert "connected by the resource-endpoint path, which it keeps" in plan.output["modeReason"]
    planned = {change["action"] for change in plan.output["changes"]}  # what Discover saw there is not planned
    assert not planned & {"CreateResourceGateway", "AuthorizeSecurityGroupIngress", "CreateSecurityGroup",
                          "CreateVpcEndpoint"}, planned
    assert network_changes(calls) == {}
    assert (refused.status, refused.error) == ("FAILED", "ConnectedByAnotherPath")
    assert "Disconnect it first" in (refused.cause or "")
    assert checked.status == "SUCCEEDED", checked.cause
    assert differences(connected, snapshot(places(nekt))) == []
    assert connection(stack, "billing-db")["state"] == "CONNECTED"
    assert disconnect(stack, "billing-db", nekt.region).status == "SUCCEEDED"
    assert differences(before, snapshot(places(nekt))) == []
    assert registry_resources(stack) == {}



# --- TLS: the name Nekt connects by, and the certificate (issue 22) -----------------------------------------


def test_nekt_reaches_the_cluster_by_the_names_its_certificate_covers_and_a_second_connection_is_told_how(
        deploy: Any, nekt: NektNetwork) -> None:
    """With DNS hostnames and DNS support in the Nekt VPC, the resource endpoint serves the cluster's own writer
    and reader names there (private DNS for exactly those names): Nekt connects by them, and a TLS-only server's
    certificate for them verifies. A second connection to the same cluster cannot serve the same names again: it
    connects by the endpoint's own name, which the certificate does not cover, and the result says which TLS
    setting works."""
    server = PostgresServer(tls_only=True)
    overlapping_cluster(nekt, port=server.port)
    rds = account_session(DEFAULT_ACCOUNT, nekt.region).client("rds")
    cluster = rds.describe_db_clusters(DBClusterIdentifier="orders-db")["DBClusters"][0]
    writer, reader = cluster["Endpoint"], cluster["ReaderEndpoint"]
    server.certificate_names = [writer, reader]
    server.start()
    try:
        nekt_ec2 = account_session(nekt.account_id, nekt.region).client("ec2")
        nekt_ec2.modify_vpc_attribute(VpcId=nekt.vpc_id, EnableDnsHostnames={"Value": True})
        stack = deploy(nekt, NektProbeFunctionArn=create_probe(nekt))
        stack.network.place(writer, "10.100.1.10")
        stack.network.place(reader, "10.100.1.11")
        before = snapshot(places(nekt))

        execution = connect(stack, "orders-db", nekt.region)

        assert execution.status == "SUCCEEDED", execution.cause
        result = execution.output
        assert result["hostname"] == writer
        assert [(name["role"], name["privateDnsName"]) for name in result["resourcePath"]["names"]] == [
            ("writer", writer), ("reader", reader)]
        assert result["resourcePath"]["tls"]["verifyFull"] is True
        certificate = result["probe"]["handshake"]["certificate"]
        assert (certificate["host"], certificate["coversHost"]) == (writer, True)
        endpoint = nekt_ec2.describe_vpc_endpoints(VpcEndpointIds=[result["resourcePath"]["vpcEndpointId"]])[
            "VpcEndpoints"][0]
        assert endpoint["PrivateDnsEnabled"] and endpoint["DnsOptions"]["PrivateDnsPreference"] == \
            "SPECIFIED_DOMAINS_ONLY" and sorted(endpoint["DnsOptions"]["PrivateDnsSpecifiedDomains"]) == sorted(
            [writer, reader])

        second = stack.run({"database": {"identifier": "orders-db", "region": nekt.region, "endpoint": "reader"},
                            "connectionId": "orders-db-reports"})

        assert second.status == "SUCCEEDED", second.cause
        names = second.output["resourcePath"]["names"]
        assert [(name["role"], name["privateDnsName"]) for name in names] == [("writer", None), ("reader", None)]
        assert second.output["hostname"] == names[1]["dnsName"] != names[0]["dnsName"]  # the reader's, by its role
        tls = second.output["resourcePath"]["tls"]
        assert tls["verifyFull"] is False and "sslmode=verify-ca" in tls["advice"]
        certificate = second.output["probe"]["handshake"]["certificate"]
        assert (certificate["coversHost"], certificate["names"]) == (False, [writer, reader])

        for connection_id in ("orders-db-reports", "orders-db"):
            assert disconnect(stack, connection_id, nekt.region).status == "SUCCEEDED"
        assert differences(before, snapshot(places(nekt))) == []
    finally:
        server.stop()
