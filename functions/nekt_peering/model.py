"""The validated request and deployment settings every stage works from."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

import fastjsonschema

from nekt_peering.errors import InvalidInput, InvalidSettings

CONNECT_INPUT_SCHEMA: dict[str, Any] = json.loads(
    resources.files("nekt_peering").joinpath("schemas/connect_input.json").read_text()
)
_validate_connect_input = fastjsonschema.compile(CONNECT_INPUT_SCHEMA)
# The disconnect input names the same things as the connect input: its fields are the connect schema's.
DISCONNECT_INPUT_SCHEMA: dict[str, Any] = {
    "title": "Disconnect workflow input",
    "type": "object",
    "additionalProperties": False,
    "required": ["connectionId"],
    "properties": {
        "connectionId": CONNECT_INPUT_SCHEMA["properties"]["connectionId"],
        "region": CONNECT_INPUT_SCHEMA["properties"]["database"]["properties"]["region"],
    },
}
_validate_disconnect_input = fastjsonschema.compile(DISCONNECT_INPUT_SCHEMA)

MANAGED_BY_TAG = ("nekt:managed-by", "nekt-peering")
CONNECTION_TAG_KEY = "nekt:connection-id"

_ACCOUNT = re.compile(r"^[0-9]{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")
_VPC = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_ROUTE_TABLE = re.compile(r"^rtb-[0-9a-f]{8,17}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}):role/[\w+=,.@/-]{1,512}$", re.ASCII)
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$", re.ASCII)
# A VPC CIDR block is /16 to /28: AWS refuses any other, so nothing wider can be a VPC's.
VPC_PREFIX_LENGTHS = range(16, 29)


@dataclass(frozen=True)
class ConnectRequest:
    identifier: str
    region: str
    mode: str
    connection_id: str
    dry_run: bool

    @classmethod
    def parse(cls, raw: Any, default_region: str) -> ConnectRequest:
        _check(_validate_connect_input, raw, '{"database": {"identifier": "orders-db", "region": "us-east-2"}}')
        database = raw["database"]
        return cls(
            identifier=database["identifier"],
            region=database.get("region", default_region),
            mode=raw.get("mode", "auto"),
            connection_id=raw.get("connectionId", database["identifier"]),
            dry_run=raw.get("dryRun", False),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "region": self.region,
            "mode": self.mode,
            "connectionId": self.connection_id,
            "dryRun": self.dry_run,
        }


@dataclass(frozen=True)
class DisconnectRequest:
    connection_id: str
    region: str

    @classmethod
    def parse(cls, raw: Any, default_region: str) -> DisconnectRequest:
        _check(_validate_disconnect_input, raw, '{"connectionId": "orders-db", "region": "us-east-2"}')
        return cls(connection_id=raw["connectionId"], region=raw.get("region", default_region))

    def to_dict(self) -> dict[str, Any]:
        return {"connectionId": self.connection_id, "region": self.region}


def _check(validate: Any, raw: Any, example: str) -> None:
    try:
        validate(raw)
    except fastjsonschema.JsonSchemaValueException as error:
        raise InvalidInput(f"{_field_message(error)}. Example input: {example}") from None


def _field_message(error: fastjsonschema.JsonSchemaValueException) -> str:
    """fastjsonschema says 'data.database.identifier must ...'; say 'database.identifier must ...'."""
    message = error.message
    if message.startswith("data."):
        return message[len("data."):]
    if message.startswith("data "):
        return "the input " + message[len("data "):]
    return message


@dataclass(frozen=True)
class Settings:
    """Deployment parameters, substituted into the state machine by template.yaml."""

    stack_account_id: str
    stack_region: str
    nekt_account_id: str
    nekt_region: str
    nekt_vpc_id: str
    nekt_route_table_id: str
    nekt_accepter_role_arn: str
    nekt_external_id: str
    nekt_public_ip: str
    poll_interval_seconds: int
    max_polls: int

    @property
    def nekt_public_cidr(self) -> str:
        return f"{self.nekt_public_ip}/32"

    @classmethod
    def parse(cls, raw: Any) -> Settings:
        if not isinstance(raw, dict):
            raise InvalidSettings("the execution has no settings object: start it from the deployed state machine")
        text = {key: str(raw.get(key, "")).strip() for key in _SETTING_NAMES}
        _require(text, "stackAccountId", _ACCOUNT, "a 12-digit AWS account id")
        _require(text, "stackRegion", _REGION, "a region name such as us-east-1")
        _require(text, "nektAccountId", _ACCOUNT, "a 12-digit AWS account id")
        _require(text, "nektRegion", _REGION, "a region name such as us-east-1")
        _require(text, "nektVpcId", _VPC, "a VPC id such as vpc-0abc1234")
        _require(text, "nektRouteTableId", _ROUTE_TABLE, "empty or a route table id such as rtb-0abc1234",
                 optional=True)
        _require(text, "nektAccepterRoleArn", _ROLE_ARN, "empty or an IAM role ARN", optional=True)
        _require(text, "nektExternalId", _EXTERNAL_ID, "2-1224 characters of [A-Za-z0-9+=,.@:/-_]", optional=True)
        role = _ROLE_ARN.match(text["nektAccepterRoleArn"])
        if role and role.group(1) != text["nektAccountId"]:
            raise InvalidSettings(f"setting NektAccepterRoleArn is a role in account {role.group(1)}, "
                                  f"but NektAccountId is {text['nektAccountId']}: redeploy with the accepter role "
                                  "of the Nekt account")
        if role and not text["nektExternalId"]:
            raise InvalidSettings("setting NektExternalId is empty while NektAccepterRoleArn is set: redeploy with "
                                  "the external id the accepter role's trust policy requires")
        try:
            public_ip = ipaddress.IPv4Address(text["nektPublicIp"])
        except ValueError:
            raise InvalidSettings(f"setting NektPublicIp is {text['nektPublicIp']!r}, not an IPv4 address") from None
        if not public_ip.is_global:
            raise InvalidSettings(f"setting NektPublicIp is {public_ip}, not a public address")
        return cls(
            stack_account_id=text["stackAccountId"],
            stack_region=text["stackRegion"],
            nekt_account_id=text["nektAccountId"],
            nekt_region=text["nektRegion"],
            nekt_vpc_id=text["nektVpcId"],
            nekt_route_table_id=text["nektRouteTableId"],
            nekt_accepter_role_arn=text["nektAccepterRoleArn"],
            nekt_external_id=text["nektExternalId"],
            nekt_public_ip=str(public_ip),
            poll_interval_seconds=_integer(text, "pollIntervalSeconds", 0, 3600),
            max_polls=_integer(text, "maxPolls", 1, 10000),
        )

    def to_dict(self) -> dict[str, Any]:
        return {_camel(key): value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        return cls(**{key: data[_camel(key)] for key in cls.__dataclass_fields__})


_SETTING_NAMES = (
    "stackAccountId", "stackRegion", "nektAccountId", "nektRegion", "nektVpcId", "nektRouteTableId",
    "nektAccepterRoleArn", "nektExternalId", "nektPublicIp", "pollIntervalSeconds", "maxPolls",
)


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _parameter_name(setting: str) -> str:
    return setting[0].upper() + setting[1:]


def _require(text: dict[str, str], key: str, pattern: re.Pattern[str], expected: str, optional: bool = False) -> None:
    value = text[key]
    if optional and not value:
        return
    if not pattern.match(value):
        raise InvalidSettings(f"setting {_parameter_name(key)} is {value!r}, expected {expected}: "
                              "redeploy the stack with a valid value")


def _integer(text: dict[str, str], key: str, low: int, high: int) -> int:
    value = text[key]
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise InvalidSettings(f"setting {_parameter_name(key)} is {value!r}, expected a whole number "
                              f"from {low} to {high}: redeploy the stack with a valid value")
    return int(value)
