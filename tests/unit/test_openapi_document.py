"""api/openapi.yaml's schemas are generated from their sources (`make openapi`): the committed document must
be what they generate today, and each JSON Schema keyword becomes the OpenAPI 3.0 form chosen for it."""

from __future__ import annotations

from typing import Any

import fastjsonschema
import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from emulator.template import Template, find_in_map
from nekt_peering.core.model import CONNECT_INPUT_SCHEMA
from tools.generate_openapi import DOCUMENT, MARKER, ROOT, StaleSource, document, release_version
from tools.openapi_schema import UnconvertedKeyword, components, convert

COMMITTED = DOCUMENT.read_text()


def test_the_committed_document_is_what_its_sources_generate() -> None:
    assert document(COMMITTED) == COMMITTED, f"{DOCUMENT.relative_to(ROOT)} is stale: run `make openapi`, commit it"


def test_the_generated_part_is_made_from_the_sources_not_kept_from_the_file() -> None:
    head = COMMITTED.partition(MARKER)[0]
    emptied = head.replace(f'  version: "{release_version()}"', '  version: "0.0.0-old"', 1) + MARKER

    assert document(emptied) == COMMITTED
    with pytest.raises(StaleSource, match="no marker line"):
        document(head)


def test_the_document_and_the_stack_say_this_release() -> None:
    stack = Template()

    assert yaml.safe_load(COMMITTED)["info"]["version"] == release_version()
    assert find_in_map(stack.body["Mappings"], stack.body["Outputs"]["Version"]["Value"]) == release_version(), (
        "template.yaml's Release mapping is not pyproject.toml's version: set it")


