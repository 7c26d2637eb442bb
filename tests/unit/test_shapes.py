"""nekt_peering.shapes says what the stages pass each other: checked here against what they really
passed in the recorded run (events/, which tests/e2e/test_events.py keeps equal to a fresh run), key by
key and type by type, so a stage that adds, drops or retypes a field fails until shapes.py says so."""

from __future__ import annotations

import json
import types
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from emulator.template import ROOT
from nekt_peering.core import shapes

EVENTS = ROOT / "events"


def problems(value: Any, expected: Any, where: str) -> list[str]:
    """Where value does not have the type `expected` (a TypedDict, list, dict, union, Literal or scalar)."""
    origin, arguments = get_origin(expected), get_args(expected)
    if origin in (Required, NotRequired):
        return problems(value, arguments[0], where)
    if origin in (Union, types.UnionType):
        found = [problems(value, option, where) for option in arguments]
        return [] if any(not found_ for found_ in found) else min(found, key=len)
    if origin is Literal:
        return [] if value in arguments else [f"{where} is {value!r}, not one of {arguments}"]
    if is_typeddict(expected):
        if not isinstance(value, dict):
            return [f"{where} is {type(value).__name__}, not {expected.__name__}"]
        hints = get_type_hints(expected, include_extras=True)
        found = [f"{where}.{key} is missing" for key in expected.__required_keys__ - set(value)]
        found += [f"{where}.{key} is not in {expected.__name__}" for key in set(value) - set(hints)]
        for key in set(value) & set(hints):
            found += problems(value[key], hints[key], f"{where}.{key}")
        return found
    if origin is list:
        if not isinstance(value, list):
            return [f"{where} is {type(value).__name__}, not a list"]
        return [problem for index, item in enumerate(value) for problem in problems(item, arguments[0],
                                                                                    f"{where}[{index}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where} is {type(value).__name__}, not a dict"]
        return [problem for key, item in value.items() for problem in problems(item, arguments[1], f"{where}.{key}")]
    if expected is type(None):
        return [] if value is None else [f"{where} is {value!r}, not null"]
    if expected is int and isinstance(value, bool):
        return [f"{where} is a boolean, not int"]
    return [] if isinstance(value, expected) else [f"{where} is {type(value).__name__}, not {expected.__name__}"]


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


# (what a stage passed on, as the recorded event of the next stage holds it; the shape it should have)
RECORDED = {
    "Discover's facts": (event("preflight")["discovery"], shapes.Facts),
    "Preflight's plan": (event("request_peering")["plan"], shapes.Plan),
    "Request peering's peering": (event("peering_status")["peering"], shapes.PeeringRecord),
    "Accept peering's peering": (event("update_routes")["peering"], shapes.PeeringRecord),
    "Update routes' routes": (event("verify")["routes"], list[shapes.RouteRecord]),
    "Authorize ingress's rule": (event("verify")["ingress"], shapes.IngressRecord),
    "Enable DNS resolution's result": (event("verify")["dnsResolution"], shapes.DnsResolution),
    "a compensation's rollback": (event("delete_peering")["rollback"], shapes.RollbackProgress),
    "the disconnect's Summarize": (event("record_disconnect")["result"], shapes.Disconnected),
}


@pytest.mark.parametrize("what", sorted(RECORDED))
def test_what_a_stage_passed_on_has_the_shape_shapes_py_gives_it(what: str) -> None:
    value, shape = RECORDED[what]

    assert problems(value, shape, what) == []


def test_the_checker_names_a_missing_an_unknown_and_a_mistyped_field() -> None:
    value, _ = RECORDED["Authorize ingress's rule"]
    broken = {**value, "port": "5432", "extra": 1}
    del broken["created"]

    assert sorted(problems(broken, shapes.IngressRecord, "ingress")) == [
        "ingress.created is missing", "ingress.extra is not in IngressRecord", "ingress.port is str, not int"]


