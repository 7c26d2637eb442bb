"""Repair (POST /connections/{id}/repair, `nekt-peering repair`): a connect of the connection's recorded request
through the real connect ASL, under its locks. A drift made by hand is found by a check (DEGRADED), put back by the
repair (HEALTHY, `Connection Restored`), and both accounts end as the connect that made the connection left them; a
drift that changes the plan is refused by name, changing nothing; a repair that fails removes only what it added."""

from __future__ import annotations

import json
from typing import Any

import boto3

from emulator.accounts import snapshot
from emulator.stack import DEFAULT_ACCOUNT
from emulator.topology import CustomerDatabase, NektNetwork, account_session, create_database
from nekt_peering.registry import bookkeeping
from tests.conftest import Api, Gate

INPUT = {"database": {"identifier": "orders-db", "region": "us-east-2"}}


def places(nekt: NektNetwork) -> list[tuple[str, str]]:
    return [(DEFAULT_ACCOUNT, "us-east-2"), (nekt.account_id, nekt.region)]


def connect(api: Api) -> dict[str, Any]:
    """The connection made by a plain connect through the API: its GET once connected."""
    assert api.stack.wait(api.call("POST", "/connections", INPUT).body["executionArn"]).status == "SUCCEEDED"
    connected = api.call("GET", "/connections/orders-db").body
    assert connected["status"] == "CONNECTED"
    return connected


def delete_database_route(database: CustomerDatabase, nekt: NektNetwork) -> None:
    """Someone tidies the database's route table: its route to the Nekt VPC is gone."""
    ec2 = account_session(DEFAULT_ACCOUNT, database.region).client("ec2")
    ec2.delete_route(RouteTableId=database.route_table_ids[0], DestinationCidrBlock=nekt.cidr)


def counted(api: Api, connection: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The registry's items of what the connection's network relies on: origin, creator, users, details but the
    rule's id (a rule made again has a new one; snapshot() leaves it out too)."""
    items = bookkeeping.network_resources(boto3.client("dynamodb", region_name=api.stack.region),
                                          api.stack.tables["ConnectionsTable"], connection["network"])
    return {rid: {**item, "details": {key: value for key, value in item["details"].items() if key != "ruleId"}}
            for rid, item in items.items()}


def health_events(api: Api) -> list[tuple[str, dict[str, Any]]]:
    return [(event["detail-type"], event["detail"]) for event in api.stack.published()
            if event["detail-type"] in ("Connection Degraded", "Connection Restored")]


def test_a_drift_found_degraded_is_repaired_healthy_and_restored_as_the_connect_left_both_accounts(
        api: Api, nekt: NektNetwork) -> None:
    database = create_database()
    connected = connect(api)
    as_connected, counted_as_connected = snapshot(places(nekt)), counted(api, connected)
    # The route and the security group's rule, both gone by hand.
    delete_database_route(database, nekt)
    ec2 = account_session(DEFAULT_ACCOUNT, database.region).client("ec2")
    rules = [rule["SecurityGroupRuleId"] for rule in ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [database.security_group_id]}])["SecurityGroupRules"]
        if not rule["IsEgress"] and rule.get("FromPort") == database.port]
    assert rules
    ec2.revoke_security_group_ingress(GroupId=database.security_group_id, SecurityGroupRuleIds=rules)

    checked = api.call("POST", "/connections/orders-db/probe")
    assert (checked.status, checked.body["error"]) == (200, "VerificationFailed")
    degraded = api.call("GET", "/connections/orders-db").body["health"]
    assert degraded["state"] == "DEGRADED" and database.route_table_ids[0] in degraded["cause"]
    assert api.call("GET", "/connections").body["connections"][0]["health"] == degraded

    accepted = api.call("POST", "/connections/orders-db/repair")

    assert accepted.status == 202
    assert (accepted.body["workflow"], accepted.body["status"]) == ("connect", "CONNECTING")
    repair = api.stack.wait(accepted.body["executionArn"])
    assert repair.status == "SUCCEEDED", repair.cause
    started = json.loads(repair.history[0]["executionStartedEventDetails"]["input"])
    assert started == {**INPUT, "connectionId": "orders-db"}, "the connection's recorded request"
    assert snapshot(places(nekt)) == as_connected, "both accounts as the connect that made it left them"
    assert counted(api, connected) == counted_as_connected, "and the registry counts the same resources"
    repaired = api.call("GET", "/connections/orders-db").body
    assert (repaired["status"], repaired["executionArn"], repaired["relies"]) == (
        "CONNECTED", repair.arn, connected["relies"])
    health = repaired["health"]
    assert health["state"] == "HEALTHY" and "cause" not in health and health["since"] > degraded["since"]
    restored = health_events(api)[-1]
    assert restored == ("Connection Restored", {"connectionId": "orders-db", "health": health,
                                                "version": restored[1]["version"]})
    assert [kind for kind, _ in health_events(api)] == ["Connection Degraded", "Connection Restored"]

    again = api.stack.wait(api.call("POST", "/connections/orders-db/repair").body["executionArn"])
    assert again.status == "SUCCEEDED" and snapshot(places(nekt)) == as_connected
    assert api.call("GET", "/connections/orders-db").body["health"]["since"] == health["since"]
    assert len(health_events(api)) == 2, "a repair of a HEALTHY connection publishes no health event"


