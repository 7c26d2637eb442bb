"""The validated request and deployment settings every stage works from."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal, cast

import fastjsonschema

from nekt_peering.core.errors import InvalidInput, InvalidSettings
from nekt_peering.core.validators import connect_input, disconnect_input, stage_event

if TYPE_CHECKING:
    from nekt_peering.core.shapes import DisconnectRequestFacts, RequestFacts, SettingsData

# Each schema below is compiled ahead of time into nekt_peering.core.validators (`make validators`), not at
# import: fastjsonschema.compile() would cost every cold start tens of milliseconds.
Validator = Callable[[Any], object]

CONNECT_INPUT_SCHEMA: dict[str, Any] = json.loads(
    resources.files("nekt_peering.core").joinpath("schemas/connect_input.json").read_text()
)
IDENTIFIER_LENGTH: int = CONNECT_INPUT_SCHEMA["properties"]["database"]["properties"]["identifier"]["maxLength"]
_validate_connect_input: Validator = connect_input.validate
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
_validate_disconnect_input: Validator = disconnect_input.validate

MANAGED_BY_TAG = ("nekt:managed-by", "nekt-peering")
CONNECTION_TAG_KEY = "nekt:connection-id"

_ACCOUNT = re.compile(r"^[0-9]{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")
_VPC = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_ROUTE_TABLE = re.compile(r"^rtb-[0-9a-f]{8,17}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}):role/[\w+=,.@/-]{1,512}$", re.ASCII)
_FUNCTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:([a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}):([0-9]{12}):function:[\w-]{1,64}$", re.ASCII)
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$", re.ASCII)
# A VPC CIDR block is /16 to /28: AWS refuses any other, so nothing wider can be a VPC's.
VPC_PREFIX_LENGTHS = range(16, 29)


CONNECT_INPUT_EXAMPLES = (
    'Example input: {"database": {"identifier": "orders-db", "region": "us-east-2"}}; by kind: '
    '{"database": {"kind": "redshift", "identifier": "analytics"}}, '
    '{"database": {"kind": "ec2", "instanceId": "i-0abc1234def567890", "port": 5432}}, '
    '{"database": {"kind": "address", "host": "10.0.1.25", "port": 5432, "vpcId": "vpc-0abc1234"}}'
)
# The fields of `database` each kind takes, beside `kind` and `region` (the schema requires the kind's own and
# refuses the others, as database_kind_errors does by name).
KIND_FIELDS: dict[str, frozenset[str]] = {
    "rds": frozenset({"identifier", "endpoint"}),
    "redshift": frozenset({"identifier"}),
    "docdb": frozenset({"identifier"}),
    "redshift-serverless": frozenset({"identifier"}),
    "ec2": frozenset({"instanceId", "port", "engine", "identifier"}),
    "address": frozenset({"host", "port", "vpcId", "engine", "identifier"}),
}
FIELDS = frozenset().union(*KIND_FIELDS.values())


@dataclass(frozen=True)
class ConnectRequest:
    identifier: str  # the database's name: its AWS identifier, or for ec2 and address the name given or derived
    region: str
    mode: str
    connection_id: str
    dry_run: bool
    endpoint: Literal["writer", "reader"] = "writer"  # an Aurora cluster's endpoint Nekt connects to
    kind: str = "rds"
    instance_id: str | None = None  # ec2
    host: str | None = None  # address: a private IPv4 address, or a private DNS name (Route 53)
    port: int | None = None  # ec2, address
    vpc_id: str | None = None  # address
    engine: str | None = None  # ec2, address: the protocol the probe speaks

    @classmethod
    def parse(cls, raw: Any, default_region: str) -> ConnectRequest:
        for _field, message in database_kind_errors(raw.get("database") if isinstance(raw, dict) else None):
            raise InvalidInput(f"{message}. Nothing was changed. {CONNECT_INPUT_EXAMPLES}")
        _check(_validate_connect_input, raw, CONNECT_INPUT_EXAMPLES)
        database = raw["database"]
        kind = database.get("kind", "rds")
        identifier = database.get("identifier") or _default_identifier(kind, database)
        return cls(
            identifier=identifier,
            region=database.get("region", default_region),
            mode=raw.get("mode", "auto"),
            connection_id=raw.get("connectionId", identifier),
            dry_run=raw.get("dryRun", False),
            endpoint=database.get("endpoint", "writer"),
            kind=kind,
            instance_id=database.get("instanceId"),
            host=database.get("host"),
            port=database.get("port"),
            vpc_id=database.get("vpcId"),
            engine=database.get("engine"),
        )

    def to_dict(self) -> RequestFacts:
        facts: RequestFacts = {
            "identifier": self.identifier,
            "region": self.region,
            "mode": self.mode,
            "connectionId": self.connection_id,
            "dryRun": self.dry_run,
            "endpoint": self.endpoint,
        }
        optional = {"kind": None if self.kind == "rds" else self.kind, "instanceId": self.instance_id,
                    "host": self.host, "port": self.port, "vpcId": self.vpc_id, "engine": self.engine}
        for key, value in optional.items():
            if value is not None:
                facts[key] = value  # type: ignore[literal-required]  # each an optional key of RequestFacts
        return facts


def database_kind_errors(database: Any) -> list[tuple[str, str]]:
    """(field, message naming it) for each field of `database` its kind does not take, and an address's host
    that is not private. The schema says both too (each kind's `not` and the host's pattern); these name the
    field, so they are checked first."""
    kind = database.get("kind", "rds") if isinstance(database, dict) else None
    if not isinstance(kind, str) or kind not in KIND_FIELDS:
        return []  # not an object, or no kind the schema knows: the schema's own message says it
    errors = [(f"database.{name}", f"database.{name} does not apply to a database of kind {kind!r}, which takes "
                                   f"{', '.join(sorted(KIND_FIELDS[kind]))}: leave it out")
              for name in sorted(set(database) & FIELDS - KIND_FIELDS[kind])]
    if kind == "address" and _public_ipv4(database.get("host")):
        errors.append(("database.host", f"database.host is {database['host']}, not a private IPv4 address: a "
                                        "database reachable at a public address is connected by its AWS kind "
                                        "(rds, redshift, redshift-serverless, docdb, ec2)"))
    return errors


def _public_ipv4(host: Any) -> bool:
    try:
        return not ipaddress.IPv4Address(host).is_private
    except (ValueError, TypeError):
        return False  # not an address: the schema's pattern says it


def _default_identifier(kind: str, database: dict[str, Any]) -> str:
    """ec2: the instance id; address: address-<host with dashes>-<port> (unique within a VPC only: two
    addresses alike in two VPCs need an identifier or a connectionId each). A DNS name too long for the 63
    characters of an identifier keeps its beginning and a digest of the whole."""
    if kind == "ec2":
        return str(database["instanceId"])
    host, port = re.sub(r"[^a-z0-9]+", "-", database["host"].lower()).strip("-"), database["port"]
    identifier = f"address-{host}-{port}"
    if len(identifier) <= IDENTIFIER_LENGTH:
        return identifier
    digest = hashlib.sha256(database["host"].lower().encode()).hexdigest()[:8]
    readable = host[:IDENTIFIER_LENGTH - len(f"address--{digest}-{port}")].strip("-")
    return f"address-{readable}-{digest}-{port}"


@dataclass(frozen=True)
class DisconnectRequest:
    connection_id: str
    region: str

    @classmethod
    def parse(cls, raw: Any, default_region: str) -> DisconnectRequest:
        _check(_validate_disconnect_input, raw, 'Example input: {"connectionId": "orders-db", "region": "us-east-2"}')
        return cls(connection_id=raw["connectionId"], region=raw.get("region", default_region))

    def to_dict(self) -> DisconnectRequestFacts:
        return {"connectionId": self.connection_id, "region": self.region}


def connection_of(raw: Any) -> str | None:
    """The connection an execution input names (connect or disconnect): its connectionId, else the
    database identifier, as ConnectRequest defaults it. None when the input names none. The input is
    not validated: it may be any execution's."""
    if not isinstance(raw, dict):
        return None
    database = raw.get("database")
    named = raw.get("connectionId", database.get("identifier") if isinstance(database, dict) else None)
    if named is None and isinstance(database, dict) and database.get("kind") in ("ec2", "address"):
        try:
            named = _default_identifier(database["kind"], database)
        except (KeyError, AttributeError):
            return None
    return named if isinstance(named, str) else None


