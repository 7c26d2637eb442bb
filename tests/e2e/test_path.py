"""CONNECTED means Nekt reached the database: the real connect.asl.json on the emulator, network ACLs
evaluated by Preflight and Verify, and Verify invoking the real probe handler in the Nekt account
through the accepter role. The emulated endpoint resolves to a private address of the database's
subnet that reaches a real PostgreSQL on 127.0.0.1 (emulator/network.py). Every failure ends in its
named error with both accounts as they were (network ACLs included)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.accounts import snapshot
from emulator.apigateway import rest_event
from emulator.databases import PostgresServer, free_port
from emulator.stack import DEFAULT_ACCOUNT, Stack
from emulator.strict import StrictAws
from emulator.topology import CustomerDatabase, NektNetwork, account_session, create_database, create_probe
from nekt_peering.connect.verify import PATH_NOT_PROBED
from nekt_peering.core import shapes
from tests.emulated import assert_as_documented
from tests.unit.test_shapes import problems

DB_REGION = "us-east-2"
DB_ADDRESS = "10.0.1.10"  # in the database's first subnet (10.0.1.0/24)
CONNECT = {"database": {"identifier": "orders-db", "region": DB_REGION}}


class World:
    def __init__(self, stack: Stack, nekt: NektNetwork, database: CustomerDatabase) -> None:
        self.stack, self.nekt, self.database = stack, nekt, database
        self.places = [(nekt.account_id, nekt.region), (database.account_id, database.region)]
        self.db_ec2 = account_session(DEFAULT_ACCOUNT, DB_REGION).client("ec2")
        self.nekt_ec2 = account_session(nekt.account_id, nekt.region).client("ec2")
        rds = account_session(DEFAULT_ACCOUNT, DB_REGION).client("rds")
        self.endpoint = rds.describe_db_instances(DBInstanceIdentifier=database.identifier)[
            "DBInstances"][0]["Endpoint"]["Address"]

    def snapshot(self) -> dict[str, Any]:
        return snapshot(self.places)

    def probe_calls(self) -> list[Any]:
        return [call for call in self.stack.runtime.invocations if call.logical_id == "ProbeFunction"]

    def acl_of(self, ec2: Any, subnet_id: str) -> str:
        acls = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
        return str(acls["NetworkAcls"][0]["NetworkAclId"])


def make_world(deploy: Any, nekt: NektNetwork, port: int, probe: bool = True) -> World:
    database = create_database(region=DB_REGION, port=port, engine="postgres")
    if probe:
        create_probe(nekt)
    return World(deploy(nekt), nekt, database)


@pytest.fixture
def world(deploy: Any, nekt: NektNetwork, postgres: PostgresServer) -> Iterator[World]:
    """A private PostgreSQL whose endpoint resolves, from the Nekt VPC, to a served private address."""
    built = make_world(deploy, nekt, postgres.port)
    built.stack.network.place(built.endpoint, DB_ADDRESS)
    yield built


def test_connected_only_after_the_probe_reached_postgresql_from_the_nekt_vpc(world: World) -> None:
    execution = world.stack.run(CONNECT)

    assert execution.status == "SUCCEEDED", execution.error_message
    result = execution.output
    probe = result["probe"]
    assert probe["reachable"] is True and probe["host"] == world.endpoint
    assert probe["addresses"] == [{"address": DB_ADDRESS, "insideDatabaseVpc": True}]
    assert probe["handshake"]["protocol"] == "postgresql" and probe["handshake"]["authentication"] == "SASL (SCRAM)"
    assert result["path"] == probe["detail"] and "answered on TCP" in result["path"]
    assert problems(result, shapes.Connected, "Verify's result") == []
    assert {"check": f"the probe in the Nekt VPC reached {world.endpoint}:{world.database.port}", "ok": True,
            "detail": "ok"} in result["checks"]
    # Invoked once, in the Nekt account, with the facts Verify needs and no more.
    (call,) = world.probe_calls()
    assert world.nekt.probe_function_arn.split(":")[4] == world.nekt.account_id
    assert call.event == {"host": world.endpoint, "port": world.database.port, "engine": "postgres",
                          "cidrs": ["10.0.0.0/16"]}
    # The platform sees the same facts through the API.
    answer = world.stack.invoke("ApiFunction", rest_event("GET", "/connections/orders-db", region=world.stack.region))
    assert json.loads(answer["body"])["output"]["probe"] == probe


def test_without_the_probe_verify_says_the_path_was_not_probed(deploy: Any, nekt: NektNetwork,
                                                                postgres: PostgresServer) -> None:
    world = make_world(deploy, nekt, postgres.port, probe=False)

    execution = world.stack.run(CONNECT)

    assert execution.status == "SUCCEEDED", execution.error_message
    assert execution.output["path"] == PATH_NOT_PROBED and execution.output["probe"] is None
    assert world.probe_calls() == []


def assert_failed_and_untouched(world: World, before: dict[str, Any], error: str) -> str:
    execution = world.stack.run(CONNECT)
    assert execution.status == "FAILED" and execution.error == error, execution.error_message
    assert world.snapshot() == before
    return str(execution.error_message)


def test_an_inbound_deny_on_the_database_subnets_is_refused_by_preflight_before_any_change(world: World) -> None:
    acl_id = world.acl_of(world.db_ec2, world.database.subnet_ids[0])
    world.db_ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=50, Protocol="6", RuleAction="deny",
                                          Egress=False, CidrBlock="10.100.0.0/16",
                                          PortRange={"From": world.database.port, "To": world.database.port})
    before = world.snapshot()

    message = assert_failed_and_untouched(world, before, "NetworkAclDenies")

    assert f"network ACL {acl_id} (database side" in message
    assert f"denies inbound TCP {world.database.port} from 10.100.0.0/24, 10.100.1.0/24" in message
    assert "rule 50 (deny" in message and "Nothing was changed" in message
    assert "Request peering" not in world.stack.run(CONNECT).states_entered()
    assert world.probe_calls() == []


def test_a_custom_nekt_acl_without_the_ephemeral_ports_inbound_is_refused_by_preflight(world: World) -> None:
    """A new ACL on one Nekt private subnet: outbound to the database allowed, but no inbound rule for the
    replies (a custom ACL denies all until told otherwise)."""
    acl_id = world.nekt_ec2.create_network_acl(VpcId=world.nekt.vpc_id)["NetworkAcl"]["NetworkAclId"]
    world.nekt_ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=100, Protocol="6", RuleAction="allow",
                                            Egress=True, CidrBlock="10.0.0.0/16",
                                            PortRange={"From": world.database.port, "To": world.database.port})
    subnet = world.nekt.private_subnet_ids[1]
    association = next(a["NetworkAclAssociationId"] for acl in world.nekt_ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["NetworkAcls"]
        for a in acl["Associations"] if a["SubnetId"] == subnet)
    world.nekt_ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl_id)
    before = world.snapshot()

    message = assert_failed_and_untouched(world, before, "NetworkAclDenies")

    assert f"network ACL {acl_id} (nekt side, {subnet})" in message
    assert "denies inbound TCP 1024-65535 from 10.0.1.0/24, 10.0.2.0/24, 10.0.3.0/24 (the database's replies)" \
        in message


def test_an_ephemeral_outbound_deny_that_appears_before_verify_rolls_the_connection_back(world: World) -> None:
    """Someone edits the database subnets' ACL while the connect runs: Verify reads it live."""
    acl_id = world.acl_of(world.db_ec2, world.database.subnet_ids[0])
    before = world.snapshot()
    added: list[int] = []

    def deny_the_replies(event: dict[str, Any]) -> None:
        if not added:
            world.db_ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=40, Protocol="6",
                                                  RuleAction="deny", Egress=True, CidrBlock="10.100.0.0/23",
                                                  PortRange={"From": 1024, "To": 65535})
            added.append(40)

    world.stack.runtime.before_invoke("VerifyFunction", deny_the_replies)
    execution = world.stack.run(CONNECT)

    assert execution.status == "FAILED" and execution.error == "NetworkAclDenies", execution.error_message
    assert "denies outbound TCP 1024-65535 to 10.100.0.0/24, 10.100.1.0/24 (the database's replies)" in str(
        execution.error_message)
    assert "Verify read the ACLs after the changes" in str(execution.error_message)
    assert "Rolled back: " in str(execution.error_message)
    assert world.probe_calls() == []
    # What the test itself added goes; then both accounts are as they were.
    world.db_ec2.delete_network_acl_entry(NetworkAclId=acl_id, RuleNumber=40, Egress=True)
    assert world.snapshot() == before


