"""The probe's logic without a server (tests/e2e/test_probe.py has its handshakes against real ones): its
input refused before any packet, its imports, and the SQL Server prelogin parsed from a socket pair."""

from __future__ import annotations

import socket
import struct
import sys
from pathlib import Path
from typing import Any

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
    ("mysql", "mysql"), ("mariadb", "mysql"), ("sqlserver-ee", "sqlserver"), ("oracle-ee", None), ("mongodb", None),
    ("docdb", None),
])
def test_each_engine_is_spoken_to_in_its_protocol_or_by_tcp_alone(engine: str, protocol: str | None) -> None:
    assert probe.protocol_of(engine) == protocol