def test_a_database_moved_to_another_vpc_is_refused_plan_changed_and_nothing_changes(
        api: Api, nekt: NektNetwork) -> None:
    database = create_database()
    connect(api)
    # The customer moves the database: orders-db is made again in another VPC.
    elsewhere = create_database(identifier="staging-db", cidr="10.1.0.0/16")
    rds = account_session(DEFAULT_ACCOUNT, database.region).client("rds")
    rds.delete_db_instance(DBInstanceIdentifier="orders-db", SkipFinalSnapshot=True)
    rds.create_db_instance(DBInstanceIdentifier="orders-db", Engine="postgres", DBInstanceClass="db.t4g.micro",
                           AllocatedStorage=20, DBSubnetGroupName="staging-db-subnets",
                           VpcSecurityGroupIds=[elsewhere.security_group_id], MasterUsername="admin_user",
                           MasterUserPassword="not-a-real-password", Port=database.port)
    assert api.call("POST", "/connections/orders-db/probe").body["error"] == "VerificationFailed"
    assert api.call("GET", "/connections/orders-db").body["health"]["drift"] == ["database-moved-vpc"]
    before = snapshot(places(nekt))
    item_before = api.call("GET", "/connections/orders-db").body

    accepted = api.call("POST", "/connections/orders-db/repair")
    refused = api.stack.wait(accepted.body["executionArn"])

    assert (refused.status, refused.error) == ("FAILED", "PlanChanged")
    assert elsewhere.vpc_id in (refused.cause or "") and "Connect again" in (refused.cause or "")
    assert snapshot(places(nekt)) == before, "nothing changed in either account"
    after = api.call("GET", "/connections/orders-db").body
    assert (after["status"], after["workflow"], after["executionArn"], after["error"]) == (
        "CONNECTED", "connect", refused.arn, "PlanChanged")
    unchanged = ("relies", "network", "database", "executions", "output", "request")
    assert {key: after[key] for key in unchanged} == {key: item_before[key] for key in unchanged}


def normalised(state: Any, peering: str) -> Any:
    """A state with the connection's peering id spelt the same whichever peering it is: a repair's is new."""
    return json.loads(json.dumps(state).replace(peering, "pcx-of-the-connection"))


def delete_the_peering(database: CustomerDatabase, connected: dict[str, Any]) -> str:
    """Someone deletes "an unused peering": the connection's. Returns its id."""
    peering = str(connected["output"]["peeringConnectionId"])
    ec2 = account_session(DEFAULT_ACCOUNT, database.region).client("ec2")
    ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=peering)
    return peering


def test_a_deleted_peering_is_named_and_repaired_with_a_new_peering_as_a_fresh_connect_leaves_both_accounts(
        api: Api, nekt: NektNetwork) -> None:
    """The connection's peering deleted by hand: the check names `peering-gone`; a repair requests and accepts a
    new peering, replaces the connection's blackholed routes, and the registry counts the new peering only."""
    database = create_database()
    before_any = snapshot(places(nekt))
    connected = connect(api)
    as_connected, counted_as_connected = snapshot(places(nekt)), counted(api, connected)
    gone = delete_the_peering(database, connected)

    assert api.call("POST", "/connections/orders-db/probe").body["error"] == "VerificationFailed"
    assert api.call("GET", "/connections/orders-db").body["health"]["drift"] == ["peering-gone"]
    repair = api.stack.wait(api.call("POST", "/connections/orders-db/repair").body["executionArn"])

    assert repair.status == "SUCCEEDED", repair.cause
    repaired = api.call("GET", "/connections/orders-db").body
    new = repaired["output"]["peeringConnectionId"]
    assert new != gone and repaired["health"]["state"] == "HEALTHY"
    assert health_events(api)[-1][0] == "Connection Restored"
    assert normalised(snapshot(places(nekt)), new) == normalised(as_connected, gone), \
        "both accounts as a fresh connect leaves them: the new peering, the routes to it, nothing to the gone one"
    assert normalised(counted(api, connected), new) == normalised(counted_as_connected, gone), \
        "the registry counts the new peering, and no longer the gone one"
    assert normalised(repaired["relies"], new) == normalised(connected["relies"], gone)

    disconnected = api.stack.wait(api.call("DELETE", "/connections/orders-db").body["executionArn"])
    assert disconnected.status == "SUCCEEDED", disconnected.cause
    assert snapshot(places(nekt)) == before_any


