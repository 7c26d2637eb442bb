"""The stack tells Nekt it was installed, updated and deleted (the StackAnnouncement custom resource and its
AnnounceStackFunction: an event on the default bus, which ResultsToNektRule forwards to Nekt's bus), and answers
CloudFormation at the request's ResponseURL every time: a failure fails an install with the reason, never an update
or a delete."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from emulator.custom_resources import CustomResourceFailed, custom_resource_request
from emulator.stack import DEFAULT_ACCOUNT, Stack
from emulator.strict.layer import StrictAws, acting_as
from emulator.topology import NektNetwork, account_session
from tests.emulated import FAST_WAITS
from tools.generate_openapi import release_version


def nekts_platform(nekt: NektNetwork) -> Callable[[], list[dict[str, Any]]]:
    """What Nekt's platform does: a rule on its bus for the stacks' announcements, to a log group it reads."""
    session = account_session(nekt.account_id, nekt.region)
    session.client("logs").create_log_group(logGroupName="/nekt/platform/stacks")
    events = session.client("events")
    events.put_rule(Name="platform-stacks", EventPattern=json.dumps({"source": ["nekt.peering"],
                                                                     "detail-type": [{"prefix": "Stack "}]}))
    events.put_targets(Rule="platform-stacks", Targets=[{
        "Id": "log", "Arn": f"arn:aws:logs:{nekt.region}:{nekt.account_id}:log-group:/nekt/platform/stacks"}])
    return lambda: [json.loads(event["message"]) for event in session.client("logs").filter_log_events(
        logGroupName="/nekt/platform/stacks")["events"]]


def nekts_bus(nekt: NektNetwork) -> str:
    """Nekt's default bus, admitting the customer's account as `nekt-peering onboard` does."""
    account_session(nekt.account_id, nekt.region).client("events").put_permission(
        EventBusName="default", Action="events:PutEvents", Principal=DEFAULT_ACCOUNT, StatementId="customer")
    return f"arn:aws:events:{nekt.region}:{nekt.account_id}:event-bus/default"


def test_the_stack_announces_its_install_update_and_delete_to_nekt_with_what_the_platform_needs(
    deploy: Callable[..., Stack], nekt: NektNetwork
) -> None:
    delivered = nekts_platform(nekt)
    stack = deploy(nekt, NektEventBusArn=nekts_bus(nekt))
    installed = stack.physical_ids["StackAnnouncement"]

    updated = stack.send_custom_resource("Update", old_properties={"Version": "0.0.9"})
    deleted = stack.send_custom_resource("Delete")

    assert [(event["source"], event["detail-type"], event["detail"]) for event in stack.published()] == [
        (event["source"], event["detail-type"], event["detail"]) for event in delivered()]
    assert [event["detail-type"] for event in delivered()] == ["Stack Installed", "Stack Updated", "Stack Deleted"]
    assert delivered()[0]["detail"] == {
        "account": DEFAULT_ACCOUNT, "region": stack.region, "stackId": stack.stack_id, "stackName": stack.name,
        "version": release_version(), "apiUrl": f"https://{stack.api_id}.execute-api.{stack.region}.amazonaws.com/v1",
        "connectStateMachineArn": stack.state_machine_arns["ConnectStateMachine"],
        "disconnectStateMachineArn": stack.state_machine_arns["DisconnectStateMachine"],
        "checkPathStateMachineArn": stack.state_machine_arns["CheckPathStateMachine"]}
    # One physical id throughout: a new one would make CloudFormation replace the resource (a Delete of the old).
    assert installed == updated["PhysicalResourceId"] == deleted["PhysicalResourceId"]


def test_the_function_may_put_on_its_own_default_bus_only(
    strict: StrictAws, deploy: Callable[..., Stack], nekt: NektNetwork
) -> None:
    """Its role allows the default bus alone; and AWS documents another account's bus as a rule's target, not as
    PutEvents' (the strict rule put-events-own-buses refuses it whatever the role)."""
    bus = nekts_bus(nekt)
    stack = deploy(nekt, NektEventBusArn=bus)
    entry = {"Source": "nekt.peering", "DetailType": "Stack Installed", "Detail": "{}"}
    events = boto3.client("events", region_name=stack.region)

    with acting_as(stack.role_arns["AnnounceStackFunction"]):
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
        for elsewhere in ("other", bus):
            with pytest.raises(ClientError, match="AccessDeniedException"):
                events.put_events(Entries=[{**entry, "EventBusName": elsewhere}])
    # Whoever calls: another account's bus is a rule's target, never PutEvents' (moto would put the event on the
    # caller's own bus of that name).
    with pytest.raises(ClientError, match="through a rule whose target it is"):
        events.put_events(Entries=[{**entry, "EventBusName": bus}])
    with strict.relax("put-events-own-buses"):
        assert events.put_events(Entries=[{**entry, "EventBusName": bus}])["FailedEntryCount"] == 0


def test_a_failed_announcement_fails_an_install_with_the_reason_and_never_an_update_or_a_delete(
    aws: None, nekt: NektNetwork
) -> None:
    stack = Stack({**nekt.stack_parameters(), **FAST_WAITS, "NektEventBusArn": nekts_bus(nekt)})
    try:
        stack.deploy()
        assert stack.response_urls is not None
        for request_type, status in (("Create", "FAILED"), ("Update", "SUCCESS"), ("Delete", "SUCCESS")):
            # A request missing its properties: answered all the same (an update's rollback is an Update again,
            # a failed install's a Delete: neither may be stuck).
            request = custom_resource_request(
                request_type, stack.response_urls, stack.stack_id, "StackAnnouncement", "Custom::StackAnnouncement",
                {"ServiceToken": stack.function_arns["AnnounceStackFunction"]}, stack.physical_ids["StackAnnouncement"])
            request["ResourceProperties"] = {}
            stack.invoke("AnnounceStackFunction", request)
            answer = stack.response_urls.answer(request)
            assert (answer["Status"], answer["PhysicalResourceId"]) == (status, stack.physical_ids["StackAnnouncement"])
            assert "retry the stack operation" in answer["Reason"]
    finally:
        stack.close()
    with pytest.raises(CustomResourceFailed, match="no answer"):  # and CloudFormation's side tells a missing answer
        stack.response_urls.answer({**request, "RequestId": "never-sent"})


def test_without_nekts_bus_there_is_no_announcement(deploy: Callable[..., Stack], nekt: NektNetwork) -> None:
    stack = deploy(nekt)

    assert "AnnounceStackFunction" not in stack.function_arns and stack.custom_resources() == []
    assert not [function for function in boto3.client("lambda", region_name=stack.region).list_functions()[
        "Functions"] if "AnnounceStack" in function["FunctionName"]]
    assert stack.published() == []
