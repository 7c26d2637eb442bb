"""What the code refuses whatever the input, end to end on the emulator: a peering request from
another VPC or account is never accepted, a role that cannot be assumed is AccessDenied with the
remedy, a stage handed a wider rule or route refuses it, and no secret reaches a log, an output,
the history or a result event."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.accounts import aws_calls, snapshot, wait_for_peering
from emulator.lambda_runtime import FUNCTION_ENVIRONMENT, LambdaContext, load_handler
from emulator.stack import DEFAULT_ACCOUNT, Stack
from emulator.topology import EXTERNAL_ID, NektNetwork, account_session, create_database
from nekt_peering.core import aws
from nekt_peering.core.errors import ChangeRefused, InvalidInput, VerificationFailed
from nekt_peering.handlers.authorize_ingress import authorize_ingress
from nekt_peering.handlers.stage import logger as stage_logger
from nekt_peering.handlers.update_routes import update_routes
from tests.e2e.test_connect_workflow import assert_failed, assert_succeeded, connect_input, ingress_rules

OTHER_ACCOUNT = "222222222222"
DB_REGION = "us-east-2"


def places(nekt: NektNetwork) -> list[tuple[str, str]]:
    return [(DEFAULT_ACCOUNT, DB_REGION), (nekt.account_id, nekt.region), (OTHER_ACCOUNT, DB_REGION)]


# --- a peering from an unexpected VPC or account is never accepted -------------------------------


@pytest.mark.parametrize("account", [DEFAULT_ACCOUNT, OTHER_ACCOUNT], ids=["another-vpc", "another-account"])
def test_a_request_from_an_unexpected_vpc_is_not_accepted_and_stays_pending(
    deploy: Any, nekt: NektNetwork, account: str
) -> None:
    create_database()
    stack = deploy(nekt)
    rogue_ec2 = account_session(account, DB_REGION).client("ec2")
    rogue_vpc = rogue_ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    rogue = rogue_ec2.create_vpc_peering_connection(
        VpcId=rogue_vpc, PeerVpcId=nekt.vpc_id, PeerOwnerId=nekt.account_id, PeerRegion=nekt.region,
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    # A request that has waited there a while: AWS shows it pending-acceptance to the Nekt account.
    wait_for_peering(account_session(nekt.account_id, nekt.region).client("ec2"), rogue, "pending-acceptance")
    before = snapshot(places(nekt))

    def hand_over_the_rogue_request(event: dict[str, Any], result: dict[str, Any]) -> None:
        # What an edited execution or a swapped request would pass on.
        result |= {"peeringConnectionId": rogue, "status": "pending-acceptance"}

    stack.runtime.after_invoke("RequestPeeringFunction", hand_over_the_rogue_request)
    execution = stack.run(connect_input())

    message = assert_failed(execution, "PeeringMismatch")
    assert rogue in message and rogue_vpc in message and "was not accepted" in message
    assert "requester VPC is" in message
    if account != DEFAULT_ACCOUNT:
        assert f"requester account is {account}" in message
    nekt_view = account_session(nekt.account_id, nekt.region).client("ec2").describe_vpc_peering_connections(
        VpcPeeringConnectionIds=[rogue])["VpcPeeringConnections"][0]
    assert nekt_view["Status"]["Code"] == "pending-acceptance"
    assert "Accept peering" in execution.states_entered()
    assert snapshot(places(nekt)) == before, "the workflow's own request is withdrawn, the rogue one untouched"


# --- a role that cannot be assumed ---------------------------------------------------------------


def test_an_accepter_role_that_cannot_be_assumed_is_access_denied_with_the_remedy(
    deploy: Any, nekt: NektNetwork
) -> None:
    create_database()
    stack = deploy(nekt)
    before = snapshot(places(nekt))

    def refuse_assume_role(service: str, operation: str) -> tuple[str, int] | None:
        return ("AccessDenied", 403) if (service, operation) == ("sts", "AssumeRole") else None

    with aws_calls(refuse_assume_role):
        execution = stack.run(connect_input())

    message = assert_failed(execution, "AccessDenied")
    assert f"could not assume {nekt.accepter_role_arn}" in message
    assert "trust policy" in message and "sts:ExternalId" in message and "NektExternalId" in message
    assert EXTERNAL_ID not in (execution.cause or "")
    assert execution.states_entered()[-1] == "Failed before any change"
    assert snapshot(places(nekt)) == before


# --- a stage handed a wider change refuses it ----------------------------------------------------


@pytest.fixture
def planned(deploy: Any, nekt: NektNetwork) -> dict[str, Any]:
    """The real state of a connect just before Authorize ingress (a dry run's discovery and plan)."""
    create_database()
    stack = deploy(nekt)
    discovery = _invoke(stack, "DiscoverFunction", {
        "input": connect_input(dryRun=True), "settings": _settings(stack), "executionId": "arn:test"})
    plan = _invoke(stack, "PreflightFunction", {"discovery": discovery, "executionId": "arn:test"})
    return {"discovery": discovery, "plan": plan, "executionId": "arn:test"}


def _settings(stack: Stack) -> dict[str, Any]:
    definition = json.loads(stack.sfn.describe_state_machine(
        stateMachineArn=stack.state_machine_arns["ConnectStateMachine"])["definition"])
    return dict(definition["States"]["Load settings"]["Parameters"]["settings"])


def _invoke(stack: Stack, logical_id: str, event: dict[str, Any]) -> Any:
    """The handler itself (its named errors raised here), with the environment template.yaml gives it."""
    handler = load_handler(stack.template.functions()[logical_id])
    with FUNCTION_ENVIRONMENT.of_function(stack.environment(logical_id)):
        return handler(event, LambdaContext(function_name=logical_id, invoked_function_arn=f"arn:{logical_id}"))


@pytest.mark.parametrize(("field", "value", "error"), [
    ("cidr", "0.0.0.0/0", InvalidInput),
    ("cidr", "::/0", InvalidInput),
    ("cidr", "10.0.0.0/8", InvalidInput),
    ("cidr", "10.100.0.0/16", ChangeRefused),
    ("cidr", "100.27.146.35/32", ChangeRefused),
    ("port", 22, ChangeRefused),
    ("port", 0, InvalidInput),
    ("groupId", "sg-0123456789abcdef0", ChangeRefused),
])
def test_authorize_ingress_handed_a_wider_or_other_rule_refuses_it_and_changes_nothing(
    planned: dict[str, Any], nekt: NektNetwork, field: str, value: Any, error: type[Exception]
) -> None:
    group_id = planned["discovery"]["database"]["securityGroupId"]
    planned["plan"]["ingress"][field] = value

    with pytest.raises(error) as raised:
        authorize_ingress(planned, LambdaContext("AuthorizeIngressFunction", "arn:test"))

    assert str(value) in str(raised.value) or field in str(raised.value)
    assert ingress_rules(DB_REGION, group_id) == []


def test_a_tampered_nekt_cidr_wider_than_a_vpc_is_refused_before_any_call(planned: dict[str, Any]) -> None:
    planned["discovery"]["nekt"] |= {"cidr": "0.0.0.0/0", "cidrs": ["0.0.0.0/0"]}
    planned["plan"]["ingress"]["cidr"] = "0.0.0.0/0"

    with pytest.raises(InvalidInput, match=r"discovery\.nekt\.cidr"):
        authorize_ingress(planned, LambdaContext("AuthorizeIngressFunction", "arn:test"))


def test_a_nekt_side_other_than_the_settings_is_refused(planned: dict[str, Any]) -> None:
    planned["discovery"]["nekt"]["vpcId"] = "vpc-0123456789abcdef0"

    with pytest.raises(InvalidInput, match=r"discovery\.nekt\.vpcId is 'vpc-0123456789abcdef0', but the settings"):
        authorize_ingress(planned, LambdaContext("AuthorizeIngressFunction", "arn:test"))


def test_update_routes_handed_a_default_route_refuses_every_route(planned: dict[str, Any], nekt: NektNetwork) -> None:
    before = snapshot(places(nekt))
    planned["peering"] = {"peeringConnectionId": "pcx-0123456789abcdef0", "status": "active", "polls": 0}
    planned["plan"]["routes"][-1]["destinationCidr"] = "10.0.0.0/16"  # the database's own VPC, on its own side

    with pytest.raises(ChangeRefused, match="10.0.0.0/16 in rtb-"):
        update_routes(planned, LambdaContext("UpdateRoutesFunction", "arn:test"))
    planned["plan"]["routes"][-1]["destinationCidr"] = "0.0.0.0/0"
    with pytest.raises(InvalidInput, match=r"plan\.routes\[3\]\.destinationCidr"):
        update_routes(planned, LambdaContext("UpdateRoutesFunction", "arn:test"))

    assert snapshot(places(nekt)) == before


# --- no secret in logs, outputs, history or result events ----------------------------------------


class Everything(logging.Handler):
    """Every record, with every attribute Powertools or a formatter could write."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.dumps(record.__dict__, default=repr) + self.format(record))


@pytest.fixture
def all_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Everything]:
    """Every logger at DEBUG, as with POWERTOOLS_LOG_LEVEL=DEBUG and Lambda's log level DEBUG; the event
    logging switch on, as an operator debugging a stage might set it."""
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    capture = Everything()
    root, powertools = logging.getLogger(), logging.getLogger(stage_logger.name)
    saved = root.level, stage_logger.log_level
    root.setLevel(logging.DEBUG)
    stage_logger.setLevel(logging.DEBUG)
    for logger in (root, powertools):
        logger.addHandler(capture)
    yield capture
    for logger in (root, powertools):
        logger.removeHandler(capture)
    root.setLevel(saved[0])
    stage_logger.setLevel(saved[1])


def without_settings(value: Any) -> Any:
    """The execution data with every `settings` object taken out (JSON in strings parsed)."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return without_settings(parsed) if isinstance(parsed, dict | list) else value
    if isinstance(value, dict):
        return {key: without_settings(item) for key, item in value.items() if key != "settings"}
    if isinstance(value, list):
        return [without_settings(item) for item in value]
    return value


def test_no_credential_token_or_external_id_in_logs_outputs_history_or_result_events(
    deploy: Any, nekt: NektNetwork, all_logs: Everything, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    create_database()
    create_database("reports-db", cidr="10.30.0.0/16")
    stack = deploy(nekt)
    assumed: list[str] = []
    real_new_session = aws.new_session

    def spy(**arguments: Any) -> Any:
        assumed.extend(arguments[key] for key in ("aws_secret_access_key", "aws_session_token") if key in arguments)
        return real_new_session(**arguments)

    monkeypatch.setattr(aws, "new_session", spy)

    def fail_reports_db(event: dict[str, Any]) -> None:
        if event["discovery"]["request"]["connectionId"] == "reports-db":
            raise VerificationFailed("the connection is incomplete: (test) a route went missing")

    stack.runtime.before_invoke("VerifyFunction", fail_reports_db)
    executions = [
        stack.run(connect_input()),
        stack.run(connect_input("reports-db")),
        stack.run(connect_input(dryRun=True)),
        stack.run({"connectionId": "orders-db", "region": DB_REGION}, state_machine="DisconnectStateMachine"),
    ]

    assert_succeeded(executions[0])
    assert_failed(executions[1], "VerificationFailed")
    assert executions[3].status == "SUCCEEDED" and executions[3].output["removed"]
    assert assumed, "the cross-account runs assumed the accepter role"
    secrets = [*set(assumed), EXTERNAL_ID]
    captured = capsys.readouterr()
    logs = [line for line in all_logs.lines if not line.startswith('{"name": "moto')] + [captured.out, captured.err]
    assert any("botocore" in line for line in logs), "the capture sees the libraries' records"
    outputs = [json.dumps([e.output, e.error, e.cause]) for e in executions]
    events = [json.dumps(event) for event in stack.published()]
    history = [json.dumps(e.history, default=str) for e in executions]
    for secret in secrets:
        for where, texts in [("a log line", logs), ("an execution output", outputs), ("a result event", events)]:
            assert not [text for text in texts if secret in text], f"a secret is in {where}"
    for secret in assumed:
        assert not [text for text in history if secret in text], "assumed credentials are in the history"
    # The external id travels in the execution data only as the setting the handlers need to assume the
    # role (Load settings substitutes it): anywhere else in the history it would be a leak.
    assert any(EXTERNAL_ID in text for text in history)
    assert not [event for e in executions for event in e.history
                if EXTERNAL_ID in json.dumps(without_settings(json.loads(json.dumps(event, default=str))))]
