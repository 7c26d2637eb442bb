"""The REST API, driven with API Gateway proxy events through the deployed handler (template.yaml's
ApiFunction). The executions it starts run the real ASL on moto, and GET follows their real progress."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from emulator.accounts import snapshot
from emulator.stack import DEFAULT_ACCOUNT
from emulator.topology import NektNetwork, create_database
from nekt_peering.api import app
from tests.conftest import Api, Gate

INPUT = {"database": {"identifier": "orders-db", "region": "us-east-2"}}


def test_post_starts_the_connect_and_get_follows_it_to_connected(api: Api, nekt: NektNetwork) -> None:
    create_database()
    gate = Gate(api.stack, "UpdateRoutesFunction")

    accepted = api.call("POST", "/connections", INPUT)

    assert accepted.status == 202
    assert set(accepted.body) == {"connectionId", "executionArn", "workflow", "status", "links"}
    assert accepted.body["connectionId"] == "orders-db" and accepted.body["status"] == "CONNECTING"
    assert accepted.body["links"]["self"] == "/connections/orders-db"
    arn = accepted.body["executionArn"]
    assert arn.split(":")[-1].startswith("orders-db_")
    assert gate.reached.wait(timeout=30)
    running = api.call("GET", "/connections/orders-db")
    assert running.status == 200
    assert (running.body["status"], running.body["executionStatus"], running.body["stage"],
            running.body["executionArn"], running.body["source"]) == (
        "CONNECTING", "RUNNING", "Update routes", arn, "registry")

    gate.released.set()
    execution = api.stack.wait(arn)

    done = api.call("GET", "/connections/orders-db").body
    assert (done["status"], done["executionStatus"], done["stage"]) == ("CONNECTED", "SUCCEEDED", "Connected")
    assert done["output"] == execution.output and done["request"] == INPUT
    assert (done["database"]["identifier"], done["database"]["region"]) == ("orders-db", "us-east-2")
    assert done["relies"] and [run["executionArn"] for run in done["executions"]] == [arn]
    assert "error" not in done and "rolledBack" not in done
    listed = api.call("GET", "/connections").body["connections"]
    assert [(c["connectionId"], c["status"], c["executionArn"]) for c in listed] == [("orders-db", "CONNECTED", arn)]
    assert "stage" not in listed[0], "a listing asks nothing of Step Functions"


def test_the_same_request_while_it_runs_is_the_same_execution_and_another_is_a_conflict(api: Api) -> None:
    create_database()
    gate = Gate(api.stack, "RequestPeeringFunction")
    first = api.call("POST", "/connections", INPUT)
    assert gate.reached.wait(timeout=30)

    again = api.call("POST", "/connections", {**INPUT, "connectionId": "orders-db", "mode": "auto"})
    other = api.call("POST", "/connections", {**INPUT, "dryRun": True})
    delete = api.call("DELETE", "/connections/orders-db")

    assert again.status == 202 and again.body["executionArn"] == first.body["executionArn"]
    assert other.status == 409 and other.body["executionArn"] == first.body["executionArn"]
    assert "another request" in other.body["message"]
    assert delete.status == 409 and "being connected" in delete.body["message"]
    assert len(api.executions()) == 1
    gate.released.set()


def test_a_connection_can_be_connected_again_each_time_a_new_execution(api: Api) -> None:
    create_database()
    arns = []
    for _ in range(2):
        reply = api.call("POST", "/connections", INPUT)
        assert reply.status == 202
        arns.append(reply.body["executionArn"])
        assert api.stack.wait(arns[-1]).status == "SUCCEEDED"

    assert len(set(arns)) == 2
    assert api.call("GET", "/connections/orders-db").body["executionArn"] == arns[-1]


def test_a_failure_before_any_change_is_failed_with_the_error_and_a_readable_cause(api: Api) -> None:
    create_database(cidr="10.100.0.0/16")

    arn = api.call("POST", "/connections", INPUT).body["executionArn"]
    api.stack.wait(arn)

    failed = api.call("GET", "/connections/orders-db").body
    assert (failed["status"], failed["error"], failed["stage"]) == ("FAILED", "CidrOverlap", "Failed before any change")
    assert failed["cause"].startswith("the database VPC and the Nekt VPC share addresses")
    assert "output" not in failed and failed["rolledBack"] is False


def test_a_rolled_back_connect_is_rolled_back(api: Api) -> None:
    create_database()

    def fault(event: dict[str, Any]) -> None:
        raise RuntimeError("injected")

    api.stack.runtime.before_invoke("VerifyFunction", fault)

    api.stack.wait(api.call("POST", "/connections", INPUT).body["executionArn"])

    rolled_back = api.call("GET", "/connections/orders-db").body
    assert (rolled_back["status"], rolled_back["error"], rolled_back["rolledBack"]) == ("FAILED", "RuntimeError", True)
    assert (rolled_back["source"], rolled_back["stage"]) == ("registry", "Failed and rolled back")
    assert "Rolled back:" in rolled_back["cause"]
    assert "output" not in rolled_back


def test_a_failed_rerun_of_a_connected_connection_leaves_it_connected_with_the_error(api: Api) -> None:
    create_database()
    connected = api.stack.wait(api.call("POST", "/connections", INPUT).body["executionArn"])

    def fault(event: dict[str, Any]) -> None:
        raise RuntimeError("injected")

    api.stack.runtime.before_invoke("VerifyFunction", fault)
    rerun = api.stack.wait(api.call("POST", "/connections", INPUT).body["executionArn"])

    still = api.call("GET", "/connections/orders-db").body
    assert rerun.status == "FAILED"
    assert (still["status"], still["executionArn"], still["error"], still["rolledBack"]) == (
        "CONNECTED", rerun.arn, "RuntimeError", True)
    assert still["output"] == connected.output, "the result of the connect that made it"
    assert [run["executionArn"] for run in still["executions"]] == [rerun.arn, connected.arn]


def test_delete_disconnects_and_leaves_both_accounts_as_before_the_connect(api: Api, nekt: NektNetwork) -> None:
    create_database()
    places = [(DEFAULT_ACCOUNT, "us-east-2"), (nekt.account_id, nekt.region)]
    before = snapshot(places)
    api.stack.wait(api.call("POST", "/connections", INPUT).body["executionArn"])
    gate = Gate(api.stack, "DeletePeeringFunction")

    deleting = api.call("DELETE", "/connections/orders-db")

    assert deleting.status == 202 and deleting.body["status"] == "DISCONNECTING"
    assert gate.reached.wait(timeout=30)
    assert api.call("GET", "/connections/orders-db").body["status"] == "DISCONNECTING"
    same = api.call("DELETE", "/connections/orders-db")
    assert same.status == 202 and same.body["executionArn"] == deleting.body["executionArn"]
    assert api.call("POST", "/connections", INPUT).status == 409
    gate.released.set()
    disconnect = api.stack.wait(deleting.body["executionArn"])
    assert disconnect.status == "SUCCEEDED", disconnect.cause
    assert disconnect.output["region"] == "us-east-2", "the region comes from the connect's input"

    gone = api.call("GET", "/connections/orders-db").body
    assert (gone["status"], gone["workflow"], gone["source"]) == ("DISCONNECTED", "disconnect", "registry")
    assert gone["output"] == disconnect.output and gone["request"] == INPUT
    assert snapshot(places) == before
    # Idempotent: disconnecting again is another success that removes nothing.
    again = api.call("DELETE", "/connections/orders-db")
    assert again.status == 202 and again.body["executionArn"] != deleting.body["executionArn"]
    assert api.stack.wait(again.body["executionArn"]).output["removed"] == []
    assert api.call("GET", "/connections/orders-db").body["status"] == "DISCONNECTED"


def test_unknown_connections_are_404_and_malformed_ids_400(api: Api) -> None:
    assert api.call("GET", "/connections/nobody").status == 404
    assert api.call("DELETE", "/connections/nobody").status == 404
    for bad in ("-leading-dash", "a" * 64, "spaces%20here", "orders.db"):
        for method in ("GET", "DELETE"):
            reply = api.call(method, f"/connections/{bad}")
            assert reply.status == 400, (method, bad)
            assert [error["field"] for error in reply.body["errors"]] == ["connectionId"]
    assert api.call("PUT", "/connections/orders-db").status == 404
    assert api.call("GET", "/elsewhere").status == 404
    assert api.executions() == []


def test_an_execution_started_from_the_console_is_the_same_connection(api: Api) -> None:
    create_database()
    arn = api.stack.start({**INPUT, "connectionId": "orders"}, name="started-by-hand")
    api.stack.wait(arn)

    connection = api.call("GET", "/connections/orders").body

    assert (connection["status"], connection["executionArn"]) == ("CONNECTED", arn)


def test_get_connections_pages_through_the_registry_and_a_dry_run_is_not_listed(api: Api) -> None:
    for name, cidr in [("db-a", "10.1.0.0/16"), ("db-b", "10.2.0.0/16"), ("db-c", "10.3.0.0/16")]:
        create_database(name, cidr=cidr)
        api.stack.wait(api.call("POST", "/connections", {"database": {"identifier": name, "region": "us-east-2"},
                                                         "dryRun": name == "db-b"}).body["executionArn"])

    first = api.call("GET", "/connections", query={"limit": "1"})
    second = api.call("GET", "/connections", query={"limit": "1", "nextToken": first.body["nextToken"]})
    rest = [second]
    while "nextToken" in rest[-1].body:
        rest.append(api.call("GET", "/connections", query={"limit": "1", "nextToken": rest[-1].body["nextToken"]}))

    assert {reply.status for reply in [first, *rest]} == {200}
    assert [c["connectionId"] for reply in [first, *rest] for c in reply.body["connections"]] == ["db-c", "db-a"]
    assert {c["status"] for reply in [first, *rest] for c in reply.body["connections"]} == {"CONNECTED"}
    planned = api.call("GET", "/connections/db-b").body  # a dry run writes no item: found by its execution
    assert (planned["status"], planned["source"]) == ("PLANNED", "executions")
    for query in ({"limit": "0"}, {"limit": "101"}, {"limit": "two"}, {"nextToken": "not-a-token"},
                  {"nextToken": "eyJvZmZzZXQiOiAtMX0="}):
        reply = api.call("GET", "/connections", query=query)
        assert reply.status == 400 and reply.body["errors"][0]["field"] in query, query


def test_a_get_right_after_each_202_shows_the_run_it_announced_not_the_one_before(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run is held at its first stage, before it takes the connection's lock: what GET and the listing show
    then is what the API recorded with the start, never the previous run's status."""
    create_database()
    connected = api.stack.wait(api.call("POST", "/connections", INPUT).body["executionArn"])
    monkeypatch.setattr(app, "PROBE_WAIT_SECONDS", 0.2)  # the probe answers 202 while its check is held
    starts = [("connect", "DiscoverFunction", "POST", "/connections", INPUT),
              ("repair", "DiscoverFunction", "POST", "/connections/orders-db/repair", None),
              ("probe", "CheckPathFunction", "POST", "/connections/orders-db/probe", None),
              ("disconnect", "FindConnectionFunction", "DELETE", "/connections/orders-db", None)]
    previous = connected.arn
    for request, first_stage, method, path, body in starts:
        gate = Gate(api.stack, first_stage)

        accepted = api.call(method, path, body)
        shown = api.call("GET", "/connections/orders-db").body
        listed = api.call("GET", "/connections").body["connections"][0]

        assert accepted.status == 202 and gate.reached.wait(timeout=30), request
        arn = accepted.body["executionArn"]
        assert arn != previous, request
        workflow, status = {"probe": ("check", "CONNECTED"), "disconnect": ("disconnect", "DISCONNECTING")}.get(
            request, ("connect", "CONNECTING"))
        assert (shown["workflow"], shown["executionArn"], shown["status"], shown["executionStatus"]) == (
            workflow, arn, status, "RUNNING"), request
        assert (listed["workflow"], listed["executionArn"], listed["status"]) == (workflow, arn, status), request
        assert "error" not in shown, request
        gate.released.set()
        assert api.stack.wait(arn).status == "SUCCEEDED", request
        previous = arn

    gone = api.call("GET", "/connections/orders-db").body
    assert (gone["status"], gone["workflow"], gone["executionArn"], gone["executionStatus"]) == (
        "DISCONNECTED", "disconnect", previous, "SUCCEEDED")


def test_a_run_the_api_started_that_fails_before_its_lock_shows_its_error_and_the_connection_as_it_was(
        api: Api) -> None:
    create_database()
    connected = api.stack.wait(api.call("POST", "/connections", INPUT).body["executionArn"])
    rds = boto3.client("rds", region_name="us-east-2")
    rds.delete_db_instance(DBInstanceIdentifier="orders-db", SkipFinalSnapshot=True)

    failed = api.stack.wait(api.call("POST", "/connections/orders-db/repair").body["executionArn"])

    assert (failed.status, failed.error) == ("FAILED", "DatabaseNotFound")
    for shown in (api.call("GET", "/connections/orders-db").body,
                  api.call("GET", "/connections").body["connections"][0]):
        assert (shown["status"], shown["workflow"], shown["executionArn"], shown["error"]) == (
            "CONNECTED", "connect", failed.arn, "DatabaseNotFound")
        assert shown["output"] == connected.output
