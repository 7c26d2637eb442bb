"""An answer the emulator makes (or corrects) must be one AWS could send: the shape botocore's service
model gives the operation's output, as botocore would have parsed it (timestamps as datetimes).

botocore validates what a client sends, never what it receives; this checks what the strict layer
returns in AWS's place, so a hand-made answer cannot drift from the model (a misspelt member, a
status outside its enum, a string where a list belongs).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from botocore.model import OperationModel, Shape


class ShapeError(AssertionError):
    pass


def check_output(operation: OperationModel, response: dict[str, Any]) -> None:
    """Raises ShapeError naming the first place where `response` leaves the operation's output shape."""
    shape = operation.output_shape
    answer = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    if shape is None:
        if answer:
            raise ShapeError(f"{operation.name} has no output, the answer has {sorted(answer)}")
        return
    _check(shape, answer, operation.name)


def _check(shape: Any, value: Any, path: str) -> None:  # a botocore Shape of any kind
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise ShapeError(f"{path}: a structure ({shape.name}) expected, got {type(value).__name__}")
        unknown = set(value) - set(shape.members)
        if unknown:
            raise ShapeError(f"{path}: {sorted(unknown)} not members of {shape.name}")
        if shape.metadata.get("union") and len(value) != 1:
            raise ShapeError(f"{path}: {shape.name} is a union: exactly one member, got {sorted(value)}")
        for name, member in shape.members.items():
            if name in value:
                _check(member, value[name], f"{path}.{name}")
    elif kind == "list":
        if not isinstance(value, list):
            raise ShapeError(f"{path}: a list expected, got {type(value).__name__}")
        _length(shape, len(value), path)
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}[{index}]")
    elif kind == "map":
        if not isinstance(value, dict):
            raise ShapeError(f"{path}: a map expected, got {type(value).__name__}")
        for key, item in value.items():
            _check(shape.key, key, f"{path} key")
            _check(shape.value, item, f"{path}[{key!r}]")
    elif kind == "string":
        if not isinstance(value, str):
            raise ShapeError(f"{path}: a string expected, got {type(value).__name__}")
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            raise ShapeError(f"{path}: {value!r} is not one of {shape.name}'s values {enum}")
        _length(shape, len(value), path)
        pattern = shape.metadata.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            raise ShapeError(f"{path}: {value!r} does not match {shape.name}'s pattern {pattern}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ShapeError(f"{path}: an integer expected, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise ShapeError(f"{path}: a boolean expected, got {value!r}")
    elif kind == "timestamp":
        if not isinstance(value, datetime):
            raise ShapeError(f"{path}: a timestamp (datetime) expected, got {value!r}")
    else:
        raise ShapeError(f"{path}: shape type {kind} not checked: add it to emulator/strict/shapes.py")


def _length(shape: Shape, length: int, path: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and length < low or high is not None and length > high:
        raise ShapeError(f"{path}: length {length} outside {shape.name}'s {low}..{high}")
