"""`make demo-install`: the onboarding loop, from a release to a connection, on an emulated AWS in process.

Nekt publishes a build (`make build`, in .aws-sam/build) as a release to its buckets, and onboards the customer's
account with `nekt-peering onboard`, which prints the quick-create link; the customer's stack is installed from
that link's template URL and parameters, its code the released package's; Nekt's bus hears Stack Installed; the
platform connects a private PostgreSQL through the installed API and hears the result on its bus, then
disconnects it. moto's CloudFormation cannot create the customer's stack (docs/aws-fidelity.md): emulator.stack
deploys the released template and the objects it names, read from the release's bucket (emulator.installed_release).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any
from unittest import mock

from emulator.apigateway import rest_event
from emulator.aws import emulated_aws
from emulator.demo import DEMO_ENVIRONMENT, _cli
from emulator.installed_release import (
    QuickCreate,
    create_release_buckets,
    installed_template,
    nekts_platform,
    release,
    released_code,
)
from emulator.lambda_runtime import LambdaContext, load_handler
from emulator.stack import DEFAULT_ACCOUNT, Stack
from emulator.strict import acting_as
from emulator.template import ROOT
from emulator.topology import NEKT_ACCOUNT, account_session, create_database, create_nekt_network

PREFIX = "nekt-releases"
PLATFORM = f"arn:aws:iam::{NEKT_ACCOUNT}:role/nekt-platform"
REGION = "us-east-2"  # the database's, where the customer's stack runs; Nekt's VPC is in us-east-1
DATABASE = "orders-db"
BUILD = ROOT / ".aws-sam" / "build"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo-install", description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=BUILD,
                        help="a `make build` output in a checkout's layout (default: this checkout's)")
    parser.add_argument("--poll-seconds", type=int, default=1,
                        help="the stack's PollIntervalSeconds (seconds between two checks of the peering status)")
    options = parser.parse_args(argv)
    if not (options.build / "template.yaml").is_file():
        print(f"error: no build in {options.build}: run `make build` (it needs a python3.13, the functions' "
              "runtime, on PATH or under pyenv's versions)", file=sys.stderr)
        return 1
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    with mock.patch.dict(os.environ, DEMO_ENVIRONMENT), emulated_aws(), \
            tempfile.TemporaryDirectory(prefix="demo-install-") as directory:
        return run(options.build, Path(directory), options.poll_seconds)


def run(build: Path, directory: Path, poll_seconds: int) -> int:
    """The loop on the emulated AWS already running in this process; the installed stack's files in `directory`."""
    nekt = create_nekt_network(database_account="999988887777")  # Nekt's VPC, onboarded for another customer
    create_release_buckets(PREFIX, [nekt.region, REGION])
    delivered = nekts_platform(nekt)
    database = create_database(DATABASE, region=REGION)
    print("Emulated AWS (moto, in this process): no AWS account is used.\n")
    print(f"Nekt account {NEKT_ACCOUNT} ({nekt.region}): nekt-vpc {nekt.vpc_id}; a rule on its default bus sends "
          "every nekt.peering event to the log group Nekt's platform reads.")
    print(f"Customer account {DEFAULT_ACCOUNT} ({REGION}): private PostgreSQL {DATABASE} in {database.vpc_id}, "
          "no stack of Nekt's yet.\n")

    version = release(build, [nekt.region, REGION], PREFIX)
    print(f"1. Nekt releases {build} as version {version} (make release): to s3://{PREFIX}-{nekt.region} and "
          f"s3://{PREFIX}-{REGION}.\n")

    print("2. Nekt's operator onboards the customer's account, with the Nekt account's credentials:")
    output = StringIO()
    with _credentials_of(NEKT_ACCOUNT, nekt.region), redirect_stdout(output):
        code = _cli("onboard", DEFAULT_ACCOUNT, "--database-region", REGION, "--release", version,
                    "--nekt-region", nekt.region, "--nekt-vpc-id", nekt.vpc_id,
                    "--nekt-route-table-id", nekt.private_route_table_id, "--platform-principal-arn", PLATFORM,
                    "--bucket-prefix", PREFIX)
    print(output.getvalue(), end="")
    if code != 0:
        return code
    link = QuickCreate.of(next(line for line in output.getvalue().splitlines() if "#/stacks/quickcreate?" in line))

    print(f"3. The customer opens the link: CloudFormation reads the template at {link.template_url} and creates "
          f"stack {link.stack_name} in {REGION} with the link's {len(link.parameters)} parameters.")
    template = installed_template(link.template_url, directory / "installed")
    stack = Stack({**link.parameters, "PollIntervalSeconds": str(poll_seconds)}, region=REGION,
                  name=link.stack_name, template=template)
    try:
        with released_code(template.code_dir()):
            stack.deploy()
            print(f"   installed: {len(stack.function_arns)} functions, {len(stack.state_machine_arns)} state "
                  "machines, the released package's code\n")
            _show(delivered, 0, "4. Nekt's bus hears the install")
            api = _api(stack, load_handler(template.functions()["ApiFunction"]))

            print(f"5. Nekt's platform connects {DATABASE} through the installed API:")
            if _call_and_wait(stack, api, "POST", "/connections",
                              {"database": {"identifier": DATABASE, "region": REGION}}) != "SUCCEEDED":
                return 1
            _show(delivered, 1, "6. Nekt's bus hears the result")

            print(f"7. Nekt's platform disconnects {DATABASE} through the installed API:")
            if _call_and_wait(stack, api, "DELETE", f"/connections/{DATABASE}") != "SUCCEEDED":
                return 1
            _show(delivered, 2, "8. Nekt's bus hears that result too")
        print("Done: the stack installed from the release's link connected and disconnected, and Nekt's bus heard "
              "each step.")
        return 0
    finally:
        stack.close()