def test_a_repair_that_fails_midway_removes_only_the_route_it_put_back(api: Api, nekt: NektNetwork) -> None:
    database = create_database()
    connected = connect(api)
    counted_as_connected = counted(api, connected)
    delete_database_route(database, nekt)
    drifted = snapshot(places(nekt))

    def fault(event: dict[str, Any]) -> None:
        raise RuntimeError("injected after Update routes put the route back")

    api.stack.runtime.before_invoke("AuthorizeIngressFunction", fault)
    failed = api.stack.wait(api.call("POST", "/connections/orders-db/repair").body["executionArn"])

    assert (failed.status, failed.error) == ("FAILED", "RuntimeError")
    assert snapshot(places(nekt)) == drifted, "the route it put back is removed; the peering and the rule stay"
    after = api.call("GET", "/connections/orders-db").body
    assert (after["status"], after["error"], after["rolledBack"]) == ("CONNECTED", "RuntimeError", True)
    assert after["relies"] == connected["relies"] and counted(api, connected) == counted_as_connected


def test_a_repair_whose_record_lost_its_answer_still_restores_once(api: Api, nekt: NektNetwork) -> None:
    """Record the connection ran, then Lambda lost its answer: the retry finds its own record and still says the
    connection was restored, so the event is published once."""
    database = create_database()
    connect(api)
    delete_database_route(database, nekt)
    assert api.call("POST", "/connections/orders-db/probe").body["error"] == "VerificationFailed"
    lost = api.stack.runtime.fail_after_running("RecordConnectionFunction", "Lambda.ServiceException")

    repair = api.stack.wait(api.call("POST", "/connections/orders-db/repair").body["executionArn"])

    assert repair.status == "SUCCEEDED" and len(lost) == 1, repair.cause
    health = api.call("GET", "/connections/orders-db").body["health"]
    assert health["state"] == "HEALTHY"
    assert [(kind, detail["health"]) for kind, detail in health_events(api)] == [
        ("Connection Degraded", health_events(api)[0][1]["health"]), ("Connection Restored", health)]


def test_a_repair_of_a_gone_peering_that_fails_midway_leaves_no_new_peering_nor_half_replaced_routes(
        api: Api, nekt: NektNetwork) -> None:
    """Verify fails after the new peering and the replaced routes: the rollback deletes both (a route cannot be
    pointed back at a gone peering); the registry still names the gone one, and a later repair restores it all."""
    database = create_database()
    connected = connect(api)
    as_connected, counted_as_connected = snapshot(places(nekt)), counted(api, connected)
    gone = delete_the_peering(database, connected)

    def fault(event: dict[str, Any]) -> None:
        raise RuntimeError("injected after the routes were replaced")

    api.stack.runtime.before_invoke("VerifyFunction", fault)
    failed = api.stack.wait(api.call("POST", "/connections/orders-db/repair").body["executionArn"])

    assert (failed.status, failed.error) == ("FAILED", "RuntimeError")
    after = snapshot(places(nekt))
    assert all(not place["peerings"] for place in after.values()), "the new peering is deleted"
    routes = [route for place in after.values() for table in place["routes"].values() for route in table]
    assert [route for route in routes if route[1].startswith("pcx-")] == [], "no route to either peering"
    assert counted(api, connected) == counted_as_connected, "the registry as before the repair"
    assert api.call("GET", "/connections/orders-db").body["relies"] == connected["relies"]

    api.stack.runtime.before.pop("VerifyFunction")
    repair = api.stack.wait(api.call("POST", "/connections/orders-db/repair").body["executionArn"])
    assert repair.status == "SUCCEEDED", repair.cause
    new = api.call("GET", "/connections/orders-db").body["output"]["peeringConnectionId"]
    assert normalised(snapshot(places(nekt)), new) == normalised(as_connected, gone)


def test_only_a_connected_connection_is_repaired_and_a_refusal_starts_nothing(api: Api) -> None:
    create_database()
    assert api.call("POST", "/connections/orders-db/repair").status == 404
    assert api.call("POST", "/connections/orders%20db/repair").status == 400
    connect(api)
    gate = Gate(api.stack, "FindConnectionFunction")
    deleting = api.call("DELETE", "/connections/orders-db").body["executionArn"]
    assert gate.reached.wait(timeout=30)

    busy = api.call("POST", "/connections/orders-db/repair")

    assert (busy.status, busy.body["executionArn"]) == (409, deleting) and "being disconnected" in busy.body["message"]
    gate.released.set()
    assert api.stack.wait(deleting).status == "SUCCEEDED"
    started = len(api.executions())

    disconnected = api.call("POST", "/connections/orders-db/repair")

    assert disconnected.status == 409 and "DISCONNECTED, not CONNECTED" in disconnected.body["message"]
    assert "connect it again" in disconnected.body["message"] and len(api.executions()) == started
