"""JSON Schema draft 7 (connect_input.json, tools/typed_schema.py's output) as OpenAPI 3.0 schema objects,
for `make openapi` (tools/generate_openapi.py).

OpenAPI 3.0's schema object is a dialect of its own, and API Gateway imports it as models in JSON Schema
draft 4 (its "important notes for REST APIs": no `example`, `discriminator` or `oneOf` in models). Each
keyword is converted on purpose, and one not listed here is refused, so that a new keyword in a source is
a decision rather than a document that a client generator or API Gateway reads differently:

- `$schema` is dropped (the document says which dialect); `title`, `description` and the validation
  keywords both dialects share are kept.
- `definitions` become components of their own (`#/definitions/X` -> `#/components/schemas/X`).
- `null`: OpenAPI 3.0 has no null type, and its `nullable` adds null only beside a `type` in the same schema
  (3.0.3's reading, which openapi-schema-validator and this project's tests hold). So `type: [T, "null"]`
  is `type: T` with `nullable: true`; anything else that may be null (a `$ref`, several types, a union of
  shapes) is an `anyOf` of its options and NULL, `{enum: [null], nullable: true}`, which both readings
  and schemathesis take as "null", and nothing else.
- `enum` with `null` keeps it and adds `nullable: true` (no `type` beside it: the enum alone decides).
- `const: V` is `enum: [V]`.
- typed_schema's union chains (`if`/`then`/`else`, each `if` naming one option) are an `anyOf` of the
  options (one option alone is itself), `null` among them as above.
- A condition without `else` (connect_input.json's requirements per database kind, `if X then Y`) holds
  exactly when X fails or Y holds: `anyOf: [{not: X}, Y]`.
- `examples` is refused: OpenAPI 3.0 has only `example`, which API Gateway's models do not take; an
  example belongs on the operation's media type, in the hand-written part of api/openapi.yaml.
"""

from __future__ import annotations

from typing import Any

# Keywords draft 7 and OpenAPI 3.0 read alike: copied as they are (their values converted where schemas).
SHARED = frozenset({"title", "description", "type", "enum", "default", "required", "pattern", "minLength",
                    "maxLength", "minimum", "maximum", "minItems", "maxItems", "uniqueItems"})
SUBSCHEMAS = frozenset({"items", "additionalProperties", "not"})
SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
COMPONENTS = "#/components/schemas/"
NULL: dict[str, Any] = {"enum": [None], "nullable": True}


class UnconvertedKeyword(ValueError):
    """A JSON Schema keyword with no deliberate OpenAPI 3.0 form here: add its conversion, or leave it out."""


def components(schema: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """`schema` as OpenAPI components: itself under `name`, and each of its definitions under its own."""
    definitions = schema.get("definitions", {})
    root = {key: value for key, value in schema.items() if key != "definitions"}
    converted = {name: convert(root)}
    for definition, part in definitions.items():
        converted[definition] = convert(part)
    return converted


def convert(schema: dict[str, Any]) -> dict[str, Any]:
    """One draft-7 schema as an OpenAPI 3.0 schema object."""
    if "if" in schema and "else" not in schema:
        if set(schema) != {"if", "then"}:
            raise UnconvertedKeyword(f"if/then beside {sorted(set(schema) - {'if', 'then'})}: put it in an allOf")
        return {"anyOf": [{"not": convert(schema["if"])}, convert(schema["then"])]}
    if "if" in schema:
        return _union(_options(schema))
    converted: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword == "$schema":
            continue
        if keyword == "$ref":
            converted["$ref"] = _reference(value)
        elif keyword == "const":
            converted["enum"] = [value]
        elif keyword == "properties":
            converted["properties"] = {name: convert(part) for name, part in value.items()}
        elif keyword in SUBSCHEMAS:
            converted[keyword] = convert(value) if isinstance(value, dict) else value
        elif keyword in SCHEMA_LISTS:
            converted[keyword] = [convert(part) for part in value]
        elif keyword in SHARED:
            converted[keyword] = value
        elif keyword == "examples":
            raise UnconvertedKeyword("examples: OpenAPI 3.0 schemas have only `example`, which API Gateway's models "
                                     "refuse; give the example on the operation's media type instead")
        else:
            raise UnconvertedKeyword(f"{keyword}: no OpenAPI 3.0 form chosen for it (tools/openapi_schema.py)")
    if "$ref" in converted and len(converted) > 1:
        siblings = sorted(set(converted) - {"$ref"})
        raise UnconvertedKeyword(f"$ref with siblings {siblings}: OpenAPI 3.0 ignores them")
    if isinstance(converted.get("type"), list):
        converted = _typed(converted)
    if None in converted.get("enum", []):
        converted["nullable"] = True
    return converted


def _reference(target: str) -> str:
    if not target.startswith("#/definitions/"):
        raise UnconvertedKeyword(f"$ref {target}: only references to the schema's own definitions are converted")
    return COMPONENTS + target.removeprefix("#/definitions/")


def _typed(schema: dict[str, Any]) -> dict[str, Any]:
    """`type: [..]`: one type (with `nullable` when null is one of them), or an anyOf of them (and NULL)."""
    types = [kind for kind in schema["type"] if kind != "null"]
    rest = {key: value for key, value in schema.items() if key != "type"}
    nullable = len(types) < len(schema["type"])
    if len(types) == 1:
        return {"type": types[0], **rest, **({"nullable": True} if nullable else {})}
    return {"anyOf": [{"type": kind} for kind in types] + ([NULL] if nullable else []), **rest}


def _options(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The options of typed_schema's if/then/else chain: each `then` (the `if` itself when `then` is
    empty: the condition is the whole option), and the last `else`."""
    options = []
    while "if" in schema:
        options.append(schema["then"] or schema["if"])
        schema = schema["else"]
    return [*options, schema]


def _union(options: list[dict[str, Any]]) -> dict[str, Any]:
    nullable = any(option == {"type": "null"} for option in options)
    others = [convert(option) for option in options if option != {"type": "null"}]
    if len(others) == 1 and not nullable:
        return others[0]
    if len(others) == 1 and "type" in others[0] and "$ref" not in others[0]:
        return {**others[0], "nullable": True}
    return {"anyOf": others + ([NULL] if nullable else [])}