def test_nothing_listening_on_the_database_port_is_unreachable_tcp_refused(deploy: Any, nekt: NektNetwork) -> None:
    world = make_world(deploy, nekt, free_port())
    world.stack.network.place(world.endpoint, DB_ADDRESS)
    before = world.snapshot()

    message = assert_failed_and_untouched(world, before, "Unreachable")

    assert "failed at stage TCP refused" in message and f"{DB_ADDRESS} refused TCP {world.database.port}" in message


def test_a_dropped_connection_is_unreachable_tcp_timeout(world: World) -> None:
    world.stack.network.place(world.endpoint, DB_ADDRESS, served=False)
    before = world.snapshot()

    message = assert_failed_and_untouched(world, before, "Unreachable")

    assert "failed at stage TCP timeout" in message and "a network ACL, a route or a security group" in message


def test_an_endpoint_resolving_outside_the_peered_cidrs_is_unreachable_at_dns(world: World) -> None:
    world.stack.network.place(world.endpoint, "198.51.100.7", served=False)
    before = world.snapshot()

    message = assert_failed_and_untouched(world, before, "Unreachable")

    assert "failed at stage DNS" in message
    assert "198.51.100.7 (outside the database VPC)" in message and "DNS resolution option" in message


def test_an_endpoint_the_nekt_vpc_cannot_resolve_is_unreachable_at_dns(world: World) -> None:
    world.stack.network.names.clear()
    before = world.snapshot()

    message = assert_failed_and_untouched(world, before, "Unreachable")

    assert "failed at stage DNS" in message and "does not resolve from the Nekt VPC" in message


