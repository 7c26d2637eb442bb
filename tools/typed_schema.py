"""A JSON schema (draft 7) from a TypedDict, for `make validators`: the stage-event check is derived
from nekt_peering.shapes, so a type and its check cannot drift apart.

What it reads of a TypedDict's annotations: str, int, float, bool, None, Any; Literal; list[X];
dict[str, X]; nested TypedDicts (one definition each, under "definitions"); Required/NotRequired and
total=False (the object's "required"); unions. A union of scalars or Literals is one "type" or "enum";
any other union is an if/then/else chain, tried in this order: null, scalars, lists, dicts, then the
TypedDicts, each told apart by a key only it requires (so the error names the field that is wrong in
the one shape the value claims to be, where anyOf would only say "no definition matched"). A union
of TypedDicts with no such key is refused here, as is any annotation not listed above.

What a type cannot say (patterns, bounds, lengths) comes from `rules`, keyed by (TypedDict, field) and
merged into that field's schema ("items" recursively, so a rule can bound a list and pattern its
items); a rule on a field that is a TypedDict is refused: put it on that TypedDict's own fields.
`checked_elsewhere` names fields whose content another check refuses with its own named error: only
their JSON type is checked here. Objects accept keys their TypedDict does not name, as the stages
ignore them.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin, get_type_hints, is_typeddict

Rules = Mapping[tuple[str, str], Mapping[str, Any]]
SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
# The order a union's if/then/else chain tries its options in; TypedDicts come after these.
JSON_TYPES = ["null", "string", "integer", "number", "boolean", "array", "object"]


class UnsupportedType(TypeError):
    """An annotation this generator does not translate: say what it should become, or add it here."""


def typed_dict_schema(root: Any, rules: Rules | None = None,
                      checked_elsewhere: Mapping[tuple[str, str], str] | None = None,
                      title: str = "") -> dict[str, Any]:
    """The schema of `root` (a TypedDict), its nested TypedDicts under "definitions"."""
    rules = rules or {}
    builder = _Builder(rules, checked_elsewhere or {})
    schema = builder.object_schema(root)
    unused = set(rules) - builder.applied
    if unused:
        raise UnsupportedType(f"rules for fields no TypedDict under {root.__name__} has: {sorted(unused)}")
    definitions = {name: builder.definitions[name] for name in sorted(builder.definitions) if name != root.__name__}
    return {"title": title or root.__name__, **schema, **({"definitions": definitions} if definitions else {})}


class _Builder:
    def __init__(self, rules: Rules, checked_elsewhere: Mapping[tuple[str, str], str]) -> None:
        self.rules, self.checked_elsewhere = rules, checked_elsewhere
        self.definitions: dict[str, dict[str, Any]] = {}
        self.applied: set[tuple[str, str]] = set()

    def object_schema(self, shape: Any) -> dict[str, Any]:
        hints = get_type_hints(shape, include_extras=True)
        properties = {}
        for name, annotation in hints.items():
            key = (shape.__name__, name)
            annotation = _unwrap_required(annotation)
            if key in self.checked_elsewhere:
                properties[name] = {"type": _json_type(annotation)}
                self.applied.add(key)
                continue
            properties[name] = self.schema(annotation)
            if key in self.rules:
                properties[name] = _merge(properties[name], self.rules[key], where=f"{shape.__name__}.{name}")
                self.applied.add(key)
        required = sorted(_required_keys(shape))
        return {"type": "object", **({"required": required} if required else {}), "properties": properties}

    def reference(self, shape: Any) -> dict[str, Any]:
        name = shape.__name__
        if name not in self.definitions:
            self.definitions[name] = {}  # a placeholder while it is built: a recursive shape refers to itself
            self.definitions[name] = self.object_schema(shape)
        return {"$ref": f"#/definitions/{name}"}

    def schema(self, annotation: Any) -> dict[str, Any]:
        origin, arguments = get_origin(annotation), get_args(annotation)
        if annotation is Any or annotation is object:
            return {}
        if annotation in SCALARS:
            return {"type": SCALARS[annotation]}
        if origin is Literal:
            return {"enum": list(arguments)}
        if is_typeddict(annotation):
            return self.reference(annotation)
        if origin is list:
            return {"type": "array", "items": self.schema(arguments[0])}
        if origin is dict:
            if arguments[0] is not str:
                raise UnsupportedType(f"{annotation}: JSON object keys are strings")
            values = self.schema(arguments[1])
            return {"type": "object", **({"additionalProperties": values} if values else {})}
        if origin in (Union, types.UnionType):
            return self.union(list(arguments))
        raise UnsupportedType(f"no JSON schema for {annotation!r}")

    def union(self, options: list[Any]) -> dict[str, Any]:
        schemas = [self.schema(option) for option in options]
        if all(set(schema) == {"type"} for schema in schemas):
            return {"type": [schema["type"] for schema in schemas]}
        if all(set(schema) == {"enum"} or schema == {"type": "null"} for schema in schemas):
            return {"enum": [value for schema in schemas for value in schema.get("enum", [None])]}
        shapes = [option for option in options if is_typeddict(option)]
        others = [option for option in options if not is_typeddict(option)]
        if any(get_origin(option) in (Union, types.UnionType, Literal) for option in others):
            raise UnsupportedType(f"a union of {options}: write its Literals and nested unions as one flat union")
        kinds = [_json_type(option) for option in others]
        if len(set(kinds)) < len(kinds) or (shapes and "object" in kinds):
            raise UnsupportedType(f"a union of {options}: two of its options have the same JSON type")
        ordered = sorted(others, key=lambda option: JSON_TYPES.index(_json_type(option))) + sorted(
            shapes, key=lambda shape: _telling_apart(shape, shapes) is None)
        schema = self.schema(ordered[-1])  # what a value of none of the options is checked as: names what is wrong
        for option in reversed(ordered[:-1]):
            condition = _telling_apart(option, shapes) if is_typeddict(option) else {"type": _json_type(option)}
            if condition is None:
                raise UnsupportedType(f"a union of {options}: no key that only one of its TypedDicts requires")
            then = self.schema(option)
            schema = {"if": condition, "then": {} if then == condition else then, "else": schema}
        return schema


def _required_keys(shape: Any) -> set[str]:
    """Its required keys, Required/NotRequired read from the resolved annotations: a class made under
    `from __future__ import annotations` has them as strings, which __required_keys__ does not read."""
    hints = get_type_hints(shape, include_extras=True)
    marked = {name: get_origin(hint) for name, hint in hints.items() if get_origin(hint) in (Required, NotRequired)}
    return {name for name in hints
            if marked.get(name) is Required or (name in shape.__required_keys__ and name not in marked)}


def _unwrap_required(annotation: Any) -> Any:
    while get_origin(annotation) in (Required, NotRequired):
        annotation = get_args(annotation)[0]
    return annotation


def _json_type(annotation: Any) -> str:
    origin = get_origin(annotation)
    if annotation in SCALARS:
        return SCALARS[annotation]
    if is_typeddict(annotation) or origin is dict:
        return "object"
    if origin is list:
        return "array"
    raise UnsupportedType(f"{annotation!r}: give it a JSON type of its own (str, int, list, dict, a TypedDict)")


def _telling_apart(shape: Any, shapes: list[Any]) -> dict[str, Any] | None:
    """An object that has a key only `shape` requires (of the union's TypedDicts) is that shape."""
    others = set[str]().union(*(set(get_type_hints(other)) for other in shapes if other is not shape))
    own = sorted(_required_keys(shape) - others)
    return {"type": "object", "required": own[:1]} if own else None


def _merge(schema: dict[str, Any], rule: Mapping[str, Any], where: str) -> dict[str, Any]:
    if "$ref" in schema or "if" in schema:
        raise UnsupportedType(f"a rule on {where}, which is a TypedDict: put it on that TypedDict's fields")
    merged = {**schema}
    for keyword, value in rule.items():
        if keyword == "items" and "items" in schema:
            merged["items"] = _merge(schema["items"], value, where=f"{where}[]")
        else:
            merged[keyword] = value
    return merged
