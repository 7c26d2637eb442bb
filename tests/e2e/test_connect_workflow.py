"""End to end: the real connect.asl.json, as template.yaml substitutes it, on moto's Step Functions,
each task running the real handler. Assertions are on the accounts afterwards, not only the output."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.accounts import establish_peering, set_peering_status, snapshot
from emulator.stack import DEFAULT_ACCOUNT, Execution, Stack
from emulator.strict import StrictAws
from emulator.strict.peerings import Timing
from emulator.topology import NektNetwork, account_session, create_database, create_nekt_network

STACK_REGION = "us-east-1"
MANAGED_TAGS = {"nekt:managed-by": "nekt-peering"}


def connect_input(identifier: str = "orders-db", region: str = "us-east-2", **extra: Any) -> dict[str, Any]:
    return {"database": {"identifier": identifier, "region": region}, **extra}


def ec2(account_id: str, region: str) -> Any:
    return account_session(account_id, region).client("ec2")


def routes_of(account_id: str, region: str, route_table_id: str) -> dict[str, str]:
    table = ec2(account_id, region).describe_route_tables(RouteTableIds=[route_table_id])["RouteTables"][0]
    return {r["DestinationCidrBlock"]: r.get("VpcPeeringConnectionId", r.get("GatewayId", ""))
            for r in table["Routes"] if "DestinationCidrBlock" in r}


def ingress_rules(region: str, group_id: str) -> list[dict[str, Any]]:
    rules = ec2(DEFAULT_ACCOUNT, region).describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group_id]}])["SecurityGroupRules"]
    return [rule for rule in rules if not rule["IsEgress"]]


def peering(account_id: str, region: str, peering_id: str) -> dict[str, Any]:
    return ec2(account_id, region).describe_vpc_peering_connections(
        VpcPeeringConnectionIds=[peering_id])["VpcPeeringConnections"][0]


def live_peerings(region: str = "us-east-2") -> list[str]:
    return [p["VpcPeeringConnectionId"] for p in
            ec2(DEFAULT_ACCOUNT, region).describe_vpc_peering_connections()["VpcPeeringConnections"]
            if p["Status"]["Code"] not in ("deleting", "deleted", "failed", "rejected", "expired")]


def assert_succeeded(execution: Execution) -> dict[str, Any]:
    assert execution.status == "SUCCEEDED", f"{execution.error}: {execution.error_message}"
    assert isinstance(execution.output, dict)
    return execution.output


def assert_failed(execution: Execution, error: str) -> str:
    assert execution.status == "FAILED"
    assert execution.error == error, execution.error_message
    assert execution.error_message
    return execution.error_message


def test_cross_account_cross_region_connects_both_accounts(deploy: Any, nekt: NektNetwork) -> None:
    database = create_database(region="us-east-2")
    stack = deploy(nekt)

    result = assert_succeeded(stack.run(connect_input()))

    pcx_id = result["peeringConnectionId"]
    assert result["status"] == "CONNECTED" and result["mode"] == "peering"
    requester_view = peering(DEFAULT_ACCOUNT, "us-east-2", pcx_id)
    assert requester_view["Status"]["Code"] == "active"
    assert requester_view["RequesterVpcInfo"]["VpcId"] == database.vpc_id
    assert requester_view["AccepterVpcInfo"] == requester_view["AccepterVpcInfo"] | {
        "VpcId": nekt.vpc_id, "OwnerId": nekt.account_id, "Region": nekt.region}
    # A private database's endpoint already resolves to its private address: the DNS option stays off.
    assert requester_view["RequesterVpcInfo"]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"] is False
    assert result["dnsResolution"]["needed"] is False and "private" in result["dnsResolution"]["reason"]
    tags = {t["Key"]: t["Value"] for t in peering(nekt.account_id, nekt.region, pcx_id)["Tags"]}
    assert tags == {"Name": "orders-db <> Nekt", "nekt:connection-id": "orders-db", **MANAGED_TAGS}
    # Nekt's private route table reaches the database VPC; nothing else on the Nekt side changed.
    assert routes_of(nekt.account_id, nekt.region, nekt.private_route_table_id)["10.0.0.0/16"] == pcx_id
    assert "10.0.0.0/16" not in routes_of(nekt.account_id, nekt.region, nekt.main_route_table_id)
    # Both explicit database route tables and the main one (serving the third subnet) reach the /23 only.
    for route_table_id in database.route_table_ids:
        routes = routes_of(DEFAULT_ACCOUNT, "us-east-2", route_table_id)
        assert routes[nekt.cidr] == pcx_id
        assert "10.100.8.0/24" not in routes
    assert {(r["routeTableId"], r["side"], r["created"]) for r in result["routes"]} == {
        (nekt.private_route_table_id, "nekt", True)} | {(rt, "database", True) for rt in database.route_table_ids}
    [rule] = ingress_rules("us-east-2", database.security_group_id)
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"], rule["CidrIpv4"], rule["Description"]) == (
        "tcp", 5432, 5432, nekt.cidr, "Nekt")
    assert {"nekt:connection-id": "orders-db"}.items() <= {t["Key"]: t["Value"] for t in rule["Tags"]}.items()
    assert result["ingress"] == {"groupId": database.security_group_id, "port": 5432, "cidr": nekt.cidr,
                                 "ruleId": rule["SecurityGroupRuleId"], "created": True}
    assert result["checks"] and all(check["ok"] for check in result["checks"])


def test_same_account_same_region_needs_no_role(deploy: Any, aws: None) -> None:
    nekt = create_nekt_network(account_id=DEFAULT_ACCOUNT, region=STACK_REGION)
    database = create_database(region=STACK_REGION, cidr="10.20.0.0/16")
    stack = deploy(nekt)

    result = assert_succeeded(stack.run({"database": {"identifier": "orders-db"}}))

    view = peering(DEFAULT_ACCOUNT, STACK_REGION, result["peeringConnectionId"])
    assert view["Status"]["Code"] == "active"
    assert view["AccepterVpcInfo"]["OwnerId"] == view["RequesterVpcInfo"]["OwnerId"] == DEFAULT_ACCOUNT
    assert routes_of(DEFAULT_ACCOUNT, STACK_REGION, nekt.private_route_table_id)["10.20.0.0/16"] == view[
        "VpcPeeringConnectionId"]
    assert result["database"]["region"] == STACK_REGION
    assert len(ingress_rules(STACK_REGION, database.security_group_id)) == 1


def test_aurora_cluster_on_its_own_port_with_a_second_vpc_cidr(deploy: Any, nekt: NektNetwork) -> None:
    database = create_database(identifier="billing", kind="cluster", engine="mysql", port=3306,
                               secondary_cidr="10.1.0.0/16")
    stack = deploy(nekt)

    result = assert_succeeded(stack.run(connect_input("billing", connectionId="billing-prod")))

    assert result["database"]["kind"] == "cluster"
    assert result["connectionId"] == "billing-prod"
    nekt_routes = routes_of(nekt.account_id, nekt.region, nekt.private_route_table_id)
    assert nekt_routes["10.0.0.0/16"] == nekt_routes["10.1.0.0/16"] == result["peeringConnectionId"]
    [rule] = ingress_rules("us-east-2", database.security_group_id)
    assert (rule["FromPort"], rule["ToPort"]) == (3306, 3306)


def test_existing_active_peering_is_reused_not_duplicated(deploy: Any, nekt: NektNetwork) -> None:
    database = create_database()
    existing = establish_peering(
        ec2(DEFAULT_ACCOUNT, "us-east-2"), ec2(nekt.account_id, nekt.region),
        VpcId=database.vpc_id, PeerVpcId=nekt.vpc_id, PeerOwnerId=nekt.account_id, PeerRegion=nekt.region)
    stack = deploy(nekt)

    execution = stack.run(connect_input())
    result = assert_succeeded(execution)

    assert result["peeringConnectionId"] == existing
    assert "Accept peering" not in execution.states_entered()
    live = [p for p in ec2(DEFAULT_ACCOUNT, "us-east-2").describe_vpc_peering_connections()["VpcPeeringConnections"]
            if p["Status"]["Code"] != "deleted"]
    assert [p["VpcPeeringConnectionId"] for p in live] == [existing]
    assert "Tags" not in live[0] or not live[0]["Tags"], "a peering we did not create must not get our tags"
    assert routes_of(nekt.account_id, nekt.region, nekt.private_route_table_id)["10.0.0.0/16"] == existing


def test_running_again_after_success_creates_nothing(deploy: Any, nekt: NektNetwork) -> None:
    create_database()
    stack = deploy(nekt)
    first = assert_succeeded(stack.run(connect_input()))
    before = snapshot([(DEFAULT_ACCOUNT, "us-east-2"), (nekt.account_id, nekt.region)])

    second = assert_succeeded(stack.run(connect_input()))

    assert second["peeringConnectionId"] == first["peeringConnectionId"]
    assert not any(route["created"] for route in second["routes"])
    assert second["ingress"]["created"] is False
    assert second["dnsResolution"]["changed"] is False
    assert snapshot([(DEFAULT_ACCOUNT, "us-east-2"), (nekt.account_id, nekt.region)]) == before


def test_publicly_accessible_database_in_auto_mode_only_allows_the_public_ip(
    deploy: Any, nekt: NektNetwork
) -> None:
    database = create_database(publicly_accessible=True)
    stack = deploy(nekt, NektPublicIp="100.27.146.35")
    before_nekt = snapshot([(nekt.account_id, nekt.region)])

    execution = stack.run(connect_input())
    result = assert_succeeded(execution)

    assert result["mode"] == "public" and result["peeringConnectionId"] is None and result["routes"] == []
    [rule] = ingress_rules("us-east-2", database.security_group_id)
    assert (rule["CidrIpv4"], rule["FromPort"]) == ("100.27.146.35/32", 5432)
    assert ec2(DEFAULT_ACCOUNT, "us-east-2").describe_vpc_peering_connections()["VpcPeeringConnections"] == []
    assert snapshot([(nekt.account_id, nekt.region)]) == before_nekt
    assert "Request peering" not in execution.states_entered()


def test_public_mode_for_a_private_database_is_refused(deploy: Any, nekt: NektNetwork) -> None:
    create_database()
    stack = deploy(nekt)

    message = assert_failed(stack.run(connect_input(mode="public")), "InvalidInput")

    assert "not publicly accessible" in message and "mode" in message


def test_cidr_overlap_fails_before_any_change(deploy: Any, nekt: NektNetwork) -> None:
    create_database(cidr="10.100.0.0/16")
    stack = deploy(nekt)
    places = [(DEFAULT_ACCOUNT, "us-east-2"), (nekt.account_id, nekt.region)]
    before = snapshot(places)

    execution = stack.run(connect_input())

    message = assert_failed(execution, "CidrOverlap")
    assert "10.100.0.0/16 overlaps 10.100.0.0/23" in message
    assert snapshot(places) == before
    assert "Request peering" not in execution.states_entered()


def test_route_conflict_in_a_database_route_table_fails_before_any_change(deploy: Any, nekt: NektNetwork) -> None:
    database = create_database()
    client = ec2(DEFAULT_ACCOUNT, "us-east-2")
    gateway = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    client.attach_internet_gateway(InternetGatewayId=gateway, VpcId=database.vpc_id)
    client.create_route(RouteTableId=database.route_table_ids[0], DestinationCidrBlock=nekt.cidr, GatewayId=gateway)
    stack = deploy(nekt)
    places = [(DEFAULT_ACCOUNT, "us-east-2"), (nekt.account_id, nekt.region)]
    before = snapshot(places)

    message = assert_failed(stack.run(connect_input()), "RouteConflict")

    assert database.route_table_ids[0] in message and gateway in message
    assert snapshot(places) == before


def test_unknown_database_fails_with_a_pointer_to_support(deploy: Any, nekt: NektNetwork) -> None:
    stack = deploy(nekt)

    message = assert_failed(stack.run(connect_input("no-such-db")), "DatabaseNotFound")

    assert "no-such-db" in message and "us-east-2" in message and "support" in message


@pytest.mark.parametrize(("bad_input", "field"), [
    ({"database": {"identifier": "orders_db!"}}, "database.identifier"),
    ({"database": {"identifier": "orders-db", "region": "Ohio"}}, "database.region"),
    ({"database": {"identifier": "orders-db"}, "mode": "vpn"}, "mode"),
    ({"database": {"identifier": "orders-db"}, "dryRun": "yes"}, "dryRun"),
    ({"db": "orders-db"}, "database"),
])
def test_invalid_input_fails_fast_naming_the_field(
    deploy: Any, nekt: NektNetwork, bad_input: dict[str, Any], field: str
) -> None:
    create_database()
    stack = deploy(nekt)

    execution = stack.run(bad_input)

    message = assert_failed(execution, "InvalidInput")
    assert field in message
    assert execution.states_entered() == ["Load settings", "Discover", "Failed before any change"]


def test_dry_run_returns_the_plan_and_changes_nothing(deploy: Any, nekt: NektNetwork) -> None:
    database = create_database()
    stack = deploy(nekt)
    places = [(DEFAULT_ACCOUNT, "us-east-2"), (nekt.account_id, nekt.region)]
    before = snapshot(places)

    plan = assert_succeeded(stack.run(connect_input(dryRun=True)))

    assert snapshot(places) == before
    assert plan["status"] == "PLANNED" and plan["dryRun"] is True
    actions = [change["action"] for change in plan["changes"]]
    assert actions == ["CreateVpcPeeringConnection", "AcceptVpcPeeringConnection"] + ["CreateRoute"] * 4 + [
        "AuthorizeSecurityGroupIngress"]
    assert {route["routeTableId"] for route in plan["routes"]} == {
        nekt.private_route_table_id, *database.route_table_ids}


def test_cross_account_without_an_accepter_role_is_access_denied(deploy: Any, nekt: NektNetwork) -> None:
    create_database()
    stack = deploy(nekt, NektAccepterRoleArn="", NektExternalId="")

    message = assert_failed(stack.run(connect_input()), "AccessDenied")

    assert "NektAccepterRoleArn" in message and nekt.account_id in message


def slow_aws(stack: Stack, statuses: list[str], awaiting: str = "pending-acceptance") -> list[str]:
    """AWS reports each of `statuses` in turn to the polls awaiting `awaiting` (moto is instant)."""
    remaining = iter(statuses)
    seen: list[str] = []

    def report_next_status(event: dict[str, Any]) -> None:
        if event["awaiting"] == awaiting:
            seen.append(status := next(remaining, statuses[-1]))
            set_peering_status(DEFAULT_ACCOUNT, "us-east-2", event["peering"]["peeringConnectionId"], status,
                               "Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range"
                               if status == "failed" else "")

    stack.runtime.before_invoke("PeeringStatusFunction", report_next_status)
    return seen


def test_slow_request_is_polled_until_it_can_be_accepted(deploy: Any, nekt: NektNetwork) -> None:
    create_database()
    stack = deploy(nekt)
    seen = slow_aws(stack, ["initiating-request", "initiating-request", "pending-acceptance"])

    execution = stack.run(connect_input())

    assert_succeeded(execution)
    # Across Regions the Nekt account sees the request a little after the database account does
    # (emulator.strict.peerings): Accept finds it not yet visible once, and the request is polled again.
    assert seen == ["initiating-request", "initiating-request", "pending-acceptance", "pending-acceptance"]
    assert execution.states_entered().count("Wait for pending-acceptance") == 4
    assert execution.states_entered().count("Accept peering") == 2


def test_slow_activation_is_polled_until_active(deploy: Any, nekt: NektNetwork) -> None:
    create_database()
    stack = deploy(nekt)

    def aws_still_provisioning(event: dict[str, Any], result: dict[str, Any]) -> None:
        result["status"] = "provisioning"
        set_peering_status(DEFAULT_ACCOUNT, "us-east-2", result["peeringConnectionId"], "provisioning")

    stack.runtime.after_invoke("AcceptPeeringFunction", aws_still_provisioning)
    seen = slow_aws(stack, ["provisioning", "active"], awaiting="active")

    execution = stack.run(connect_input())

    assert_succeeded(execution)
    assert seen == ["provisioning", "active"]
    assert execution.states_entered().count("Wait for active") == 2


def test_peering_stuck_past_max_polls_times_out(deploy: Any, nekt: NektNetwork, strict: StrictAws) -> None:
    create_database()
    stack = deploy(nekt, MaxPolls="3")
    strict.rule("peering-clock").book.timing = Timing(initiating=5)  # type: ignore[attr-defined]

    execution = stack.run(connect_input())

    message = assert_failed(execution, "PeeringTimeout")
    assert execution.states_entered().count("Check request status") == 3
    assert "after 3 polls" in message and "MaxPolls" in message
    assert "Rolled back: peering pcx-" in message, "the request that never completed is withdrawn"
    assert live_peerings() == []


def test_peering_failed_by_aws_fails_with_its_message(deploy: Any, nekt: NektNetwork) -> None:
    create_database()
    stack = deploy(nekt)
    slow_aws(stack, ["failed"])

    message = assert_failed(stack.run(connect_input()), "PeeringFailed")

    assert "overlapping CIDR range" in message
    assert live_peerings() == []