def _document_validator(name: str) -> Any:
    schemas = yaml.safe_load(COMMITTED)["components"]["schemas"]
    return OAS30Validator({"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}})


@pytest.mark.parametrize("value", [
    {"database": {"identifier": "orders-db"}},
    {"database": {"identifier": "orders-db", "region": "us-east-2", "endpoint": "reader"},
     "mode": "resource-endpoint", "connectionId": "orders_1", "dryRun": True},
    {},
    {"database": {"identifier": "orders--db"}},
    {"database": {"identifier": "orders-db", "region": "Ohio"}},
    {"database": {"identifier": "orders-db", "endpoint": "primary"}},
    {"database": {"identifier": "orders-db"}, "mode": "vpn"},
    {"database": {"identifier": "orders-db"}, "dryrun": True},
    {"database": {"identifier": "orders-db"}, "connectionId": ""},
    {"database": {"identifier": "orders-db"}, "dryRun": None},
    # database kinds: each kind's own fields required, by a condition (if/then) in the workflow's schema
    {"database": {"kind": "ec2", "instanceId": "i-0123456789abcdef0", "port": 5432}},
    {"database": {"kind": "ec2", "instanceId": "i-0123456789abcdef0"}},
    {"database": {"kind": "address", "host": "10.0.1.10", "port": 5432, "vpcId": "vpc-0123456789abcdef0"}},
    {"database": {"kind": "address", "host": "10.0.1.10", "port": 5432}},
    {"database": {"kind": "redshift", "identifier": "warehouse"}},
    {"database": {"kind": "redshift"}},
    {"database": {"kind": "ec2", "identifier": "orders-db"}},
])
def test_the_documented_connect_input_decides_as_the_workflows_schema(value: Any) -> None:
    def workflow_accepts() -> bool:
        try:
            fastjsonschema.compile(CONNECT_INPUT_SCHEMA)(value)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    assert _document_validator("ConnectInput").is_valid(value) == workflow_accepts()


@pytest.mark.parametrize(("value", "valid"), [
    (None, True),
    ({"groupId": "sg-1", "port": 5432, "cidr": "10.0.0.0/16", "ruleId": None, "created": True}, True),
    ({"groupId": "sg-1"}, False),
    ("sg-1", False),
])
def test_a_nullable_shape_is_null_or_that_shape_and_nothing_else(value: Any, valid: bool) -> None:
    ingress = yaml.safe_load(COMMITTED)["components"]["schemas"]["Connected"]["properties"]["ingress"]
    schemas = yaml.safe_load(COMMITTED)["components"]["schemas"]

    assert OAS30Validator({**ingress, "components": {"schemas": schemas}}).is_valid(value) == valid


@pytest.mark.parametrize(("draft7", "openapi"), [
    ({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}, {"type": "object"}),
    ({"type": ["string", "null"]}, {"type": "string", "nullable": True}),
    ({"type": ["string", "integer"]}, {"anyOf": [{"type": "string"}, {"type": "integer"}]}),
    ({"type": ["string", "integer", "null"]},
     {"anyOf": [{"type": "string"}, {"type": "integer"}, {"enum": [None], "nullable": True}]}),
    ({"enum": ["a", None]}, {"enum": ["a", None], "nullable": True}),
    ({"const": "CONNECTED"}, {"enum": ["CONNECTED"]}),
    ({"$ref": "#/definitions/Plan"}, {"$ref": "#/components/schemas/Plan"}),
    ({"if": {"type": "null"}, "then": {}, "else": {"$ref": "#/definitions/Plan"}},
     {"anyOf": [{"$ref": "#/components/schemas/Plan"}, {"enum": [None], "nullable": True}]}),
    ({"if": {"type": "null"}, "then": {}, "else": {"type": "object"}}, {"type": "object", "nullable": True}),
    ({"if": {"type": "null"}, "then": {}, "else": {"if": {"type": "string"}, "then": {}, "else": {"type": "integer"}}},
     {"anyOf": [{"type": "string"}, {"type": "integer"}, {"enum": [None], "nullable": True}]}),
    ({"if": {"type": "string"}, "then": {}, "else": {"type": "array", "items": {"type": "string"}}},
     {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
    ({"if": {"type": "object", "required": ["status"]}, "then": {"$ref": "#/definitions/Plan"},
      "else": {"$ref": "#/definitions/FoundPlan"}},
     {"anyOf": [{"$ref": "#/components/schemas/Plan"}, {"$ref": "#/components/schemas/FoundPlan"}]}),
    ({"if": {"properties": {"kind": {"const": "ec2"}}}, "then": {"required": ["port"]}},
     {"anyOf": [{"not": {"properties": {"kind": {"enum": ["ec2"]}}}}, {"required": ["port"]}]}),
    ({"type": "object", "properties": {"a": {"type": ["integer", "null"]}}, "additionalProperties": {"const": 1}},
     {"type": "object", "properties": {"a": {"type": "integer", "nullable": True}},
      "additionalProperties": {"enum": [1]}}),
])
def test_each_keyword_becomes_its_openapi_form(draft7: dict[str, Any], openapi: dict[str, Any]) -> None:
    assert convert(draft7) == openapi


@pytest.mark.parametrize(("draft7", "named"), [
    ({"type": "string", "examples": ["orders-db"]}, "examples"),
    ({"type": "string", "format": "uri"}, "format"),
    ({"$ref": "other.json#/x"}, "other.json"),
    ({"$ref": "#/definitions/Plan", "description": "the plan"}, "siblings"),
    ({"properties": {"a": {"patternProperties": {}}}}, "patternProperties"),
])
def test_a_keyword_with_no_chosen_form_is_refused(draft7: dict[str, Any], named: str) -> None:
    with pytest.raises(UnconvertedKeyword, match=named):
        convert(draft7)


def test_definitions_become_components_of_their_own() -> None:
    schema = {"title": "A", "type": "object", "properties": {"b": {"$ref": "#/definitions/B"}},
              "definitions": {"B": {"type": "string"}}}

    assert components(schema, "A") == {
        "A": {"title": "A", "type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
        "B": {"type": "string"}}


def _keywords(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {key for value in node.values() for key in _keywords(value)}
    if isinstance(node, list):
        return {key for value in node for key in _keywords(value)}
    return set()


def test_the_schemas_are_what_api_gateway_imports_as_models() -> None:
    """API Gateway turns each component schema into a model: its name alphanumeric, and none of the keywords
    its notes for REST APIs say it does not support in a schema (example, discriminator, oneOf, readOnly,
    exclusiveMinimum)."""
    schemas = yaml.safe_load(COMMITTED)["components"]["schemas"]

    assert [name for name in schemas if not name.isalnum()] == []
    assert _keywords(schemas) & {"example", "discriminator", "oneOf", "readOnly", "exclusiveMinimum"} == set()
