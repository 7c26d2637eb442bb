"""Whatever a caller sends, the API answers 4xx with a message per field, and starts nothing.

Hand-picked cases, then hypothesis over the request schema: arbitrary JSON, and mutations of a
valid request field by field. The property behind both: the API refuses exactly what the
workflow's own schema refuses (functions/nekt_peering/core/schemas/connect_input.json, the one source).
"""

from __future__ import annotations

import json
from typing import Any

import fastjsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from emulator.apigateway import rest_event
from emulator.lambda_runtime import LambdaContext
from nekt_peering.api.app import MAX_BODY_BYTES
from nekt_peering.api.connections import field_errors
from nekt_peering.core.model import CONNECT_INPUT_SCHEMA
from tests.conftest import Api

whole_schema = fastjsonschema.compile(CONNECT_INPUT_SCHEMA)


def is_valid(value: Any) -> bool:
    try:
        whole_schema(value)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


def assert_refused(reply: Any, fields: list[str] | None = None) -> None:
    assert reply.status == 400, reply.body
    assert isinstance(reply.body["message"], str) and reply.body["message"]
    errors = reply.body["errors"]
    assert errors and all(set(error) == {"field", "message"} for error in errors)
    for error in errors:
        assert error["message"].startswith(error["field"]), "each message names its field"
    if fields is not None:
        assert sorted(error["field"] for error in errors) == sorted(fields)


@pytest.mark.parametrize(("raw", "fields"), [
    ("", ["body"]),
    ("   ", ["body"]),
    ("not json", ["body"]),
    ('{"database": {"identifier": "orders-db"}', ["body"]),
    ("[]", ["body"]),
    ("null", ["body"]),
    ("42", ["body"]),
    ('"orders-db"', ["body"]),
    ("NaN", ["body"]),
    ("{}", ["database"]),
    ('{"database": {}}', ["database.identifier"]),
    ('{"database": {"kind": "ec2"}}', ["database.instanceId", "database.port"]),
    ('{"database": {"kind": "address", "host": "10.0.1.25", "port": 5432}}', ["database.vpcId"]),
    ('{"database": {"identifier": "orders-db", "engine": "postgres"}}', ["database.engine"]),
    ('{"database": {"kind": "address", "host": "52.1.2.3", "port": 5432, "vpcId": "vpc-0abc1234"}}', ["database.host"]),
    ('{"database": "orders-db"}', ["database"]),
    ('{"database": {"identifier": "orders-db"}, "extra": 1, "more": true}', ["extra", "more"]),
    ('{"database": {"identifier": "orders-db", "port": 5432}}', ["database.port"]),
    ('{"database": {"identifier": 5, "region": "Ohio"}, "mode": "vpn", "dryRun": "yes", "connectionId": "a b"}',
     ["database.identifier", "database.region", "mode", "dryRun", "connectionId"]),
    ('{"database": {"identifier": "' + "a" * 64 + '"}}', ["database.identifier"]),
    ('{"database": {"identifier": "orders--db"}}', ["database.identifier"]),
    ('{"database": {"identifier": "orders-db"}, "connectionId": ""}', ["connectionId"]),
    ('{"database": {"identifier": "orders-db"}, "connectionId": "-x"}', ["connectionId"]),
    ('{"database": {"identifier": "\\ud800"}}', ["database.identifier"]),
    ('{"database": {"identifier": "orders-db"}, "dryRun": 1}', ["dryRun"]),
    ('{"database": {"identifier": NaN}}', ["database.identifier"]),
    ('{"database": {"identifier": "orders-db", "region": null}}', ["database.region"]),
    ('{"database": {"identifier": "' + "a" * MAX_BODY_BYTES + '"}}', ["body"]),
    ("[" * 5000 + "]" * 5000, ["body"]),
    ('{"' + "k" * 200 + '": 1, "database": {"identifier": "orders-db"}}', ["k" * 40 + "..."]),
])
def test_hand_picked_bad_requests_are_400_naming_each_field(raw: str, fields: list[str], api: Api) -> None:
    assert_refused(api.call("POST", "/connections", raw=raw), fields)
    assert api.executions() == []


@pytest.mark.parametrize("body", ["//4=", "YQ"])
def test_a_body_marked_base64_that_does_not_decode_is_400(body: str, api: Api) -> None:
    event = rest_event("POST", "/connections", None)
    event.update(body=body, isBase64Encoded=True)

    response = api.handler(event, LambdaContext("ApiFunction", "arn:aws:lambda:::ApiFunction"))

    assert response["statusCode"] == 400 and "base64" in response["body"]
    assert api.executions() == []


def test_a_valid_body_sent_base64_is_read_as_json(api: Api) -> None:
    reply = api.call("POST", "/connections", raw='{"database": {"identifier": "orders-db"}, "x": 1}', base64_body=True)

    assert_refused(reply, ["x"])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=70),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
identifiers = st.one_of(st.sampled_from(["orders-db", "a", "Orders-DB-2"]), st.text(max_size=70), json_values)
regions = st.one_of(st.sampled_from(["us-east-2", "eu-west-1"]), st.text(max_size=30), json_values)
databases = st.one_of(
    st.fixed_dictionaries({"identifier": identifiers}, optional={"region": regions, "engine": json_values}),
    json_values,
)
requests = st.fixed_dictionaries(
    {"database": databases},
    optional={"mode": st.one_of(st.sampled_from(["auto", "peering", "public", "vpn", ""]), json_values),
              "connectionId": st.one_of(st.sampled_from(["orders-db", "x_1"]), st.text(max_size=70), json_values),
              "dryRun": st.one_of(st.booleans(), json_values),
              "extra": json_values},
)
bodies = st.one_of(requests, json_values, requests.map(lambda request: {k: v for k, v in request.items()
                                                                          if k != "database"}))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_any_invalid_request_is_400_with_a_message_per_field_and_starts_nothing(
    api: Api, body: Any
) -> None:
    assume(not is_valid(body))

    reply = api.call("POST", "/connections", raw=json.dumps(body))

    assert_refused(reply)
    assert api.executions() == []


@settings(max_examples=500, deadline=None)
@given(body=bodies)
def test_the_per_field_check_refuses_exactly_what_the_schema_refuses(body: Any) -> None:
    assert (field_errors(CONNECT_INPUT_SCHEMA, body) == []) == is_valid(body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(connection_id=st.text(min_size=1, max_size=80), method=st.sampled_from(["GET", "DELETE"]))
def test_any_path_id_is_answered_4xx_when_nothing_was_connected(
    api: Api, connection_id: str, method: str
) -> None:
    assume(connection_id.strip("/"))  # /connections/ followed by slashes only is the list route
    reply = api.call(method, f"/connections/{connection_id}")

    assert reply.status in (400, 404), reply.body
    assert api.executions() == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.text(max_size=8), token=st.text(max_size=40))
def test_any_paging_parameters_are_answered_without_a_fault(api: Api, limit: str, token: str) -> None:
    reply = api.call("GET", "/connections", query={"limit": limit, "nextToken": token})

    assert reply.status in (200, 400), reply.body
