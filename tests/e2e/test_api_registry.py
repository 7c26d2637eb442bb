"""The API reads the registry: listings page through its Listing index (over 1,000 connections, one Query a
page, no Step Functions call), a connection's status is its item with its current execution's live state,
and the 409s come from the item and DescribeExecution. Items are put in the registry's own format
(emulator/store.py) where running executions cannot reach the case: a thousand connections, a run that
died without recording its end."""

from __future__ import annotations

from typing import Any

import boto3
from openapi_schema_validator import OAS30Validator

from emulator.accounts import aws_calls
from emulator.apigateway import openapi
from emulator.registry import connection_item, put, seed
from emulator.topology import create_database
from nekt_peering.registry import store
from tests.conftest import Api, Gate

INPUT = {"database": {"identifier": "orders-db", "region": "us-east-2"}}


def assert_documented(connection: dict[str, Any]) -> None:
    """The answer is what api/openapi.yaml's Connection says, and says nothing it does not document."""
    schema = openapi()["components"]["schemas"]["Connection"]
    OAS30Validator({**schema, "components": openapi()["components"]}).validate(connection)
    assert set(connection) <= set(schema["properties"]), set(connection) - set(schema["properties"])


def _table(api: Api) -> str:
    return api.stack.tables["ConnectionsTable"]


def _now() -> str:
    return store.now()


def test_the_api_lists_more_than_1000_connections_page_by_page_with_one_query_each(api: Api) -> None:
    newest_first = seed(_table(api), 1_050)

    listed: list[str] = []
    pages = 0
    query: dict[str, str] = {"limit": "100"}
    with aws_calls() as calls:
        while True:
            page = api.call("GET", "/connections", query=query)
            assert page.status == 200, page.body
            pages += 1
            assert len(page.body["connections"]) <= 100
            listed += [connection["connectionId"] for connection in page.body["connections"]]
            if "nextToken" not in page.body:
                break
            query = {"limit": "100", "nextToken": page.body["nextToken"]}

    assert listed == newest_first
    assert pages in (11, 12)  # DynamoDB may end with an empty page when the last one was exactly full
    assert set(calls) == {("dynamodb", "Query")} and calls[("dynamodb", "Query")] == pages
    first = api.call("GET", "/connections", query={"limit": "1"}).body["connections"][0]
    assert_documented(first)
    assert first | {"links": None} == {
        "connectionId": "db-01049", "status": "CONNECTED", "source": "registry", "workflow": "connect",
        "executionArn": first["executionArn"], "startedAt": first["createdAt"], "createdAt": first["createdAt"],
        "updatedAt": first["updatedAt"], "request": {"database": {"identifier": "db-01049", "region": "us-east-2"}},
        "mode": "peering", "database": {"identifier": "db-01049", "accountId": "123456789012", "region": "us-east-2",
                                        "vpcId": "vpc-0123456789abcdef0"},
        "relies": [], "executions": [{"executionArn": first["executionArn"], "workflow": "connect",
                                      "startedAt": first["createdAt"]}], "links": None}


def test_a_page_token_the_api_did_not_give_is_400_naming_nexttoken(api: Api) -> None:
    seed(_table(api), 3)
    token = api.call("GET", "/connections", query={"limit": "2"}).body["nextToken"]
    forged = store.encode_token({**store.decode_token(token), "pk": {"S": "lock#connection#db-00001"}})
    for bad in ("not-a-token", "eyJvZmZzZXQiOiAtMX0=", forged, token[:-4], "%%%"):
        reply = api.call("GET", "/connections", query={"nextToken": bad})
        assert reply.status == 400, bad
        assert [error["field"] for error in reply.body["errors"]] == ["nextToken"]
        assert "start again from the first page" in reply.body["errors"][0]["message"]
    last = api.call("GET", "/connections", query={"limit": "2", "nextToken": token})
    assert [connection["connectionId"] for connection in last.body["connections"]] == ["db-00000"]


