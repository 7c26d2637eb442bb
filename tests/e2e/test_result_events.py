"""Result events: every connect puts one event on the default bus (source nekt.peering), from the ASL.

The emulated platform subscribes with a rule (Stack.subscribe); these tests read what it received.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from emulator.stack import DEFAULT_ACCOUNT, Stack
from emulator.topology import NektNetwork, account_session, create_database
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


def test_every_result_event_is_also_delivered_to_nekts_bus_in_nekts_account(deploy: Any, nekt: NektNetwork) -> None:
    """NektEventBusArn (nekt-peering onboard fills it): the stack's rule sends the default bus's result events to
    Nekt's bus with its own role; Nekt's platform subscribes there (here: a rule to a log group of Nekt's)."""
    create_database()
    nekt_bus = f"arn:aws:events:{nekt.region}:{nekt.account_id}:event-bus/default"
    nekt_session = account_session(nekt.account_id, nekt.region)
    nekt_session.client("logs").create_log_group(logGroupName="/nekt/platform/results")
    nekt_events = nekt_session.client("events")
    # Nekt's bus admits the customer's account (nekt-peering onboard), as the stack's announcement needs.
    nekt_events.put_permission(EventBusName="default", Action="events:PutEvents", Principal=DEFAULT_ACCOUNT,
                               StatementId="customer")
    nekt_events.put_rule(Name="platform-results", EventPattern=json.dumps({"source": [SOURCE]}))
    nekt_events.put_targets(Rule="platform-results", Targets=[{
        "Id": "log", "Arn": f"arn:aws:logs:{nekt.region}:{nekt.account_id}:log-group:/nekt/platform/results"}])
    stack = deploy(nekt, NektEventBusArn=nekt_bus)

    execution = stack.run({**INPUT, "dryRun": True})

    delivered = [json.loads(event["message"]) for event in nekt_session.client("logs").filter_log_events(
        logGroupName="/nekt/platform/results")["events"]]
    # The stack's own announcement first (tests/integration/test_stack_announcement.py), then the result.
    assert [(event["source"], event["detail-type"]) for event in delivered] == [
        (SOURCE, "Stack Installed"), (SOURCE, "Connection Planned")]
    assert delivered[-1]["detail"] == execution.output | RELEASE
    # and still on the customer's default bus, after the announcement
    assert [event["detail"] for event in stack.published()][1:] == [execution.output | RELEASE]
    # The customer's account: the rule's one target is Nekt's bus, through a role that may put events there only.
    events, iam = boto3.client("events", region_name=stack.region), boto3.client("iam", region_name=stack.region)
    [rule] = [rule for rule in events.list_rules()["Rules"] if "ResultsToNektRule" in rule["Name"]]
    [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == nekt_bus and target["RoleArn"] == stack.role_arns["ResultsToNekt"]
    role_name = target["RoleArn"].rsplit("/", 1)[1]
    [policy_name] = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    statements = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]["Statement"]
    assert statements == [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": nekt_bus}]


def test_without_nekts_bus_the_stack_forwards_nothing(deploy: Any, nekt: NektNetwork) -> None:
    """Today's deploys (NektEventBusArn empty): no rule, no role beyond the functions' and state machines'."""
    stack = deploy(nekt)

    assert [rule["Name"] for rule in boto3.client("events", region_name=stack.region).list_rules()["Rules"]] == [
        f"{stack.name}-results"]  # the emulated platform's own subscription (Stack.subscribe)
    assert "ResultsToNekt" not in stack.role_arns