# --- the stand-alone re-check: POST /connections/{id}/probe (the check-path state machine) ----------


def probe_via_api(world: World, connection_id: str = "orders-db") -> tuple[int, dict[str, Any]]:
    path = f"/connections/{connection_id}/probe"
    answer = world.stack.invoke("ApiFunction", rest_event("POST", path, region=world.stack.region))
    assert_as_documented("POST", path, answer["statusCode"], answer["body"])
    return answer["statusCode"], json.loads(answer["body"])


def test_the_platform_rechecks_a_connected_path_and_tells_the_network_broke(world: World) -> None:
    assert world.stack.run(CONNECT).status == "SUCCEEDED"
    connected = world.snapshot()

    status, body = probe_via_api(world)

    assert status == 200 and body["status"] == "REACHABLE", body
    assert body["output"]["probe"]["handshake"]["authentication"] == "SASL (SCRAM)"
    assert problems(body["output"], shapes.Reachable, "the check path's result") == []
    assert body["links"]["self"] == "/connections/orders-db"
    # The network breaks (the database now answers nothing): the same call says so, naming the stage.
    world.stack.network.place(world.endpoint, DB_ADDRESS, served=False)

    status, body = probe_via_api(world)

    assert status == 200 and body["status"] == "UNREACHABLE" and body["error"] == "Unreachable"
    assert "failed at stage TCP timeout" in body["cause"]
    assert world.snapshot() == connected  # a check changes nothing
    assert len(world.probe_calls()) == 3  # Verify's, then one per check


def test_a_recheck_names_a_route_removed_since_the_connect(world: World) -> None:
    result = world.stack.run(CONNECT).output
    route = next(route for route in result["routes"] if route["side"] == "database")
    world.db_ec2.delete_route(RouteTableId=route["routeTableId"], DestinationCidrBlock=route["destinationCidr"])
    before = world.snapshot()

    status, body = probe_via_api(world)

    assert status == 200 and body["status"] == "FAILED" and body["error"] == "VerificationFailed"
    assert f"route {route['destinationCidr']} via the peering in {route['routeTableId']}" in body["cause"]
    assert world.snapshot() == before


def test_only_a_connected_connection_is_rechecked(world: World, strict: StrictAws) -> None:
    status, body = probe_via_api(world)
    assert status == 404 and "no connection orders-db" in body["message"]

    world.stack.run({**CONNECT, "dryRun": True})
    # A dry run writes no item: the API finds it by ListExecutions, which shows a new execution only
    # after a short delay (as AWS does): past it.
    time.sleep(strict.rule("new-executions-invisible").seconds + 0.1)  # type: ignore[attr-defined]
    status, body = probe_via_api(world)
    assert status == 409 and "PLANNED, not CONNECTED" in body["message"]
    assert world.probe_calls() == []
