"""What drifted, named by id (nekt_peering.connect.drift): the connect's result in the registry against the database as
Discover reads it now, and the named errors no raise site qualified. Every id a check can record has its row in
DRIFT, which docs/health.md's table repeats (tests/unit/test_docs.py)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from nekt_peering.connect.drift import CHANGE_DRIFT, DRIFT, ERROR_DRIFT, PROBE_STAGES, compare_with_record, drift_of
from nekt_peering.core.errors import (
    ConnectedByAnotherPath,
    DatabaseNotAvailable,
    DatabaseNotFound,
    NetworkAclDenies,
    RouteConflict,
    VerificationFailed,
)
from nekt_peering.peering.plan import planned_route
from nekt_peering.probe import DNS, HANDSHAKE, TCP_OTHER, TCP_REFUSED, TCP_TIMEOUT_STAGE

CONNECTED = {"request": {"database": {"identifier": "orders-db"}},
             "result": {"database": {"vpcId": "vpc-1", "port": 5432}, "peeringConnectionId": None,
                        "routes": [{"routeTableId": "rtb-a", "side": "database"}, {"routeTableId": "rtb-n",
                                                                                   "side": "nekt"}]}}


def facts(mode: str = "public", **database: Any) -> dict[str, Any]:
    return {"mode": mode, "database": {"vpcId": "vpc-1", "port": 5432, "publiclyAccessible": mode == "public",
                                       "routeTables": [{"routeTableId": "rtb-a"}], **database}}


def drift_found(connection: dict[str, Any], live: dict[str, Any]) -> tuple[str, ...]:
    """compare_with_record's drift; the database's EC2 client is needed only for a recorded peering (none here)."""
    try:
        compare_with_record(cast("Any", connection), cast("Any", live), cast("Any", None))
    except VerificationFailed as error:
        return error.drift
    return ()


def test_a_database_as_it_was_connected_has_not_drifted() -> None:
    assert drift_found(CONNECTED, facts()) == ()


@pytest.mark.parametrize(("live", "drift"), [
    (facts(vpcId="vpc-2"), ("database-moved-vpc",)),
    (facts(port=5433), ("database-port-changed",)),
    (facts(vpcId="vpc-2", port=5433), ("database-moved-vpc", "database-port-changed")),
    (facts(routeTables=[{"routeTableId": "rtb-b"}]), ("database-subnets-changed",)),
    (facts("peering", publiclyAccessible=True), ("database-made-public",)),
])
def test_the_database_changed_since_it_was_connected_is_named(live: dict[str, Any], drift: tuple[str, ...]) -> None:
    assert drift_found(CONNECTED, live) == drift


def test_a_database_connected_privately_on_purpose_may_be_public() -> None:
    """`auto` chose the private path because the database was private; a requested peering says nothing of it."""
    requested = {**CONNECTED, "request": {"database": {"identifier": "orders-db"}, "mode": "peering"}}
    assert drift_found(requested, facts("peering", publiclyAccessible=True)) == ()


@pytest.mark.parametrize(("error", "drift"), [
    (DatabaseNotFound("gone"), ["database-deleted"]),
    (DatabaseNotAvailable("stopped"), ["database-stopped"]),
    (NetworkAclDenies("deny"), ["network-acl-denies"]),
    (ConnectedByAnotherPath("private now"), ["database-made-private"]),
    (VerificationFailed("something else"), ["check-failed"]),
    (VerificationFailed("two").drifted("route-missing", "dns-option-off"), ["route-missing", "dns-option-off"]),
])
def test_an_error_names_its_drift(error: Exception, drift: list[str]) -> None:
    assert drift_of(cast("Any", error)) == drift


@pytest.mark.parametrize(("state", "target", "drift"), [
    ("blackhole", "pcx-0123456789abcdef0", "route-blackholed"),
    ("active", "nat-0123456789abcdef0", "route-elsewhere"),
])
def test_a_route_for_the_path_taken_by_something_else_is_named(state: str, target: str, drift: str) -> None:
    table = {"routeTableId": "rtb-a", "routes": [{"destinationCidr": "10.100.0.0/23", "target": target,
                                                  "state": state}]}
    with pytest.raises(RouteConflict) as refused:
        planned_route(table, "10.100.0.0/23", "database", "pcx-0fedcba9876543210")
    assert refused.value.drift == (drift,)


def test_every_id_a_check_can_record_says_what_to_do() -> None:
    produced = {*CHANGE_DRIFT.values(), *PROBE_STAGES.values(), *ERROR_DRIFT.values(), "check-failed",
                "route-blackholed", "route-elsewhere", "peering-gone", "database-moved-vpc", "database-port-changed",
                "database-subnets-changed", "database-made-public", "resource-gateway-gone", "gateway-rule-missing",
                "resource-endpoint-gone", "resource-share-gone"}
    assert produced == set(DRIFT)
    assert set(PROBE_STAGES) == {DNS, TCP_TIMEOUT_STAGE, TCP_REFUSED, TCP_OTHER, HANDSHAKE}
