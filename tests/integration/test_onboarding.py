"""`nekt-peering onboard` / `offboard` on the emulated Nekt account: the Nekt-account stack created by moto's
CloudFormation from the released template, the ExternalId kept in SSM alone, the customer admitted on Nekt's bus,
the quick-create link parsed back; a second onboard converges; bad inputs create nothing; offboard refuses while
a peering of the customer's is live, then removes everything."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from emulator.stack import DEFAULT_ACCOUNT
from emulator.topology import NEKT_ACCOUNT, NektNetwork, account_session, create_nekt_network
from nekt_peering_cli import onboarding
from nekt_peering_cli.app import app
from nekt_peering_cli.onboarding import (
    Aws,
    Customer,
    CustomerHasConnections,
    InvalidAccountId,
    InvalidStackName,
    Nekt,
    StackFailed,
    UnknownRegion,
    offboard,
    onboard,
)
from nekt_peering_cli.release import Location, ReleaseNotFound, load_template, publish, release_version

CUSTOMER = "222233334444"
PREFIX = "nekt-releases"
PLATFORM = f"arn:aws:iam::{NEKT_ACCOUNT}:role/nekt-platform"
# What Nekt fills in the customer's link, beyond the template's parameters without a default.
NEKT_FILLS = {"NektRouteTableId", "NektAccepterRoleArn", "NektExternalId", "NektEventBusArn"}


def nekt_client(service: str, region: str) -> Any:
    return account_session(NEKT_ACCOUNT, region).client(service)


@pytest.fixture
def clients() -> Aws:
    return Aws(nekt_client, poll_seconds=0)


@pytest.fixture
def version(aws: None, release_build: Path) -> str:
    """The build, released in Nekt's release buckets (Nekt's account) of the Nekt VPC's and the database's Regions."""
    version = release_version(load_template(release_build / "template.yaml"))
    for region in ("us-east-1", "eu-west-1"):
        where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        nekt_client("s3", region).create_bucket(Bucket=f"{PREFIX}-{region}", **where)
    publish(release_build, version, ["us-east-1", "eu-west-1"], PREFIX, lambda region: nekt_client("s3", region))
    return version


def nekt_side(nekt: NektNetwork) -> Nekt:
    return Nekt(nekt.region, nekt.vpc_id, nekt.private_route_table_id, PLATFORM, PREFIX)


def nekt_state(nekt: NektNetwork) -> dict[str, Any]:
    """What onboarding may change in the Nekt account: stacks, roles, SSM parameters, the bus's policy."""
    cloudformation, iam = nekt_client("cloudformation", nekt.region), nekt_client("iam", nekt.region)
    return {
        "stacks": sorted((stack["StackName"], stack["StackStatus"]) for stack in
                         cloudformation.describe_stacks()["Stacks"] if stack["StackStatus"] != "DELETE_COMPLETE"),
        "roles": sorted(role["RoleName"] for role in iam.list_roles()["Roles"]),
        "parameters": sorted(parameter["Name"] for parameter in
                             nekt_client("ssm", nekt.region).describe_parameters()["Parameters"]),
        "bus": nekt_client("events", nekt.region).describe_event_bus(Name="default").get("Policy"),
    }


