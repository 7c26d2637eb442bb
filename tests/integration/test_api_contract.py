"""The API keeps the contract api/openapi.yaml states, whatever a client generated from it sends: schemathesis
draws requests from the document itself (schema-valid ones, and ones that break it) for every operation,
sends them to the deployed ApiFunction as API Gateway would (emulator.apigateway.wsgi_app) on the strict
emulator, and checks each answer: no 5xx, a status the operation documents, a body its schema describes, a
schema-valid request accepted or refused with a documented status, an invalid one refused.

Bounded and reproducible: a fixed number of examples per operation, derandomized (tests/conftest.py's
Hypothesis profile), so `make test` runs the same requests every time."""

from __future__ import annotations

import copy

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from emulator.apigateway import openapi, wsgi_app
from tests.conftest import Api

BASE_URL = "http://abcdef1234.execute-api.us-east-1.amazonaws.com/v1"
EXAMPLES_PER_OPERATION = 40

# A listing's nextToken is opaque, made by the API from the registry's LastEvaluatedKey: no schema can say
# which strings are one, so a schema-valid token the API did not give is its documented 400 naming nextToken.
CONFIG = SchemathesisConfig.from_dict({
    "generation": {"mode": "all", "max-examples": EXAMPLES_PER_OPERATION, "deterministic": True},
    "operations": [{"include-operation-id": "listConnections",
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["200", "400"]}}}],
})
contract = schemathesis.openapi.from_dict(copy.deepcopy(openapi()), config=CONFIG)
# What the issue asks of every answer; not ignored_auth, which probes SigV4: API Gateway's, in front of the
# function (wsgi_app only refuses a request with no Authorization header, as API Gateway would).
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, negative_data_rejection,
          positive_data_acceptance]


@contract.parametrize()
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_every_answer_is_as_documented(case: schemathesis.Case, api: Api) -> None:
    response = case.call(base_url=BASE_URL, app=wsgi_app(api.invoke))

    case.validate_response(response, checks=CHECKS)
