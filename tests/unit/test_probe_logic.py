"""The probe's logic without a server (tests/e2e/test_probe.py has its handshakes against real ones): its
input refused before any packet, its imports, the SQL Server prelogin parsed from a socket pair, its BSON
checked against pymongo's `bson` (an independent implementation), and its TNS CONNECT packet's layout."""

from __future__ import annotations

import socket
import struct
import sys
from pathlib import Path
from typing import Any

import bson
import pytest

from nekt_peering import probe
from nekt_peering.probe import handler


@pytest.mark.parametrize("event", [
    {}, {"host": "db", "port": 0, "engine": "postgres"}, {"host": "db", "port": True, "engine": "postgres"},
    {"host": "-x", "port": 5432, "engine": "postgres"}, {"host": "db", "port": 5432, "engine": ""},
    {"host": "db", "port": 5432, "engine": "postgres", "cidrs": ["10.0.0.1/16"]},
    {"host": "db", "port": 5432, "engine": "postgres", "cidrs": "10.0.0.0/16"},
])
def test_a_malformed_request_is_refused_before_any_packet(event: dict[str, Any],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe.NETWORK, "resolve", lambda host, port: pytest.fail("resolved"))

    with pytest.raises(ValueError, match="expected"):
        handler(event, None)


def test_the_probe_imports_only_the_standard_library() -> None:
    """It is deployed alone in the Nekt account: nothing of the workflow's package or its dependencies."""
    source = Path(probe.__file__).read_text()
    imported = {line.split()[1].split(".")[0] for line in source.splitlines()
                if line.startswith(("import ", "from ")) and not line.startswith("from __future__")}
    assert imported and imported <= sys.stdlib_module_names


def test_sqlserver_prelogin_is_sent_as_ms_tds_says_and_the_version_read_from_the_answer() -> None:
    """No SQL Server installs here: the parser alone, on a PRELOGIN response laid out as MS-TDS 2.2.6.5
    specifies (VERSION 16.0.1000, ENCRYPTION off), over a socket pair."""
    ours, theirs = socket.socketpair()
    options = struct.pack("!BHH", 0x00, 11, 6) + struct.pack("!BHH", 0x01, 17, 1) + b"\xff"
    payload = options + struct.pack("!BBHH", 16, 0, 1000, 0) + b"\x00"
    theirs.sendall(struct.pack("!BBHHBB", 0x04, 0x01, len(payload) + 8, 0, 1, 0) + payload)
    with ours, theirs:
        facts = probe.sqlserver(ours, "db")
        sent = theirs.recv(4096)

    assert facts == {"protocol": "sqlserver", "serverVersion": "16.0.1000",
                     "summary": "SQL Server prelogin response, version 16.0.1000"}
    assert sent[0] == 0x12 and struct.unpack("!H", sent[2:4])[0] == len(sent)  # a PRELOGIN packet, whole


@pytest.mark.parametrize(("engine", "protocol"), [
    ("postgres", "postgresql"), ("aurora-postgresql", "postgresql"), ("redshift", "postgresql"),
    ("mysql", "mysql"), ("mariadb", "mysql"), ("sqlserver-ee", "sqlserver"), ("oracle-ee", "oracle"),
    ("oracle", "oracle"), ("custom-oracle-ee-cdb", "oracle"), ("mongodb", "mongodb"), ("docdb", "mongodb"),
    ("db2-se", None),
])
def test_each_engine_is_spoken_to_in_its_protocol_or_by_tcp_alone(engine: str, protocol: str | None) -> None:
    assert probe.protocol_of(engine) == protocol


@pytest.mark.parametrize("command", [
    {"hello": 1, "$db": "admin"}, {"isMaster": 1, "$db": "admin"},
    {"flag": True, "off": False, "name": "é-ü", "big": -2**31, "empty": ""},
])
def test_the_probe_s_bson_is_pymongo_s(command: dict[str, Any]) -> None:
    assert probe.bson_encode(command) == bson.encode(command)


def test_a_hello_reply_of_every_type_pymongo_writes_is_read() -> None:
    """A reply as a replica set member sends it (bsonspec.org's types: double, string, document, array, binary,
    ObjectId, boolean, UTC datetime, null, int32, timestamp, int64, decimal128, min and max keys)."""
    reply = {"isWritablePrimary": True, "topologyVersion": {"processId": bson.ObjectId(), "counter": bson.Int64(7)},
             "hosts": ["a:27017", "b:27017"], "setName": "rs0", "localTime": bson.datetime_ms.DatetimeMS(1),
             "lastWrite": {"opTime": {"ts": bson.Timestamp(5, 1), "t": bson.Int64(-1)}},
             "$clusterTime": {"signature": {"hash": bson.Binary(b"\1" * 20), "keyId": bson.Int64(2**40)}},
             "electionId": bson.ObjectId(), "tags": None, "ratio": 0.5, "size": bson.Decimal128("1.5"),
             "low": bson.MinKey(), "high": bson.MaxKey(), "maxWireVersion": 21, "ok": 1.0}

    read = probe.bson_decode(bson.encode(reply))

    assert list(read) == list(reply)
    assert {key: read[key] for key in ("isWritablePrimary", "hosts", "setName", "tags", "ratio", "maxWireVersion",
                                       "ok")} == {key: reply[key] for key in ("isWritablePrimary", "hosts", "setName",
                                                                            "tags", "ratio", "maxWireVersion", "ok")}
    assert read["topologyVersion"]["counter"] == 7 and read["$clusterTime"]["signature"]["keyId"] == 2**40
    assert read["$clusterTime"]["signature"]["hash"] == "01" * 20


@pytest.mark.parametrize("data", [b"", b"\x05\x00\x00\x00", b"\x06\x00\x00\x00\x00\x00",
                                  bson.encode({"a": 1})[:-1] + b"\x01", b"\x0c\x00\x00\x00\x06a\x00\x01\x02\x03\x00",
                                  b"\x0b\x00\x00\x00\x10a\x00\x01\x00\x00"])
def test_a_malformed_bson_document_is_a_value_error(data: bytes) -> None:
    """Wrong length, no terminator, a type the probe does not read (0x06, deprecated), a value past the end."""
    with pytest.raises(ValueError):
        probe.bson_decode(data)


def test_the_tns_connect_carries_its_descriptor_within_the_packet() -> None:
    """The header (length, type CONNECT), the fields' descriptor length and offset pointing at the descriptor,
    and a descriptor short enough (at most 230 bytes) to travel in the CONNECT itself."""
    packet = probe.tns_connect_packet()
    length, _, kind = struct.unpack("!HHB", packet[:5])
    version, lowest = struct.unpack("!HH", packet[8:12])
    data_length, data_offset = struct.unpack("!HH", packet[24:28])

    assert (length, kind, version, lowest) == (len(packet), 1, 318, 300)
    assert packet[data_offset:data_offset + data_length] == probe.TNS_DESCRIPTOR
    assert data_offset + data_length == len(packet) and data_length <= 230
    assert b"(SERVICE_NAME=nekt_peering_probe)" in probe.TNS_DESCRIPTOR