def _check(validate: Validator, raw: Any, hint: str) -> None:
    try:
        validate(raw)
    except fastjsonschema.JsonSchemaValueException as error:
        raise InvalidInput(f"{_field_message(error)}. {hint}") from None


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
    nekt_probe_function_arn: str = ""

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
        _require(text, "nektExternalId", _EXTERNAL_ID, "2-1224 characters of [A-Za-z0-9+=,.@:/-_]", optional=True,
                 secret=True)
        role = _ROLE_ARN.match(text["nektAccepterRoleArn"])
        if role and role.group(1) != text["nektAccountId"]:
            raise InvalidSettings(f"setting NektAccepterRoleArn is a role in account {role.group(1)}, "
                                  f"but NektAccountId is {text['nektAccountId']}: redeploy with the accepter role "
                                  "of the Nekt account")
        if role and not text["nektExternalId"]:
            raise InvalidSettings("setting NektExternalId is empty while NektAccepterRoleArn is set: redeploy with "
                                  "the external id the accepter role's trust policy requires")
        _require(text, "nektProbeFunctionArn", _FUNCTION_ARN, "empty or the ARN of the Nekt account stack's probe "
                 "function", optional=True)
        probe = _FUNCTION_ARN.match(text["nektProbeFunctionArn"])
        if probe and (probe.group(2), probe.group(1)) != (text["nektAccountId"], text["nektRegion"]):
            raise InvalidSettings(f"setting NektProbeFunctionArn is a function of account {probe.group(2)}, region "
                                  f"{probe.group(1)}, not of the Nekt VPC's ({text['nektAccountId']}, "
                                  f"{text['nektRegion']}): redeploy with the ProbeFunctionArn output of the Nekt "
                                  "account stack")
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
            nekt_probe_function_arn=text["nektProbeFunctionArn"],
        )

    def to_dict(self) -> SettingsData:
        return cast("SettingsData", {_camel(key): value for key, value in asdict(self).items()})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        """The settings a later stage finds in its event: checked again, as a stage may be invoked by hand."""
        return cls.parse(data)