def test_an_empty_registry_is_an_empty_page(api: Api) -> None:
    assert api.call("GET", "/connections").body == {"connections": []}


def _held_connect(api: Api) -> tuple[str, Gate]:
    """A connect of orders-db held in Discover: a real execution that is RUNNING for as long as the test wants."""
    create_database()
    gate = Gate(api.stack, "DiscoverFunction")
    arn = api.stack.start(INPUT, name="orders-db_0123456789abcdef")
    assert gate.reached.wait(timeout=30)
    return arn, gate


def test_a_connecting_connection_is_busy_while_its_run_runs(api: Api) -> None:
    arn, gate = _held_connect(api)
    put(_table(api), connection_item("orders-db", "CONNECTING", arn, _now(), request=INPUT))

    status = api.call("GET", "/connections/orders-db").body
    same = api.call("POST", "/connections", {**INPUT, "mode": "auto", "connectionId": "orders-db"})
    other = api.call("POST", "/connections", {**INPUT, "dryRun": True})
    delete = api.call("DELETE", "/connections/orders-db")
    probe = api.call("POST", "/connections/orders-db/probe")
    gate.released.set()

    assert_documented(status)
    assert (status["status"], status["executionStatus"], status["stage"], status["source"]) == (
        "CONNECTING", "RUNNING", "Discover", "registry")
    assert "error" not in status and "rolledBack" not in status
    assert same.status == 202 and same.body["executionArn"] == arn
    assert other.status == 409 and other.body["executionArn"] == arn and "another request" in other.body["message"]
    assert delete.status == 409 and "being connected" in delete.body["message"]
    assert probe.status == 409 and "is CONNECTING, not CONNECTED" in probe.body["message"]
    assert [execution["executionArn"] for execution in api.executions()] == [arn]


def test_a_disconnecting_connection_follows_its_disconnect_and_refuses_a_connect(api: Api) -> None:
    arn, gate = _held_connect(api)  # any running execution: the item names it as its disconnect
    put(_table(api), connection_item("orders-db", "DISCONNECTING", arn, _now(), workflow="disconnect"))

    delete = api.call("DELETE", "/connections/orders-db")
    connect = api.call("POST", "/connections", INPUT)
    gate.released.set()

    assert delete.status == 202 and delete.body["executionArn"] == arn
    assert connect.status == 409 and "being disconnected" in connect.body["message"]
    assert len(api.executions()) == 1


def test_a_run_that_ended_without_recording_it_is_failed_and_no_longer_busy(api: Api) -> None:
    arn, gate = _held_connect(api)
    put(_table(api), connection_item("orders-db", "CONNECTING", arn, _now(), request=INPUT))
    api.stack.sfn.stop_execution(executionArn=arn)  # stopped from the console: no stage records its end
    gate.released.set()
    api.stack.wait(arn)

    died = api.call("GET", "/connections/orders-db").body
    listed = api.call("GET", "/connections").body["connections"]
    delete = api.call("DELETE", "/connections/orders-db")

    assert_documented(died)
    assert (died["status"], died["error"], died["executionStatus"]) == ("FAILED", "ExecutionAborted", "ABORTED")
    assert "without recording its end" in died["cause"] and died["rolledBack"] is False
    assert [(c["connectionId"], c["status"]) for c in listed] == [("orders-db", "CONNECTING")]  # the item, as is
    assert delete.status == 202 and delete.body["executionArn"] != arn


def test_delete_takes_the_region_from_the_item(api: Api) -> None:
    done = api.stack.run({"connectionId": "orders-db", "region": "eu-west-1"}, state_machine="DisconnectStateMachine")
    put(_table(api), connection_item("orders-db", "CONNECTED", done.arn, _now(), workflow="disconnect",
                                     request={"database": {"identifier": "orders-db"}}, region="eu-west-1"))

    deleting = api.call("DELETE", "/connections/orders-db")

    assert deleting.status == 202
    described = api.stack.sfn.describe_execution(executionArn=deleting.body["executionArn"])
    assert described["input"] == '{"connectionId": "orders-db", "region": "eu-west-1"}'


