"""The whole loop as its users run it, from one build: Nekt releases it and onboards the customer (the Nekt-account
stack by moto's CloudFormation from the release); the customer's stack is installed from the quick-create link's
template URL and parameters, its code the released package's; Nekt's bus hears the install; the platform connects
through the installed API and hears the result; a second release updates the stack with the connection in its
registry, which survives and disconnects cleanly. And `make demo-install`, which shows the same loop to a person.

moto's CloudFormation cannot create the customer's stack (it applies no AWS::Serverless transform, and its state
machines take no S3 definition): emulator.stack.Stack stands in for it, deploying the released template and the
objects it names from the release's bucket (emulator.installed_release; docs/deploying.md)."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from emulator import demo_install
from emulator.installed_release import (
    PLATFORM_LOG_GROUP,
    QuickCreate,
    create_release_buckets,
    installed_template,
    nekt_client,
    nekts_platform,
    package_modules,
    release,
    released_code,
    released_object,
)
from emulator.lambda_runtime import load_handler
from emulator.stack import DEFAULT_ACCOUNT, Stack
from emulator.template import ROOT
from emulator.topology import NEKT_ACCOUNT, NektNetwork, create_database, create_nekt_network
from nekt_peering_cli.onboarding import Aws, Customer, Nekt, onboard
from nekt_peering_cli.release import load_template, release_version
from tests.emulated import FAST_WAITS, Api

PREFIX = "nekt-releases"
PLATFORM = f"arn:aws:iam::{NEKT_ACCOUNT}:role/nekt-platform"
REGION = "us-east-2"  # the database's, where the customer's stack runs; Nekt's VPC is in us-east-1
INPUT = {"database": {"identifier": "orders-db", "region": REGION}}


def next_version_of(build_dir: Path, directory: Path) -> Path:
    """The same build as the next version would be (pyproject.toml's version, make openapi, make build): its
    template's Release mapping says 0.1.1 where it said 0.1.0, in a checkout's layout of its own. The code is
    the same; the template, the definitions' substitutions and the events say the new version."""
    build = directory / ".aws-sam" / "build"
    shutil.copytree(build_dir, build, symlinks=True)
    for source in ("statemachine", "api"):
        (directory / source).symlink_to(ROOT / source)
    template = load_template(build / "template.yaml")
    major, minor, patch = release_version(template).split(".")
    template["Mappings"]["Release"]["Stack"]["Version"] = f"{major}.{minor}.{int(patch) + 1}"
    (build / "template.yaml").write_text(json.dumps(template))  # JSON is YAML: the build's template, read as it is
    return build


def released_package(template_url: str) -> dict[str, bytes]:
    """The functions' package the released template names, file by file."""
    code_uri = json.loads(released_object(template_url, "template.json"))["Resources"]["ApiFunction"][
        "Properties"]["CodeUri"]
    package = released_object(template_url, "code/" + code_uri.rpartition("/code/")[2])
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def assert_ran_the_released_package(stack: Stack, code_dir: Path, package: dict[str, bytes]) -> None:
    """Every nekt_peering module loaded while the stack ran (each handler that ran among them) is a file of the
    released package, its bytecode byte for byte the release's zip's; none is from functions/."""
    modules = package_modules()
    handlers = {stack.template.functions()[call.logical_id].rpartition(".")[0]
                for call in stack.runtime.invocations}
    assert handlers and handlers <= set(modules)
    for name, module in modules.items():
        path = Path(str(module.__file__))
        assert path.is_relative_to(code_dir), f"{name} was loaded from {path}"
        assert path.suffix == ".pyc" and path.read_bytes() == package[path.relative_to(code_dir).as_posix()]


def registry(stack: Stack) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb", region_name=stack.region).scan(
        TableName=next(iter(stack.tables.values())))["Items"]
    return sorted(items, key=json.dumps)


def peerings(nekt: NektNetwork) -> dict[str, list[str]]:
    """The peerings each account sees, with their status."""
    customer = boto3.client("ec2", region_name=REGION)
    nekt_side = nekt_client("ec2", nekt.region)
    return {side: sorted(f"{peering['VpcPeeringConnectionId']}:{peering['Status']['Code']}"
                         for peering in client.describe_vpc_peering_connections()["VpcPeeringConnections"])
            for side, client in (("customer", customer), ("nekt", nekt_side))}