_SETTING_NAMES = (
    "stackAccountId", "stackRegion", "nektAccountId", "nektRegion", "nektVpcId", "nektRouteTableId",
    "nektAccepterRoleArn", "nektExternalId", "nektPublicIp", "pollIntervalSeconds", "maxPolls",
    "nektProbeFunctionArn",
)


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _parameter_name(setting: str) -> str:
    return setting[0].upper() + setting[1:]


def _require(text: dict[str, str], key: str, pattern: re.Pattern[str], expected: str, optional: bool = False,
             secret: bool = False) -> None:
    value = text[key]
    if optional and not value:
        return
    if not pattern.match(value):
        shown = f"{len(value)} characters (not shown)" if secret else repr(value)
        raise InvalidSettings(f"setting {_parameter_name(key)} is {shown}, expected {expected}: "
                              "redeploy the stack with a valid value")


def _integer(text: dict[str, str], key: str, low: int, high: int) -> int:
    value = text[key]
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise InvalidSettings(f"setting {_parameter_name(key)} is {value!r}, expected a whole number "
                              f"from {low} to {high}: redeploy the stack with a valid value")
    return int(value)


# What a stage acts on, from its event: the schema is derived from nekt_peering.core.shapes.StageEvent and
# generated ahead of time (`make validators`); what JSON schema cannot say is checked below.
_validate_stage_event: Validator = stage_event.validate


def check_stage_event(event: Any) -> None:
    """Every id, CIDR and number a stage acts on is well formed, and the Nekt side is the settings' own."""
    _check(_validate_stage_event, event, "A stage acts only on the event its state machine passes it (examples "
           "in events/): start the connection from the state machine")
    facts = event.get("discovery")
    if not facts:
        return
    settings = Settings.parse(facts["settings"])
    expected = {("discovery.database.accountId", settings.stack_account_id): facts["database"].get("accountId")}
    if facts.get("nekt"):
        expected |= {
            ("discovery.nekt.vpcId", settings.nekt_vpc_id): facts["nekt"].get("vpcId"),
            ("discovery.nekt.accountId", settings.nekt_account_id): facts["nekt"].get("accountId"),
            ("discovery.nekt.region", settings.nekt_region): facts["nekt"].get("region"),
        }
    for (field, wanted), actual in expected.items():
        if actual is not None and actual != wanted:
            raise InvalidInput(f"{field} is {actual!r}, but the settings say {wanted!r}: a stage acts only on the "
                               "database account and the Nekt VPC of the stack's settings")
    nekt = facts.get("nekt") or {}
    cidrs = {"discovery.database.cidrs": facts["database"].get("cidrs", []),
             "discovery.nekt.cidrs": nekt.get("cidrs", []), "discovery.nekt.cidr": [nekt.get("cidr", "0.0.0.0/16")]}
    for field, values in cidrs.items():
        for cidr in values:
            try:
                ipaddress.IPv4Network(cidr)
            except ValueError:
                raise InvalidInput(f"{field} has {cidr!r}, which has host bits set: not a network") from None
