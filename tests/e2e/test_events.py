"""events/ holds, per function, the event the real state machine (or, for ApiFunction, API Gateway)
passes it (for `sam local invoke`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator.events import event_file_name, record_events, render
from emulator.lambda_runtime import LambdaContext, load_handler
from emulator.strict import StrictAws
from emulator.template import ROOT, Template

EVENTS = ROOT / "events"
STAGE_ORDER = ["DiscoverFunction", "TakeLocksFunction", "PreflightFunction", "RequestPeeringFunction",
               "PeeringStatusFunction", "AcceptPeeringFunction", "UpdateRoutesFunction", "AuthorizeIngressFunction",
               "EnableDnsResolutionFunction", "VerifyFunction", "RecordConnectionFunction",
               "RevokeIngressFunction", "DeleteRoutesFunction", "RestoreDnsResolutionFunction", "DeletePeeringFunction",
               "RecordFailureFunction", "FindConnectionFunction", "RecordDisconnectFunction", "CheckPathFunction",
               "ShareDatabaseFunction", "CreateResourceEndpointFunction", "RemoveResourceEndpointFunction",
               "UnshareDatabaseFunction", "ListConnectedFunction", "RecordSweepFunction"]


# Not in the example stack (deployed without NektEventBusArn): CloudFormation's custom resource, whose event is
# CloudFormation's request (tests/integration/test_stack_announcement.py), not a workflow's.
ONLY_WITH_NEKTS_BUS = {"AnnounceStackFunction"}


def test_every_function_has_an_event_and_every_event_a_function() -> None:
    expected = {event_file_name(logical_id) for logical_id in set(Template().functions()) - ONLY_WITH_NEKTS_BUS}
    present = {path.name for path in EVENTS.glob("*.json")} - {"env.json"}  # env.json: sam local's --env-vars
    assert present == expected
    assert sorted(Template().functions()) == sorted([*STAGE_ORDER, "ApiFunction", *ONLY_WITH_NEKTS_BUS])


def test_events_are_what_the_state_machine_passed_each_handler_and_each_runs_through_it_again_changing_nothing(
    strict: StrictAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One recording for both (it is most of the test's time): the events, and the emulated accounts they were
    # recorded in, one connected and one rolled back, with the ids the events name.
    recorded = record_events(strict)

    for logical_id, event in recorded.items():
        committed = (EVENTS / event_file_name(logical_id)).read_text()
        assert committed == render(event), f"events/{event_file_name(logical_id)} is stale: run `make events`"

    # Each committed event through its handler again.
    # The registry table of the example stack, as `sam local invoke --env-vars events/env.json` gives it.
    monkeypatch.setenv("CONNECTIONS_TABLE", json.loads((EVENTS / "env.json").read_text())[
        "TakeLocksFunction"]["CONNECTIONS_TABLE"])
    monkeypatch.setenv("STACK_NAME", json.loads((EVENTS / "env.json").read_text())["RecordSweepFunction"]["STACK_NAME"])
    handlers = Template().functions()
    results: dict[str, Any] = {}

    for logical_id in STAGE_ORDER:
        event = json.loads((EVENTS / event_file_name(logical_id)).read_text())
        context = LambdaContext(function_name=logical_id, invoked_function_arn=f"arn:aws:lambda:::{logical_id}")
        results[logical_id] = load_handler(handlers[logical_id])(event, context)

    assert results["DiscoverFunction"]["database"]["identifier"] == "orders-db"
    # The retried request finds the peering its first run created: the same one, still its own.
    recorded_peering = json.loads((EVENTS / "accept_peering.json").read_text())["peering"]["peeringConnectionId"]
    assert results["RequestPeeringFunction"]["peeringConnectionId"] == recorded_peering
    assert results["RequestPeeringFunction"]["created"] is True
    assert results["AcceptPeeringFunction"]["accepted"] is False
    # Run again on its own event, a stage finds what its execution made, and still counts it as made by it (not
    # there when Discover read the facts; the rule carries the connection's tag): a later disconnect removes it.
    assert all(route["created"] for route in results["UpdateRoutesFunction"])
    assert results["AuthorizeIngressFunction"]["created"] is True
    assert results["EnableDnsResolutionFunction"] == {**results["EnableDnsResolutionFunction"], "needed": False,
                                                      "changed": False}
    assert results["VerifyFunction"]["status"] == "CONNECTED"
    # The compensations of the rolled-back example find nothing left to undo.
    recorded_rollback = json.loads((EVENTS / "delete_peering.json").read_text())["rollback"]
    assert results["DeletePeeringFunction"]["complete"] is True
    assert results["DeletePeeringFunction"]["undone"] == recorded_rollback["undone"]
    # The disconnect example finds nothing the rolled-back connection still owns.
    assert results["FindConnectionFunction"]["plan"] == {"peering": None, "routes": [], "ingress": []}
    # The registry: the connected example's locks taken again (its facts predate its own release, so it would
    # read them again), then recorded CONNECTED again; the rolled-back and disconnected example's records stand.
    assert results["TakeLocksFunction"] == {"acquired": True, "waited": True, "polls": 0, "waitSeconds": 1}
    assert results["RecordConnectionFunction"]["state"] == "CONNECTED"
    assert results["RecordFailureFunction"] == {"state": None}  # not the connection's current run any more
    assert results["RecordDisconnectFunction"]["state"] == "DISCONNECTED"
    assert results["RecordDisconnectFunction"]["othersIntact"] is True
    # The resource-endpoint example: its share and endpoint found as they are (the configuration still its
    # execution's: Discover did not see it); the rolled-back one's compensations find nothing left.
    assert (results["ShareDatabaseFunction"]["configurationCreated"], results["ShareDatabaseFunction"]["waiting"]) == (
        True, False)
    assert results["CreateResourceEndpointFunction"]["created"] is True
    assert results["CreateResourceEndpointFunction"]["state"] == "Available"
    assert results["UnshareDatabaseFunction"]["complete"] is True
    # The re-check of the connected example finds everything in place (no probe in this stack).
    checked = results["CheckPathFunction"]
    assert checked["result"]["status"] == "REACHABLE" and checked["result"]["probe"] is None
    assert checked["error"] is None and checked["healthEvent"] is None  # healthy, as it was
