"""ConnectRequest.parse and Settings.parse: what a valid request or deployment becomes, and that
every malformed one is refused with a named error whose message points at the field to fix."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from nekt_peering.core.errors import InvalidInput, InvalidSettings
from nekt_peering.core.model import ConnectRequest, Settings, connection_of

# ---------------------------------------------------------------------------------------------
# ConnectRequest
# ---------------------------------------------------------------------------------------------


def test_minimal_request_defaults_region_mode_connection_id_and_dry_run() -> None:
    request = ConnectRequest.parse({"database": {"identifier": "orders-db"}}, default_region="us-east-1")

    assert request == ConnectRequest(
        identifier="orders-db", region="us-east-1", mode="auto", connection_id="orders-db", dry_run=False,
    )


def test_explicit_request_fields_win_over_defaults() -> None:
    raw = {"database": {"identifier": "orders-db", "region": "eu-west-3"}, "mode": "peering",
           "connectionId": "orders_prod-1", "dryRun": True}

    request = ConnectRequest.parse(raw, default_region="us-east-1")

    assert request == ConnectRequest("orders-db", "eu-west-3", "peering", "orders_prod-1", True)


@pytest.mark.parametrize("identifier", ["a", "orders-db", "Orders-DB-2", "a" * 63])
def test_valid_rds_identifiers_are_accepted(identifier: str) -> None:
    assert ConnectRequest.parse({"database": {"identifier": identifier}}, "us-east-1").identifier == identifier


@pytest.mark.parametrize("region", ["us-east-2", "eu-central-1", "us-gov-west-1", "ap-southeast-4"])
def test_valid_regions_are_accepted(region: str) -> None:
    raw = {"database": {"identifier": "orders-db", "region": region}}
    assert ConnectRequest.parse(raw, "us-east-1").region == region


@pytest.mark.parametrize("mode", ["auto", "peering", "public"])
def test_every_documented_mode_is_accepted(mode: str) -> None:
    raw = {"database": {"identifier": "orders-db"}, "mode": mode}
    assert ConnectRequest.parse(raw, "us-east-1").mode == mode


def test_request_dict_form_is_the_execution_data_shape() -> None:
    request = ConnectRequest("orders-db", "us-east-2", "public", "orders", True)

    assert request.to_dict() == {"identifier": "orders-db", "region": "us-east-2", "mode": "public",
                                 "connectionId": "orders", "dryRun": True, "endpoint": "writer"}


def test_each_kind_parses_to_its_fields_and_names_the_database() -> None:
    ec2 = ConnectRequest.parse({"database": {"kind": "ec2", "instanceId": "i-0abc1234def567890", "port": 5432,
                                             "engine": "postgres"}}, default_region="us-east-1")
    address = ConnectRequest.parse({"database": {"kind": "address", "host": "10.0.1.25", "port": 3306,
                                                 "vpcId": "vpc-0abc1234"}}, default_region="us-east-1")
    redshift = ConnectRequest.parse({"database": {"kind": "redshift", "identifier": "analytics"}},
                                    default_region="us-east-1")

    assert ec2.to_dict() == {"identifier": "i-0abc1234def567890", "region": "us-east-1", "mode": "auto",
                             "connectionId": "i-0abc1234def567890", "dryRun": False, "endpoint": "writer",
                             "kind": "ec2", "instanceId": "i-0abc1234def567890", "port": 5432, "engine": "postgres"}
    assert (address.identifier, address.connection_id, address.host, address.port, address.vpc_id) == (
        "address-10-0-1-25-3306", "address-10-0-1-25-3306", "10.0.1.25", 3306, "vpc-0abc1234")
    assert (redshift.kind, redshift.identifier) == ("redshift", "analytics")
    assert "kind" not in ConnectRequest.parse({"database": {"identifier": "orders-db"}}, "us-east-1").to_dict()
    assert connection_of({"database": {"kind": "address", "host": "10.0.1.25", "port": 3306,
                                       "vpcId": "vpc-0abc1234"}}) == address.connection_id


@pytest.mark.parametrize(("host", "identifier"), [
    ("orders.db.internal", "address-orders-db-internal-5432"),
    ("Orders-DB.corp.example.com", "address-orders-db-corp-example-com-5432"),
    ("a" * 60 + ".internal", "address-" + "a" * 41 + "-" + hashlib.sha256(("a" * 60 + ".internal").encode())
     .hexdigest()[:8] + "-5432"),
])
def test_an_address_by_private_dns_name_is_named_after_it_within_an_identifier_s_length(host: str,
                                                                                       identifier: str) -> None:
    request = ConnectRequest.parse({"database": {"kind": "address", "host": host, "port": 5432,
                                                 "vpcId": "vpc-0abc1234"}}, default_region="us-east-1")

    assert (request.host, request.identifier, request.connection_id) == (host, identifier, identifier)
    assert len(identifier) <= 63 and re.fullmatch(r"[A-Za-z](-?[A-Za-z0-9])*", identifier)


def _db(**fields: Any) -> dict[str, Any]:
    return {"database": {"identifier": "orders-db", **fields}}


BAD_INPUTS = [
    # (input, words the message must contain so a person knows which field to fix)
    pytest.param(None, ["the input", "object"], id="none"),
    pytest.param([], ["the input", "object"], id="list"),
    pytest.param("orders-db", ["the input", "object"], id="string"),
    pytest.param(42, ["the input", "object"], id="number"),
    pytest.param({}, ["database"], id="missing-database"),
    pytest.param({"database": "orders-db"}, ["database", "object"], id="database-not-object"),
    pytest.param({"database": {}}, ["database", "identifier"], id="missing-identifier"),
    pytest.param({"database": {"region": "us-east-2"}}, ["database", "identifier"], id="region-without-identifier"),
    pytest.param({"database": {"identifier": 17}}, ["database.identifier", "string"], id="identifier-not-string"),
    pytest.param({"database": {"identifier": ""}}, ["database.identifier"], id="identifier-empty"),
    pytest.param({"database": {"identifier": "a" * 64}}, ["database.identifier", "63"], id="identifier-too-long"),
    pytest.param({"database": {"identifier": "1orders"}}, ["database.identifier"], id="identifier-leading-digit"),
    pytest.param({"database": {"identifier": "-orders"}}, ["database.identifier"], id="identifier-leading-hyphen"),
    pytest.param({"database": {"identifier": "orders--db"}}, ["database.identifier"], id="identifier-double-hyphen"),
    pytest.param({"database": {"identifier": "orders-"}}, ["database.identifier"], id="identifier-trailing-hyphen"),
    pytest.param({"database": {"identifier": "orders_db"}}, ["database.identifier"], id="identifier-underscore"),
    pytest.param({"database": {"identifier": "orders db"}}, ["database.identifier"], id="identifier-space"),
    pytest.param({"database": {"identifier": "orders-db\n"}}, ["database.identifier"], id="identifier-newline"),
    pytest.param(_db(region="US-EAST-2"), ["database.region"], id="region-uppercase"),
    pytest.param(_db(region="us-east"), ["database.region"], id="region-without-number"),
    pytest.param(_db(region="ohio"), ["database.region"], id="region-name"),
    pytest.param(_db(region="us-east-2\n"), ["database.region"], id="region-newline"),
    pytest.param(_db(region=2), ["database.region", "string"], id="region-not-string"),
    pytest.param(_db(engine="postgres"), ["database.engine", "kind 'rds'"], id="field-of-another-kind"),
    pytest.param(_db(colour="blue"), ["database", "colour"], id="unknown-nested-field"),
    pytest.param(_db(kind="mongo"), ["database.kind", "rds", "ec2", "address"], id="unknown-kind"),
    pytest.param({"database": {"kind": "ec2", "port": 5432}}, ["database", "instanceId"], id="ec2-without-instance"),
    pytest.param({"database": {"kind": "ec2", "instanceId": "i-0abc1234"}}, ["database", "port"],
                 id="ec2-without-port"),
    pytest.param({"database": {"kind": "ec2", "instanceId": "db-1", "port": 5432}}, ["database.instanceId"],
                 id="ec2-instance-id-malformed"),
    pytest.param({"database": {"kind": "address", "host": "10.0.1.25", "port": 5432}}, ["database", "vpcId"],
                 id="address-without-vpc"),
    pytest.param({"database": {"kind": "address", "host": "10.0.1.25", "port": 70000, "vpcId": "vpc-0abc1234"}},
                 ["database.port"], id="address-port-out-of-range"),
    pytest.param({"database": {"kind": "address", "host": "orders", "port": 5432, "vpcId": "vpc-0abc1234"}},
                 ["database.host"], id="address-single-label-name"),
    pytest.param({"database": {"kind": "address", "host": "-orders.db.internal", "port": 5432,
                               "vpcId": "vpc-0abc1234"}}, ["database.host"], id="address-name-malformed"),
    pytest.param({"database": {"kind": "address", "host": "10.0.1.256", "port": 5432, "vpcId": "vpc-0abc1234"}},
                 ["database.host"], id="address-octet-out-of-range"),
    pytest.param({"database": {"kind": "address", "host": "52.1.2.3", "port": 5432, "vpcId": "vpc-0abc1234"}},
                 ["database.host", "private"], id="address-public"),
    pytest.param({"database": {"kind": "redshift", "identifier": "analytics", "endpoint": "reader"}},
                 ["database.endpoint", "kind 'redshift'"], id="redshift-reader-endpoint"),
    pytest.param({"database": {"kind": "redshift", "instanceId": "i-0abc1234"}}, ["database", "identifier"],
                 id="redshift-without-identifier"),
    pytest.param({"database": {"kind": "docdb"}}, ["database", "identifier"], id="docdb-without-identifier"),
    pytest.param({"database": {"kind": "redshift-serverless"}}, ["database", "identifier"],
                 id="redshift-serverless-without-identifier"),
    pytest.param({"database": {"kind": "docdb", "identifier": "documents", "port": 27017}},
                 ["database.port", "kind 'docdb'"], id="docdb-port"),
    pytest.param({**_db(), "vpcId": "vpc-0abc1234"}, ["the input", "vpcId"], id="unknown-top-level-field"),
    pytest.param({**_db(), "mode": "vpn"}, ["mode", "auto", "peering", "public"], id="unknown-mode"),
    pytest.param({**_db(), "mode": None}, ["mode"], id="mode-null"),
    pytest.param({**_db(), "dryRun": "yes"}, ["dryRun", "boolean"], id="dry-run-string"),
    pytest.param({**_db(), "dryRun": 1}, ["dryRun", "boolean"], id="dry-run-number"),
    pytest.param({**_db(), "connectionId": ""}, ["connectionId"], id="connection-id-empty"),
    pytest.param({**_db(), "connectionId": "-orders"}, ["connectionId"], id="connection-id-leading-hyphen"),
    pytest.param({**_db(), "connectionId": "orders prod"}, ["connectionId"], id="connection-id-space"),
    pytest.param({**_db(), "connectionId": "x" * 64}, ["connectionId"], id="connection-id-too-long"),
    pytest.param({**_db(), "connectionId": 7}, ["connectionId", "string"], id="connection-id-not-string"),
]


@pytest.mark.parametrize(("raw", "words"), BAD_INPUTS)
def test_malformed_input_is_refused_naming_the_field(raw: Any, words: list[str]) -> None:
    with pytest.raises(InvalidInput) as raised:
        ConnectRequest.parse(raw, default_region="us-east-1")

    message = str(raised.value)
    for word in words:
        assert word in message, message
    assert not message.startswith(("data.", "data ")), "fastjsonschema's 'data' prefix should be translated"
    assert '"identifier": "orders-db"' in message, "the message shows an example input"


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------

NEKT_ACCOUNT = "111111111111"
STACK_ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{NEKT_ACCOUNT}:role/nekt-peering-accepter"

VALID_SETTINGS = {
    "stackAccountId": STACK_ACCOUNT,
    "stackRegion": "us-east-2",
    "nektAccountId": NEKT_ACCOUNT,
    "nektRegion": "us-east-1",
    "nektVpcId": "vpc-0abc1234def567890",
    "nektRouteTableId": "",
    "nektAccepterRoleArn": ROLE_ARN,
    "nektExternalId": "nekt-demo-external-id",
    "nektPublicIp": "100.27.146.35",
    "pollIntervalSeconds": "5",
    "maxPolls": "60",
}


def settings(**changes: Any) -> dict[str, Any]:
    return {**VALID_SETTINGS, **changes}


def test_valid_cross_account_settings_parse_with_numbers_as_integers() -> None:
    parsed = Settings.parse(settings())

    assert parsed == Settings(
        stack_account_id=STACK_ACCOUNT, stack_region="us-east-2", nekt_account_id=NEKT_ACCOUNT,
        nekt_region="us-east-1", nekt_vpc_id="vpc-0abc1234def567890", nekt_route_table_id="",
        nekt_accepter_role_arn=ROLE_ARN, nekt_external_id="nekt-demo-external-id",
        nekt_public_ip="100.27.146.35", poll_interval_seconds=5, max_polls=60,
    )
    assert parsed.nekt_public_cidr == "100.27.146.35/32"


def test_same_account_settings_need_no_role_nor_external_id() -> None:
    parsed = Settings.parse(settings(nektAccountId=STACK_ACCOUNT, nektAccepterRoleArn="", nektExternalId=""))

    assert parsed.nekt_accepter_role_arn == "" and parsed.nekt_external_id == ""


def test_settings_values_are_stripped_and_numbers_may_be_json_numbers() -> None:
    parsed = Settings.parse(settings(nektVpcId=" vpc-0abc1234 ", nektRouteTableId="rtb-0abc1234\n",
                                     pollIntervalSeconds=0, maxPolls=10000))

    assert parsed.nekt_vpc_id == "vpc-0abc1234"
    assert parsed.nekt_route_table_id == "rtb-0abc1234"
    assert (parsed.poll_interval_seconds, parsed.max_polls) == (0, 10000)


@pytest.mark.parametrize(("interval", "polls"), [("0", "1"), ("3600", "10000")])
def test_poll_settings_accept_their_bounds(interval: str, polls: str) -> None:
    parsed = Settings.parse(settings(pollIntervalSeconds=interval, maxPolls=polls))
    assert (parsed.poll_interval_seconds, parsed.max_polls) == (int(interval), int(polls))


def test_settings_round_trip_through_their_dict_form() -> None:
    parsed = Settings.parse(settings())

    assert parsed.to_dict()["nektVpcId"] == "vpc-0abc1234def567890"
    assert parsed.to_dict()["maxPolls"] == 60
    assert Settings.from_dict(parsed.to_dict()) == parsed


BAD_SETTINGS = [
    # (changes, CloudFormation parameter the message must name)
    pytest.param({"stackAccountId": "12345678901"}, "StackAccountId", id="stack-account-11-digits"),
    pytest.param({"stackRegion": ""}, "StackRegion", id="stack-region-empty"),
    pytest.param({"nektAccountId": "1111-1111-1111"}, "NektAccountId", id="nekt-account-dashes"),
    pytest.param({"nektAccountId": ""}, "NektAccountId", id="nekt-account-missing"),
    pytest.param({"nektRegion": "virginia"}, "NektRegion", id="nekt-region-name"),
    pytest.param({"nektVpcId": "nekt-vpc"}, "NektVpcId", id="nekt-vpc-by-name"),
    pytest.param({"nektVpcId": "vpc-XYZ12345"}, "NektVpcId", id="nekt-vpc-not-hex"),
    pytest.param({"nektVpcId": ""}, "NektVpcId", id="nekt-vpc-missing"),
    pytest.param({"nektRouteTableId": "nekt-rtb-private"}, "NektRouteTableId", id="route-table-by-name"),
    pytest.param({"nektAccepterRoleArn": "nekt-peering-accepter"}, "NektAccepterRoleArn", id="role-name-not-arn"),
    pytest.param({"nektAccepterRoleArn": f"arn:aws:iam::{NEKT_ACCOUNT}:user/someone"}, "NektAccepterRoleArn",
                 id="user-arn-not-role"),
    pytest.param({"nektExternalId": "x"}, "NektExternalId", id="external-id-too-short"),
    pytest.param({"nektExternalId": "has space"}, "NektExternalId", id="external-id-space"),
    pytest.param({"nektPublicIp": ""}, "NektPublicIp", id="public-ip-missing"),
    pytest.param({"nektPublicIp": "nekt.example.com"}, "NektPublicIp", id="public-ip-hostname"),
    pytest.param({"nektPublicIp": "100.27.146.35/32"}, "NektPublicIp", id="public-ip-cidr"),
    pytest.param({"nektPublicIp": "256.1.1.1"}, "NektPublicIp", id="public-ip-out-of-range"),
    pytest.param({"nektPublicIp": "10.0.0.5"}, "NektPublicIp", id="public-ip-private-10"),
    pytest.param({"nektPublicIp": "192.168.1.1"}, "NektPublicIp", id="public-ip-private-192"),
    pytest.param({"nektPublicIp": "127.0.0.1"}, "NektPublicIp", id="public-ip-loopback"),
    pytest.param({"nektPublicIp": "100.64.0.1"}, "NektPublicIp", id="public-ip-carrier-grade-nat"),
    pytest.param({"pollIntervalSeconds": "-1"}, "PollIntervalSeconds", id="interval-negative"),
    pytest.param({"pollIntervalSeconds": "3601"}, "PollIntervalSeconds", id="interval-too-large"),
    pytest.param({"pollIntervalSeconds": "5.5"}, "PollIntervalSeconds", id="interval-fraction"),
    pytest.param({"pollIntervalSeconds": "five"}, "PollIntervalSeconds", id="interval-word"),
    pytest.param({"pollIntervalSeconds": ""}, "PollIntervalSeconds", id="interval-missing"),
    pytest.param({"maxPolls": "0"}, "MaxPolls", id="max-polls-zero"),
    pytest.param({"maxPolls": "10001"}, "MaxPolls", id="max-polls-too-large"),
    pytest.param({"maxPolls": "lots"}, "MaxPolls", id="max-polls-word"),
    pytest.param({"maxPolls": None}, "MaxPolls", id="max-polls-null"),
]


@pytest.mark.parametrize(("changes", "parameter"), BAD_SETTINGS)
def test_malformed_setting_is_refused_naming_the_stack_parameter(changes: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidSettings, match=rf"\bsetting {parameter}\b"):
        Settings.parse(settings(**changes))


def test_accepter_role_in_another_account_than_nekt_is_refused() -> None:
    role_elsewhere = "arn:aws:iam::222222222222:role/nekt-peering-accepter"

    with pytest.raises(InvalidSettings) as raised:
        Settings.parse(settings(nektAccepterRoleArn=role_elsewhere))

    message = str(raised.value)
    assert "NektAccepterRoleArn" in message and "222222222222" in message
    assert "NektAccountId" in message and NEKT_ACCOUNT in message


def test_accepter_role_without_external_id_is_refused() -> None:
    with pytest.raises(InvalidSettings, match="NektExternalId"):
        Settings.parse(settings(nektExternalId=""))


@pytest.mark.parametrize("raw", [None, [], "settings", 0])
def test_missing_settings_object_is_refused(raw: Any) -> None:
    with pytest.raises(InvalidSettings, match="settings"):
        Settings.parse(raw)


@pytest.mark.parametrize("value", ["²", "\u0665"], ids=["superscript-two", "arabic-indic-five"])
@pytest.mark.parametrize(("key", "parameter"), [("pollIntervalSeconds", "PollIntervalSeconds"),
                                                ("maxPolls", "MaxPolls")])
def test_non_ascii_digit_poll_setting_is_invalid_settings(key: str, parameter: str, value: str) -> None:
    """str.isdigit() is true for both; int() rejects '²' and reads '٥' as 5."""
    with pytest.raises(InvalidSettings, match=parameter):
        Settings.parse(settings(**{key: value}))


def test_non_ascii_digit_account_id_is_refused() -> None:
    arabic_indic_ones = "\u0661" * 12
    with pytest.raises(InvalidSettings, match="NektAccountId"):
        Settings.parse(settings(nektAccountId=arabic_indic_ones, nektAccepterRoleArn="", nektExternalId=""))


def test_an_aurora_cluster_s_reader_endpoint_may_be_asked_for_and_nothing_else() -> None:
    assert ConnectRequest.parse({"database": {"identifier": "orders-db", "endpoint": "reader"}}, "us-east-1").endpoint \
        == "reader"
    assert ConnectRequest.parse({"database": {"identifier": "orders-db"}}, "us-east-1").endpoint == "writer"
    with pytest.raises(InvalidInput) as refused:
        ConnectRequest.parse({"database": {"identifier": "orders-db", "endpoint": "custom"}}, "us-east-1")
    assert "endpoint" in str(refused.value)


@pytest.mark.parametrize("database", [{"identifier": "orders-db", "kind": {}}, {"identifier": "orders-db", "kind": 1},
                                      {"kind": "address", "host": ["10.0.0.1"], "port": 5432, "vpcId": "vpc-00000000"}])
def test_a_kind_or_host_of_the_wrong_type_is_the_schema_s_invalid_input_not_a_crash(database: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        ConnectRequest.parse({"database": database}, "us-east-1")