def test_the_list_asks_nothing_of_step_functions_even_when_it_refuses(api: Api) -> None:
    seed(_table(api), 2)

    def refuse_step_functions(service: str, operation: str) -> tuple[str, int] | None:
        return ("AccessDeniedException", 400) if service == "sfn" else None

    with aws_calls(refuse_step_functions):
        reply = api.call("GET", "/connections")

    assert reply.status == 200 and len(reply.body["connections"]) == 2


def test_a_registry_the_api_may_not_read_is_a_502_not_a_listing_by_executions(api: Api) -> None:
    def refuse_dynamodb(service: str, operation: str) -> tuple[str, int] | None:
        return ("AccessDeniedException", 400) if service == "dynamodb" else None

    replies: list[Any] = []
    with aws_calls(refuse_dynamodb):
        replies += [api.call("GET", "/connections"), api.call("GET", "/connections/orders-db"),
                    api.call("POST", "/connections", INPUT), api.call("DELETE", "/connections/orders-db")]

    assert [reply.status for reply in replies] == [502] * 4
    assert all("AccessDeniedException" in reply.body["message"] for reply in replies)
    assert api.executions() == []


def test_a_connection_made_before_the_registry_is_found_by_its_executions_until_its_next_run(api: Api) -> None:
    create_database()
    connected = api.stack.run(INPUT, name="orders-db_00000000000000aa")
    # As made by the version before the registry: no item (the run of this version wrote one).
    boto3.client("dynamodb", region_name=api.stack.region).delete_item(
        TableName=_table(api), Key=store.connection_key("orders-db"))
    create_database("db-b", cidr="10.2.0.0/16")
    planned = api.stack.run({"database": {"identifier": "db-b", "region": "us-east-2"}, "dryRun": True},
                            name="db-b_00000000000000bb")

    found = api.call("GET", "/connections/orders-db").body
    plan = api.call("GET", "/connections/db-b").body
    listed = api.call("GET", "/connections").body["connections"]
    deleting = api.call("DELETE", "/connections/orders-db")

    assert_documented(found)
    assert (found["status"], found["source"], found["executionArn"]) == ("CONNECTED", "executions", connected.arn)
    assert found["output"] == connected.output and found["request"] == INPUT and "relies" not in found
    assert (plan["status"], plan["source"], plan["executionArn"]) == ("PLANNED", "executions", planned.arn)
    assert listed == []
    assert deleting.status == 202
    disconnect = api.stack.wait(deleting.body["executionArn"])
    assert disconnect.status == "SUCCEEDED" and disconnect.output["region"] == "us-east-2"
    adopted = api.call("GET", "/connections/orders-db").body
    assert (adopted["status"], adopted["source"]) == ("DISCONNECTED", "registry")


def test_a_run_describe_execution_does_not_know_yet_is_running(api: Api) -> None:
    """DescribeExecution is eventually consistent: the run that has just written the item may be unknown."""
    arn, gate = _held_connect(api)
    put(_table(api), connection_item("orders-db", "CONNECTING", arn, _now(), request=INPUT))

    def not_yet(service: str, operation: str) -> tuple[str, int] | None:
        known = operation not in ("DescribeExecution", "GetExecutionHistory")
        return None if service != "sfn" or known else ("ExecutionDoesNotExist", 400)

    with aws_calls(not_yet):
        status = api.call("GET", "/connections/orders-db")
        same = api.call("POST", "/connections", INPUT)
        delete = api.call("DELETE", "/connections/orders-db")
    gate.released.set()

    assert status.status == 200
    assert (status.body["status"], status.body["executionStatus"], status.body["stage"]) == (
        "CONNECTING", "RUNNING", None)
    assert same.status == 202 and same.body["executionArn"] == arn
    assert delete.status == 409