def _credentials_of(account_id: str, region: str) -> Any:
    """The environment's credentials made those of `account_id`, as an operator's profile for it would be."""
    credentials = account_session(account_id, region).get_credentials()
    assert credentials is not None  # account_session's are explicit
    return mock.patch.dict(os.environ, {"AWS_ACCESS_KEY_ID": credentials.access_key,
                                        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
                                        "AWS_SESSION_TOKEN": credentials.token})


def _api(stack: Stack, handler: Callable[[dict[str, Any], Any], Any]) -> Callable[..., tuple[int, Any]]:
    """The installed ApiFunction, called as API Gateway calls it: a REST proxy event, with its role."""
    def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        event = rest_event(method, path, json.dumps(body) if body is not None else None)
        context = LambdaContext(function_name="ApiFunction", invoked_function_arn="arn:aws:lambda:::ApiFunction")
        with mock.patch.dict(os.environ, {**stack.environment("ApiFunction"), "AWS_REGION": stack.region}), \
                acting_as(stack.role_arns["ApiFunction"]):
            response: dict[str, Any] = handler(event, context)
        return response["statusCode"], json.loads(response["body"])
    return call


def _call_and_wait(stack: Stack, api: Callable[..., tuple[int, Any]], method: str, path: str,
                   body: Any = None) -> str:
    print(f"   {method} {path}" + (f" {json.dumps(body)}" if body is not None else ""))
    status, answer = api(method, path, body)
    print(f"   -> {status} {json.dumps(answer)}")
    if status != 202:
        return "REFUSED"
    execution = stack.wait(answer["executionArn"])
    print(f"   the execution {execution.status}" + (f": {execution.cause}" if execution.cause else "") + "\n")
    return str(execution.status)


# What the demo prints of an event's detail (every field: docs/api.md).
SHOWN = ("stackName", "version", "apiUrl", "status", "mode", "peeringConnectionId", "path", "removed")


def _show(delivered: Callable[[], list[dict[str, Any]]], index: int, title: str) -> None:
    event = delivered()[index]
    print(f"{title}: {event['detail-type']} from {event['source']}:")
    for name in SHOWN:
        if name in event["detail"]:
            print(f"   {name}: {json.dumps(event['detail'][name])}")
    print()


if __name__ == "__main__":
    raise SystemExit(main())
