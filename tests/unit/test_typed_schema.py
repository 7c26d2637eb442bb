"""tools/typed_schema.py: the JSON schema `make validators` derives from a TypedDict, checked by
compiling it (fastjsonschema, as the generated validators are) and validating values."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

import fastjsonschema
import pytest

from tools.generate_validators import generated
from tools.typed_schema import UnsupportedType, typed_dict_schema


class Rule(TypedDict):
    port: int
    cidr: str | None
    note: NotRequired[str]


class Planned(TypedDict):
    status: Literal["PLANNED"]
    rules: list[Rule]


class Found(TypedDict):
    rules: list[Rule]


class Event(TypedDict, total=False):
    plan: Planned | Found
    peering: Rule | None
    tags: dict[str, str]
    side: Literal["database", "nekt"] | None
    anything: Any


def outcome(schema: dict[str, Any], value: Any) -> str:
    try:
        fastjsonschema.compile(schema)(value)
    except fastjsonschema.JsonSchemaValueException as error:
        return error.message
    return "valid"


SCHEMA = typed_dict_schema(Event, {("Rule", "port"): {"minimum": 1}, ("Found", "rules"): {"maxItems": 1}})


@pytest.mark.parametrize(("value", "expected"), [
    ({}, "valid"),
    ({"plan": {"status": "PLANNED", "rules": [{"port": 1, "cidr": None, "note": "x"}]}}, "valid"),
    ({"plan": {"rules": [{"port": 1, "cidr": "10.0.0.0/16"}]}, "extra": 1}, "valid"),
    ({"plan": {"status": "DONE", "rules": []}}, "data.plan.status must be one of ['PLANNED']"),
    ({"plan": {"rules": [{"port": 0, "cidr": None}]}}, "data.plan.rules[0].port must be bigger than or equal to 1"),
    ({"plan": {"rules": [{"port": 1}]}}, "data.plan.rules[0] must contain ['cidr'] properties"),
    ({"plan": {"rules": [{"port": 1, "cidr": None}] * 2}},
     "data.plan.rules must contain less than or equal to 1 items"),
    ({"peering": None}, "valid"),
    ({"peering": {"port": True, "cidr": None}}, "data.peering.port must be integer"),
    ({"peering": "pcx-1"}, "data.peering must be object"),
    ({"tags": {"a": 1}}, "data.tags.a must be string"),
    ({"side": None}, "valid"),
    ({"side": "other"}, "data.side must be one of ['database', 'nekt', None]"),
    ({"anything": [1, {"x": None}]}, "valid"),
])
def test_the_derived_schema_accepts_and_names_what_the_types_say(value: Any, expected: str) -> None:
    assert outcome(SCHEMA, value) == expected


def test_a_union_of_typeddicts_is_told_apart_by_a_key_only_one_requires() -> None:
    plan = SCHEMA["properties"]["plan"]

    assert plan["if"] == {"type": "object", "required": ["status"]}
    assert plan["then"] == {"$ref": "#/definitions/Planned"} and plan["else"] == {"$ref": "#/definitions/Found"}


class Twin(TypedDict):
    rules: list[Rule]


class Ambiguous(TypedDict):
    either: Found | Twin


class Odd(TypedDict):
    when: set[str]


@pytest.mark.parametrize(("root", "rules", "words"), [
    (Ambiguous, {}, "no key that only one of its TypedDicts requires"),
    (Odd, {}, "no JSON schema for"),
    (Planned, {("Planned", "rules"): {"maxItems": 1}, ("Rule", "colour"): {}}, "no TypedDict under Planned has"),
    (Event, {("Event", "peering"): {"maxLength": 3}}, "put it on that TypedDict's fields"),
])
def test_what_it_cannot_translate_is_refused_when_generating(root: Any, rules: Any, words: str) -> None:
    with pytest.raises(UnsupportedType, match=words):
        typed_dict_schema(root, rules)


def test_a_changed_shape_makes_the_committed_stage_validator_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    from nekt_peering.core import shapes

    class IngressRecord(shapes.IngressRecord):
        description: str  # a field added to a shape, validators not regenerated

    committed = {path: path.read_text() for path in generated()}
    monkeypatch.setattr(shapes, "IngressRecord", IngressRecord)
    monkeypatch.setitem(shapes.StageEvent.__annotations__, "ingress", IngressRecord)

    stale = [path.name for path, text in generated().items() if committed[path] != text]
    assert stale == ["stage_event.py"]
