"""Finds a deployed nekt-peering stack the way an operator names it: by stack name, through its
CloudFormation outputs, with the standard AWS credential chain (or a profile)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from nekt_peering.api.connections import Machines
from nekt_peering.core.aws import CLIENT_CONFIG

FALLBACK_STACK = "nekt-peering"
REQUIRED_OUTPUTS = ("ConnectStateMachineArn", "DisconnectStateMachineArn", "ConnectionsTableName")


class Unusable(Exception):
    """The stack cannot be used as named; `exit_code` 2 when the command line itself is at fault."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def default_stack(samconfig: Path = Path("samconfig.toml")) -> str:
    """The stack name `sam deploy` uses from this directory's samconfig.toml, else nekt-peering."""
    try:
        config = tomllib.loads(samconfig.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return FALLBACK_STACK
    for command in ("deploy", "global"):
        name = config.get("default", {}).get(command, {}).get("parameters", {}).get("stack_name")
        if isinstance(name, str) and name:
            return name
    return FALLBACK_STACK


@dataclass
class Deployment:
    stack: str
    region: str
    outputs: dict[str, str]
    machines: Machines


def find(stack: str, profile: str | None, region: str | None, endpoint_url: str | None) -> Deployment:
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound:
        raise Unusable(f"no AWS profile named {profile!r} in your AWS config", exit_code=2) from None
    if not session.region_name:
        raise Unusable("no region: pass --region (the stack's region) or set AWS_REGION", exit_code=2)

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url, config=CLIENT_CONFIG)  # type: ignore[call-overload]

    where = f"stack {stack} in {session.region_name}" + (f" at {endpoint_url}" if endpoint_url else "")
    try:
        described = client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except NoCredentialsError:
        raise Unusable("no AWS credentials: pass --profile, or set AWS_PROFILE or AWS_ACCESS_KEY_ID") from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ValidationError":
            raise Unusable(f"no {where}: deploy it (README, Deploying), or name yours with --stack and "
                           "--region") from None
        raise Unusable(f"AWS refused to describe {where}: {code}: {error}") from None
    except BotoCoreError as error:
        raise Unusable(f"cannot reach AWS for {where}: {error}") from None
    outputs = {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
    missing = [key for key in REQUIRED_OUTPUTS if key not in outputs]
    if missing:
        raise Unusable(f"{where} has no output {', '.join(missing)}: is it a nekt-peering stack, fully deployed "
                       "and of this version? (sam deploy updates it)")
    machines = Machines(client("stepfunctions"), outputs["ConnectStateMachineArn"],
                        outputs["DisconnectStateMachineArn"], outputs.get("CheckPathStateMachineArn", ""),
                        client("dynamodb"), outputs["ConnectionsTableName"])
    return Deployment(stack, session.region_name, outputs, machines)
