"""The strict layer's plumbing: who a call is from, a refusal as AWS sends it, and relaxing a rule."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from emulator.stack import DEFAULT_ACCOUNT
from emulator.strict import AwsError, Call, Rule, StrictAws, acting_as
from emulator.topology import account_session


class Recorder(Rule):
    name = "recorder"

    def __init__(self, refuse: str = "") -> None:
        self.calls: list[Call] = []
        self.answers: list[dict[str, Any]] = []
        self.refuse = refuse

    def before(self, call: Call) -> None:
        self.calls.append(call)
        if call.operation == self.refuse:
            raise AwsError("UnauthorizedOperation", "You are not authorized to perform this operation.", 403)

    def after(self, call: Call, response: dict[str, Any]) -> None:
        self.answers.append(response)


@pytest.fixture
def recorder(strict: StrictAws) -> Recorder:
    rule = Recorder(refuse="CreateVpc")
    strict.rules.insert(0, rule)
    return rule


def test_a_rule_sees_the_caller_s_parameters_account_and_region(recorder: Recorder) -> None:
    boto3.client("ec2", region_name="us-east-2").describe_vpcs(VpcIds=[])
    call = recorder.calls[-1]
    assert (call.service, call.operation, call.params, call.region) == ("ec2", "DescribeVpcs", {"VpcIds": []},
                                                                        "us-east-2")
    assert call.principal.account_id == DEFAULT_ACCOUNT and call.principal.is_harness
    assert "Vpcs" in recorder.answers[-1]


def test_a_refusal_is_the_client_error_aws_sends_and_moto_never_sees_the_call(recorder: Recorder) -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    with pytest.raises(ClientError) as refused:
        ec2.create_vpc(CidrBlock="10.9.0.0/16")
    assert refused.value.response["Error"]["Code"] == "UnauthorizedOperation"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert [vpc for vpc in ec2.describe_vpcs()["Vpcs"] if vpc["CidrBlock"] == "10.9.0.0/16"] == []


def test_relaxing_a_rule_gives_plain_moto(strict: StrictAws, recorder: Recorder) -> None:
    with strict.relax("recorder"):
        boto3.client("ec2", region_name="us-east-1").create_vpc(CidrBlock="10.9.0.0/16")
    with pytest.raises(KeyError, match="no such strict rule"):
        strict.relax("no-such-rule").__enter__()


def test_the_principal_is_the_assumed_role_or_the_function_role_acting_on_this_thread(
    strict: StrictAws, recorder: Recorder,
) -> None:
    with strict.relax("iam"):  # these roles are not deployed: IAM would refuse their calls (test_strict_iam.py)
        _call_as_each_principal(recorder)


def _call_as_each_principal(recorder: Recorder) -> None:
    function_role = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/nekt-peering/stack/DiscoverFunctionRole"
    with acting_as(function_role):
        boto3.client("ec2", region_name="us-east-1").describe_vpcs()
    assert recorder.calls[-1].principal.arn == function_role

    sts = boto3.client("sts", region_name="us-east-1")
    credentials = sts.assume_role(RoleArn="arn:aws:iam::111111111111:role/nekt-peering-accepter",
                                  RoleSessionName="nekt-peering-orders")["Credentials"]
    boto3.client("ec2", region_name="us-east-1", aws_access_key_id=credentials["AccessKeyId"],
                 aws_secret_access_key=credentials["SecretAccessKey"],
                 aws_session_token=credentials["SessionToken"]).describe_vpcs()
    principal = recorder.calls[-1].principal
    assert (principal.account_id, principal.arn, principal.session_name) == (
        "111111111111", "arn:aws:iam::111111111111:role/nekt-peering-accepter", "nekt-peering-orders")

    account_session("111111111111", "us-east-1").client("ec2").describe_vpcs()  # the harness's own role
    assert recorder.calls[-1].principal.is_harness and recorder.calls[-1].account_id == "111111111111"
