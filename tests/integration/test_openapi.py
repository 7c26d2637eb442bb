"""api/openapi.yaml is a valid OpenAPI document, deployed by template.yaml, and it and the API
function's resolver serve exactly the same routes."""

from __future__ import annotations

import json
import re

from openapi_spec_validator import validate

from emulator.apigateway import OPENAPI_PATH, openapi
from emulator.template import ROOT, Template
from nekt_peering.api import connections
from nekt_peering.api.app import app as api_app
from nekt_peering.core.model import CONNECT_INPUT_SCHEMA

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _shape(path: str) -> str:
    """'/connections/{connectionId}' and '/connections/<connection_id>' -> '/connections/{}'."""
    return re.sub(r"<[^>]+>|{[^}]+}", "{}", path)


def test_the_openapi_file_is_valid() -> None:
    validate(openapi())  # type: ignore[arg-type]


def test_every_route_in_the_file_is_served_and_every_served_route_is_in_the_file() -> None:
    documented = {(method.upper(), _shape(path)) for path, item in openapi()["paths"].items()
                  for method in item if method in HTTP_METHODS}
    served = {(route.method, _shape(route.path)) for route in api_app._static_routes + api_app._dynamic_routes}

    assert documented == served
    assert documented == {("POST", "/connections"), ("GET", "/connections"), ("GET", "/connections/{}"),
                          ("DELETE", "/connections/{}"), ("POST", "/connections/{}/probe"),
                          ("POST", "/connections/{}/repair")}


def test_every_operation_is_the_api_function_behind_sigv4_and_the_resource_policy() -> None:
    document = openapi()
    integration = document["components"]["x-amazon-apigateway-integrations"]["api"]
    assert integration["type"] == "aws_proxy" and "${ApiFunction.Arn}" in integration["uri"]["Fn::Sub"]
    for item in document["paths"].values():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                assert operation["x-amazon-apigateway-integration"] == {
                    "$ref": "#/components/x-amazon-apigateway-integrations/api"}
    assert document["security"] == [{"sigv4": []}]
    assert document["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    [statement] = document["x-amazon-apigateway-policy"]["Statement"]
    assert statement["Principal"]["AWS"] == [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"},
                                             {"Ref": "NektPlatformPrincipalArn"}]


def test_the_template_deploys_this_file_and_the_api_function_checks_the_workflow_schema() -> None:
    template = Template()
    body = template.resources["Api"]["Properties"]["DefinitionBody"]["Fn::Transform"]
    assert body["Name"] == "AWS::Include"
    assert ROOT / body["Parameters"]["Location"] == OPENAPI_PATH
    assert "NektPlatformPrincipalArn" in template.body["Parameters"]
    schema_file = ROOT / "functions" / "nekt_peering" / "core" / "schemas" / "connect_input.json"
    assert connections.CONNECT_INPUT_SCHEMA is CONNECT_INPUT_SCHEMA == json.loads(schema_file.read_text())
