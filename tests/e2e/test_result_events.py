"""Result events: every connect puts one event on the default bus (source nekt.peering), from the ASL.

The emulated platform subscribes with a rule (Stack.subscribe); these tests read what it received.
"""

from __future__ import annotations

from typing import Any

from emulator.stack import Stack
from emulator.topology import NektNetwork, create_database
from tools.generate_openapi import release_version

SOURCE = "nekt.peering"
INPUT = {"database": {"identifier": "orders-db", "region": "us-east-2"}}
# Every event names the release that published it: pyproject.toml's version, which the template carries.
RELEASE = {"version": release_version()}


def only_event(stack: Stack) -> dict[str, Any]:
    [event] = stack.published()
    assert event["source"] == SOURCE
    return event


def test_a_connection_publishes_connection_connected_with_the_output(deploy: Any, nekt: NektNetwork) -> None:
    create_database()
    stack = deploy(nekt)

    execution = stack.run(INPUT)

    event = only_event(stack)
    assert event["detail-type"] == "Connection Connected"
    assert event["detail"] == execution.output | RELEASE
    assert execution.arn in event["resources"]


def test_a_dry_run_publishes_the_plan(deploy: Any, nekt: NektNetwork) -> None:
    create_database()
    stack = deploy(nekt)

    execution = stack.run({**INPUT, "dryRun": True})

    event = only_event(stack)
    assert (event["detail-type"], event["detail"]["status"]) == ("Connection Planned", "PLANNED")
    assert event["detail"] == execution.output | RELEASE


def test_a_failure_before_any_change_publishes_connection_failed_with_the_error(
    deploy: Any, nekt: NektNetwork
) -> None:
    create_database(cidr="10.100.0.0/16")
    stack = deploy(nekt)

    execution = stack.run(INPUT)

    assert execution.status == "FAILED" and execution.error == "CidrOverlap"
    assert execution.states_entered()[-2:] == ["Publish: failed before any change", "Failed before any change"]
    event = only_event(stack)
    assert event["detail-type"] == "Connection Failed"
    assert event["detail"] == {"status": "FAILED", "input": INPUT, "executionArn": execution.arn,
                               "error": "CidrOverlap", "cause": execution.cause, "registry": {"state": "FAILED"},
                               **RELEASE}


def test_a_rolled_back_failure_publishes_the_original_error_and_what_was_undone(
    deploy: Any, nekt: NektNetwork
) -> None:
    create_database()
    stack = deploy(nekt)

    def fault(event: dict[str, Any]) -> None:
        raise RuntimeError("injected: verify failed")

    stack.runtime.before_invoke("VerifyFunction", fault)

    execution = stack.run(INPUT)

    assert execution.error == "RuntimeError"
    event = only_event(stack)
    assert event["detail-type"] == "Connection Failed"
    assert event["detail"] == {"status": "ROLLED_BACK", "connectionId": "orders-db", "executionArn": execution.arn,
                               "error": "RuntimeError", "cause": execution.cause, "registry": {"state": "FAILED"},
                               **RELEASE}
    assert "Rolled back: ingress rule" in event["detail"]["cause"]


def test_a_failed_run_again_of_a_connected_connection_says_it_is_still_connected(
    deploy: Any, nekt: NektNetwork
) -> None:
    """What this run changed is undone (ROLLED_BACK), and the platform learns the connection still works."""
    create_database()
    stack = deploy(nekt)
    assert stack.run(INPUT).status == "SUCCEEDED"

    def fault(event: dict[str, Any]) -> None:
        raise RuntimeError("injected: verify failed")

    stack.runtime.before_invoke("VerifyFunction", fault)
    again = stack.run(INPUT)

    assert again.error == "RuntimeError"
    failed = [event for event in stack.published() if event["detail-type"] == "Connection Failed"]
    assert [(event["detail"]["status"], event["detail"]["registry"]) for event in failed] == [
        ("ROLLED_BACK", {"state": "CONNECTED"})]


def test_a_failed_rollback_publishes_rollback_failed(deploy: Any, nekt: NektNetwork) -> None:
    create_database()
    stack = deploy(nekt)

    def fault(event: dict[str, Any]) -> None:
        raise RuntimeError("injected")

    stack.runtime.before_invoke("VerifyFunction", fault)
    stack.runtime.before_invoke("DeleteRoutesFunction", fault)

    execution = stack.run(INPUT)

    assert execution.error == "RollbackFailed"
    event = only_event(stack)
    assert event["detail"] | {"status": "FAILED", "error": "RollbackFailed", "originalError": "RuntimeError",
                              "cause": execution.cause, "registry": {"state": "FAILED"}, **RELEASE} == event["detail"]


def test_an_input_that_names_no_connection_publishes_nothing(deploy: Any, nekt: NektNetwork) -> None:
    stack = deploy(nekt)

    execution = stack.run({"database": {"identifier": "orders_db!"}})

    assert execution.error == "InvalidInput"
    assert stack.published() == []