def test_a_customer_installs_from_the_release_connects_and_upgrades_keeping_the_connection(
        aws: None, release_build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nekt's VPC (its accepter role made for another customer: onboard makes this one's, by CloudFormation).
    nekt = create_nekt_network(database_account="999988887777")
    create_release_buckets(PREFIX, [nekt.region, REGION])
    delivered = nekts_platform(nekt)
    first = release(release_build, [nekt.region, REGION], PREFIX)
    create_database(region=REGION)

    onboarded = onboard(Customer(DEFAULT_ACCOUNT, REGION), Nekt(nekt.region, nekt.vpc_id, nekt.private_route_table_id,
                                                                 PLATFORM, PREFIX), first,
                        Aws(nekt_client, poll_seconds=0))

    # The customer opens the link: the template URL and every parameter come from it, nothing else.
    link = QuickCreate.of(onboarded.link)
    template = installed_template(link.template_url, tmp_path / "installed")
    stack = Stack({**link.parameters, **FAST_WAITS}, region=REGION, name=link.stack_name, template=template)
    try:
        with released_code(template.code_dir()):
            stack.deploy()
            for name, value in stack.environment("ApiFunction").items():
                monkeypatch.setenv(name, value)
            monkeypatch.setenv("AWS_REGION", stack.region)
            api = Api(stack, load_handler(template.functions()["ApiFunction"]))

            accepted = api.call("POST", "/connections", INPUT)
            connected = stack.wait(accepted.body["executionArn"])

            assert accepted.status == 202 and connected.status == "SUCCEEDED", connected.cause
            assert api.call("GET", "/connections/orders-db").body["status"] == "CONNECTED"
            assert_ran_the_released_package(stack, template.code_dir(), released_package(link.template_url))
        assert [(event["detail-type"], event["detail"]["version"]) for event in delivered()] == [
            ("Stack Installed", first), ("Connection Connected", first)]
        assert delivered()[1]["detail"] == connected.output | {"version": first}
        before = {"registry": registry(stack), "peerings": peerings(nekt)}
        assert [status.rpartition(":")[2] for status in before["peerings"]["customer"]] == ["active"]

        # A second release updates the installed stack: its template URL, the same parameters.
        second_build = next_version_of(release_build, tmp_path / "next")
        second = release(second_build, [nekt.region, REGION], PREFIX)
        second_url = link.template_url.replace(f"/{first}/", f"/{second}/")
        updated = installed_template(second_url, tmp_path / "updated")
        stack.runtime.invocations.clear()
        with released_code(updated.code_dir()):
            stack.update(updated)
            api = Api(stack, load_handler(updated.functions()["ApiFunction"]))

            assert {"registry": registry(stack), "peerings": peerings(nekt)} == before
            assert api.call("GET", "/connections/orders-db").body["status"] == "CONNECTED"
            deleting = api.call("DELETE", "/connections/orders-db")
            disconnected = stack.wait(deleting.body["executionArn"])

            assert deleting.status == 202 and disconnected.status == "SUCCEEDED", disconnected.cause
            assert api.call("GET", "/connections/orders-db").body["status"] == "DISCONNECTED"
            assert_ran_the_released_package(stack, updated.code_dir(), released_package(second_url))
        assert [(event["detail-type"], event["detail"]["version"]) for event in delivered()[2:]] == [
            ("Stack Updated", second), ("Connection Disconnected", second)]
        assert delivered()[2]["detail"]["apiUrl"] == delivered()[0]["detail"]["apiUrl"]
        assert [status.rpartition(":")[2] for status in peerings(nekt)["customer"]] == ["deleted"]
    finally:
        stack.close()


def test_make_demo_install_shows_the_loop_and_leaves_both_accounts_as_it_says(
        aws: None, release_build: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert demo_install.run(release_build, tmp_path, poll_seconds=0) == 0

    out = capsys.readouterr().out
    version = release_version(load_template(release_build / "template.yaml"))
    assert f"$ nekt-peering onboard {DEFAULT_ACCOUNT} --database-region {REGION} --release {version}" in out
    assert "#/stacks/quickcreate?templateURL=https%3A%2F%2Fnekt-releases-us-east-2.s3.us-east-2" in out
    for step in ("4. Nekt's bus hears the install: Stack Installed from nekt.peering:",
                 "6. Nekt's bus hears the result: Connection Connected from nekt.peering:",
                 "8. Nekt's bus hears that result too: Connection Disconnected from nekt.peering:"):
        assert step in out
    assert out.count("the execution SUCCEEDED") == 2 and '   status: "CONNECTED"' in out
    # Nekt's account: the customer's accepter stack, and the three events on its platform's log group.
    nekt_stack = nekt_client("cloudformation", "us-east-1").describe_stacks(
        StackName=f"nekt-peering-accepter-{DEFAULT_ACCOUNT}")["Stacks"][0]
    assert nekt_stack["StackStatus"] == "CREATE_COMPLETE"
    events = nekt_client("logs", "us-east-1").filter_log_events(logGroupName=PLATFORM_LOG_GROUP)["events"]
    assert sorted(json.loads(event["message"])["detail-type"] for event in events) == [
        "Connection Connected", "Connection Disconnected", "Stack Installed"]
    # The customer's account: the peering deleted, no route to it left, the registry saying DISCONNECTED.
    ec2 = boto3.client("ec2", region_name=REGION)
    assert [peering["Status"]["Code"] for peering in ec2.describe_vpc_peering_connections()[
        "VpcPeeringConnections"]] == ["deleted"]
    assert not [route for table in ec2.describe_route_tables()["RouteTables"] for route in table["Routes"]
                if "VpcPeeringConnectionId" in route]
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=boto3.client(
        "dynamodb", region_name=REGION).list_tables()["TableNames"][0])["Items"]
    assert [item["state"]["S"] for item in items if "state" in item] == ["DISCONNECTED"]