def test_onboard_creates_the_nekt_account_stack_from_the_release_and_a_link_that_parses_back(
        nekt: NektNetwork, version: str, clients: Aws) -> None:
    customer = Customer(CUSTOMER, "eu-west-1")

    done = onboard(customer, nekt_side(nekt), version, clients)

    # The Nekt-account stack, by CloudFormation from the Nekt VPC's Region's release.
    cloudformation = nekt_client("cloudformation", nekt.region)
    (stack,) = cloudformation.describe_stacks(StackName=f"nekt-peering-accepter-{CUSTOMER}")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE" and done.stack_action == "created"
    released = Location(PREFIX, version, nekt.region)
    released_body = nekt_client("s3", nekt.region).get_object(
        Bucket=released.bucket, Key=released.key("nekt-account/template.json"))["Body"].read()
    # botocore hands a JSON template body back parsed.
    assert cloudformation.get_template(StackName=stack["StackName"])["TemplateBody"] == json.loads(released_body)
    # The ExternalId: generated, kept only as a SecureString in the Nekt account, required by the role's trust.
    parameter = nekt_client("ssm", nekt.region).get_parameter(
        Name=f"/nekt-peering/customers/{CUSTOMER}/external-id", WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString" and len(parameter["Value"]) == 64
    role = nekt_client("iam", nekt.region).get_role(RoleName=f"nekt-peering-accepter-{CUSTOMER}")["Role"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{CUSTOMER}:root"}
    assert trust["Condition"]["StringEquals"]["sts:ExternalId"] == parameter["Value"]
    # The customer's account may put events on Nekt's bus.
    policy = json.loads(nekt_client("events", nekt.region).describe_event_bus(Name="default")["Policy"])
    assert [(statement["Sid"], statement["Action"], statement["Principal"]) for statement in policy["Statement"]] == [
        (f"nekt-peering-{CUSTOMER}", "events:PutEvents", {"AWS": f"arn:aws:iam::{CUSTOMER}:root"})]

    # The link, parsed back: CloudFormation's quick-create page in the database's Region.
    link = urlparse(done.link)
    assert (link.scheme, link.netloc, link.path) == ("https", "eu-west-1.console.aws.amazon.com",
                                                     "/cloudformation/home")
    assert dict(parse_qsl(link.query)) == {"region": "eu-west-1"}
    page, _, query = link.fragment.partition("?")
    assert page == "/stacks/quickcreate"
    fields = dict(parse_qsl(query))
    assert fields.pop("stackName") == "nekt-peering"
    template_url = fields.pop("templateURL")
    customer_release = Location(PREFIX, version, "eu-west-1")
    assert template_url == customer_release.template_url
    template = json.loads(nekt_client("s3", "eu-west-1").get_object(
        Bucket=customer_release.bucket, Key=customer_release.key("template.json"))["Body"].read())
    without_default = {name for name, spec in template["Parameters"].items() if "Default" not in spec}
    assert {name.removeprefix("param_") for name in fields} == without_default | NEKT_FILLS
    assert all(not template["Parameters"][name.removeprefix("param_")].get("NoEcho") for name in fields)
    assert fields == {"param_NektAccountId": NEKT_ACCOUNT, "param_NektRegion": nekt.region,
                      "param_NektVpcId": nekt.vpc_id, "param_NektRouteTableId": nekt.private_route_table_id,
                      "param_NektAccepterRoleArn": role["Arn"], "param_NektExternalId": parameter["Value"],
                      "param_NektPlatformPrincipalArn": PLATFORM,
                      "param_NektEventBusArn": f"arn:aws:events:{nekt.region}:{NEKT_ACCOUNT}:event-bus/default"}
    assert done.capabilities == ("CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND")

    # Onboarding again converges: the same ExternalId, stack, statement and link.
    before = nekt_state(nekt)
    again = onboard(customer, nekt_side(nekt), version, clients)
    assert again.stack_action == "unchanged" and again.link == done.link
    assert nekt_state(nekt) == before


def test_onboarding_again_with_other_settings_updates_the_stack_and_keeps_the_external_id(
        nekt: NektNetwork, version: str, clients: Aws) -> None:
    customer = Customer(CUSTOMER, "eu-west-1")
    first = onboard(customer, nekt_side(nekt), version, clients)
    other_table = nekt_client("ec2", nekt.region).create_route_table(VpcId=nekt.vpc_id)["RouteTable"]["RouteTableId"]
    moved = Nekt(nekt.region, nekt.vpc_id, other_table, PLATFORM, PREFIX)

    again = onboard(customer, moved, version, clients)

    assert (first.stack_action, again.stack_action) == ("created", "updated")
    assert again.parameters["NektExternalId"] == first.parameters["NektExternalId"]
    assert again.parameters["NektRouteTableId"] == other_table
    (stack,) = nekt_client("cloudformation", nekt.region).describe_stacks(
        StackName=f"nekt-peering-accepter-{CUSTOMER}")["Stacks"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {"ParameterKey": "NektRouteTableId", "ParameterValue": other_table} in stack["Parameters"]


@pytest.mark.parametrize(("account", "region", "release", "stack", "error", "message"), [
    ("22223333444", "eu-west-1", None, "nekt-peering", InvalidAccountId, "is not 12 digits"),
    ("2222-3333-4444", "eu-west-1", None, "nekt-peering", InvalidAccountId, "is not 12 digits"),
    (CUSTOMER, "eu-west-1", None, "nekt_peering", InvalidStackName, "is not one CloudFormation takes"),
    (CUSTOMER, "eu-middle-9", None, "nekt-peering", UnknownRegion, "is none AWS has"),
    (CUSTOMER, "eu-west-1", "9.9.9", "nekt-peering", ReleaseNotFound, "no release 9.9.9 in eu-west-1"),
    (CUSTOMER, "ap-south-1", None, "nekt-peering", ReleaseNotFound, "in ap-south-1"),
])
def test_bad_onboard_inputs_are_named_and_create_nothing(
        nekt: NektNetwork, version: str, clients: Aws, account: str, region: str, release: str | None, stack: str,
        error: type[Exception], message: str) -> None:
    before = nekt_state(nekt)

    with pytest.raises(error, match=message):
        onboard(Customer(account, region, stack), nekt_side(nekt), release or version, clients)

    assert nekt_state(nekt) == before


def test_a_stack_cloudformation_cannot_create_is_reported_with_its_reasons(nekt: NektNetwork, version: str) -> None:
    """moto's CloudFormation creates a stack's resources within CreateStack and raises their error there; AWS
    answers CreateStack, then the stack fails and rolls back, its events giving each resource's reason. Those
    answers stand in here, as botocore's model shapes them (a Stubber checks each against it), for the one client
    whose failure moto cannot show; every other call is moto's."""
    now = datetime.now(UTC)
    stack_id = f"arn:aws:cloudformation:us-east-1:{NEKT_ACCOUNT}:stack/nekt-peering-accepter-{CUSTOMER}/1"
    cloudformation = nekt_client("cloudformation", nekt.region)
    stubber = Stubber(cloudformation)
    stubber.add_client_error("describe_stacks", "ValidationError", f"Stack with id nekt-peering-accepter-{CUSTOMER} "
                             "does not exist")
    stubber.add_response("create_stack", {"StackId": stack_id})
    stubber.add_response("describe_stacks", {"Stacks": [{
        "StackId": stack_id, "StackName": f"nekt-peering-accepter-{CUSTOMER}", "CreationTime": now,
        "StackStatus": "ROLLBACK_COMPLETE", "StackStatusReason": "The following resource(s) failed to create: "
                                                                 "[AccepterRole]. Rollback requested by user."}]})
    stubber.add_response("describe_stack_events", {"StackEvents": [
        {"StackId": stack_id, "EventId": "2", "StackName": "s", "LogicalResourceId": "AccepterRole",
         "Timestamp": now, "ResourceStatus": "CREATE_FAILED",
         "ResourceStatusReason": f"nekt-peering-accepter-{CUSTOMER} already exists"},
        {"StackId": stack_id, "EventId": "1", "StackName": "s", "LogicalResourceId": "AccepterRole",
         "Timestamp": now, "ResourceStatus": "CREATE_IN_PROGRESS"}]})
    clients = Aws(lambda service, region: cloudformation if service == "cloudformation"
                      else nekt_client(service, region), poll_seconds=0)

    with stubber, pytest.raises(StackFailed) as failed:
        onboard(Customer(CUSTOMER, "eu-west-1"), nekt_side(nekt), version, clients)

    assert str(failed.value) == (
        f"stack nekt-peering-accepter-{CUSTOMER} is ROLLBACK_COMPLETE (The following resource(s) failed to create: "
        f"[AccepterRole]. Rollback requested by user.): AccepterRole: nekt-peering-accepter-{CUSTOMER} already exists")
    stubber.assert_no_pending_responses()


def test_offboard_refuses_while_a_peering_is_live_then_removes_what_onboard_made(
        nekt: NektNetwork, version: str, clients: Aws) -> None:
    before = nekt_state(nekt)
    customer = Customer(CUSTOMER, "eu-west-1")
    onboard(customer, nekt_side(nekt), version, clients)
    customer_ec2 = account_session(CUSTOMER, nekt.region).client("ec2")
    vpc = customer_ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    peering = customer_ec2.create_vpc_peering_connection(
        VpcId=vpc, PeerVpcId=nekt.vpc_id, PeerOwnerId=NEKT_ACCOUNT)["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    # Older than a moment: the accepter's side sees a peering only after a while (emulator.strict.peerings).
    nekt_client("ec2", nekt.region).describe_vpc_peering_connections()
    onboarded = nekt_state(nekt)

    with pytest.raises(CustomerHasConnections, match=peering):
        offboard(customer, nekt_side(nekt), clients)
    assert nekt_state(nekt) == onboarded

    for _ in range(10):  # a peering is deleted once it is pending acceptance (emulator.strict.peerings)
        described = customer_ec2.describe_vpc_peering_connections(
            Filters=[{"Name": "vpc-peering-connection-id", "Values": [peering]}])["VpcPeeringConnections"]
        if described and described[0]["Status"]["Code"] == "pending-acceptance":
            break
    customer_ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=peering)
    removed = offboard(customer, nekt_side(nekt), clients)

    assert removed == [f"stack nekt-peering-accepter-{CUSTOMER}", f"event bus default's statement nekt-peering-"
                       f"{CUSTOMER}", f"parameter /nekt-peering/customers/{CUSTOMER}/external-id"]
    after = nekt_state(nekt)
    assert after["roles"] == before["roles"] and after["parameters"] == before["parameters"]
    assert after["stacks"] == before["stacks"]
    assert json.loads(after["bus"] or '{"Statement": []}')["Statement"] == []
    assert offboard(customer, nekt_side(nekt), clients) == []  # converges


def test_the_cli_onboards_with_nekts_settings_from_the_environment(
        release_build: Path, aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """`nekt-peering onboard` as Nekt's operator runs it (the credentials' account is Nekt's: here moto's default
    one, which holds the Nekt VPC and the release buckets), then `offboard`."""
    nekt = create_nekt_network(account_id=DEFAULT_ACCOUNT)
    version = release_version(load_template(release_build / "template.yaml"))
    for region in ("us-east-1", "eu-west-1"):
        where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        boto3.client("s3", region_name=region).create_bucket(Bucket=f"{PREFIX}-{region}", **where)
    publish(release_build, version, ["us-east-1", "eu-west-1"], PREFIX,
            lambda region: boto3.client("s3", region_name=region))
    for name, value in {"NEKT_REGION": nekt.region, "NEKT_VPC_ID": nekt.vpc_id,
                        "NEKT_ROUTE_TABLE_ID": nekt.private_route_table_id, "NEKT_PLATFORM_PRINCIPAL_ARN": PLATFORM,
                        "NEKT_RELEASE_BUCKET_PREFIX": PREFIX}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(onboarding, "POLL_SECONDS", 0)

    bad = CliRunner().invoke(app, ["onboard", "2222-3333-4444", "--database-region", "eu-west-1",
                                   "--release", version])
    done = CliRunner().invoke(app, ["onboard", CUSTOMER, "--database-region", "eu-west-1", "--release", version])
    gone = CliRunner().invoke(app, ["offboard", CUSTOMER])

    assert bad.exit_code == 2 and "InvalidAccountId: account id '2222-3333-4444' is not 12 digits" in bad.output
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert f"stack nekt-peering-accepter-{CUSTOMER}: created; account {CUSTOMER} admitted on event bus default" in lines
    assert any(line.startswith("https://eu-west-1.console.aws.amazon.com/cloudformation/home?region=eu-west-1"
                               "#/stacks/quickcreate?templateURL=") for line in lines)
    assert Location(PREFIX, version, "eu-west-1").template_url in lines
    assert "CAPABILITY_IAM, CAPABILITY_AUTO_EXPAND" in done.output
    assert gone.exit_code == 0 and f"account {CUSTOMER} offboarded" in gone.output
