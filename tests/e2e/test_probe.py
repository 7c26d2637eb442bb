"""The probe's handshakes against real servers on 127.0.0.1 (PostgreSQL, a TLS-only PostgreSQL,
MariaDB), started by the test session: up, down, on the wrong port, the wrong engine; and, with TLS,
whether the server's certificate covers the name the probe connected by (the database's, or a resource
endpoint's, resolved by the emulated network to the same server). No fake server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.databases import MariaDbServer, PostgresServer, free_port
from emulator.network import EmulatedNetwork
from nekt_peering import probe
from nekt_peering.probe import handler, protocol_of

LOOPBACK = "127.0.0.1"
INSIDE = ["127.0.0.0/8"]  # the loopback stands for the database VPC here
# Issue #22: the database's name, which its certificate covers, and a resource endpoint's for it, which it does not.
DATABASE, DATABASE_ADDRESS = "orders-db.cluster-abc.us-east-1.rds.amazonaws.com", "10.100.1.10"
ENDPOINT, ENDPOINT_ADDRESS = "vpce-0abc123.rcfg-0def456.4232ccc.vpc-lattice-rsc.us-east-1.on.aws", "10.0.2.20"


def run(port: int, engine: str, cidrs: list[str] | None = INSIDE) -> dict[str, Any]:
    return handler({"host": LOOPBACK, "port": port, "engine": engine, "cidrs": cidrs}, None)


def test_postgresql_answers_the_ssl_request_and_asks_for_a_password(postgres: PostgresServer) -> None:
    facts = run(postgres.port, "postgres")

    assert facts["reachable"] is True and facts["failedStage"] is None
    assert facts["addresses"] == [{"address": LOOPBACK, "insideDatabaseVpc": True}]
    assert facts["connectedTo"] == LOOPBACK and facts["tcpConnectMs"] >= 0
    handshake = facts["handshake"]
    # This build has no SSL: it answers the SSLRequest N; the startup without password gets SCRAM asked.
    assert handshake["protocol"] == "postgresql" and handshake["tls"] is False
    assert handshake["authentication"] == "SASL (SCRAM)"
    assert "PostgreSQL asks for SASL (SCRAM) without TLS" in facts["detail"]


def test_tls_only_postgresql_is_reached_over_tls(postgres_tls_only: PostgresServer) -> None:
    facts = run(postgres_tls_only.port, "aurora-postgresql")

    assert facts["reachable"] is True
    assert facts["handshake"]["tls"] is True and facts["handshake"]["authentication"] == "SASL (SCRAM)"
    # Its certificate is for localhost, by its CN: an IP address is matched against IP address entries only.
    certificate = facts["handshake"]["certificate"]
    assert certificate["host"] == LOOPBACK and certificate["names"] == ["localhost"]
    assert certificate["coversHost"] is False


@pytest.fixture(scope="module")
def postgres_for_database() -> Iterator[PostgresServer]:
    server = PostgresServer(tls_only=True, certificate_names=[DATABASE]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mariadb_for_database() -> Iterator[MariaDbServer]:
    server = MariaDbServer(tls=True, certificate_names=[DATABASE]).start()
    yield server
    server.stop()


@pytest.fixture
def network() -> Iterator[EmulatedNetwork]:
    """The database's name and the resource endpoint's both lead to the server on 127.0.0.1."""
    emulated = EmulatedNetwork().install()
    emulated.place(DATABASE, DATABASE_ADDRESS)
    emulated.place(ENDPOINT, ENDPOINT_ADDRESS)
    yield emulated
    emulated.uninstall()


def by_name(host: str, port: int, engine: str) -> dict[str, Any]:
    return handler({"host": host, "port": port, "engine": engine}, None)


def test_a_certificate_for_the_database_s_name_covers_it(postgres_for_database: PostgresServer,
                                                        network: EmulatedNetwork) -> None:
    facts = by_name(DATABASE, postgres_for_database.port, "aurora-postgresql")

    assert facts["reachable"] is True and facts["connectedTo"] == DATABASE_ADDRESS
    certificate = facts["handshake"]["certificate"]
    assert {key: certificate[key] for key in ("host", "names", "coversHost")} == {
        "host": DATABASE, "names": [DATABASE], "coversHost": True}
    assert certificate["notAfter"].endswith("Z")
    assert facts["detail"].endswith(f"PostgreSQL asks for SASL (SCRAM) over TLS; its certificate covers {DATABASE}")


def test_through_a_resource_endpoint_s_name_the_certificate_does_not_verify(postgres_for_database: PostgresServer,
                                                                             network: EmulatedNetwork) -> None:
    """The same server by the endpoint's name: reachable all the same (a fact, not a refusal), and the
    summary says what a client verifying the name would do, and what to do instead."""
    facts = by_name(ENDPOINT, postgres_for_database.port, "aurora-postgresql")

    assert facts["reachable"] is True and facts["connectedTo"] == ENDPOINT_ADDRESS
    certificate = facts["handshake"]["certificate"]
    assert certificate["host"] == ENDPOINT and certificate["names"] == [DATABASE]
    assert certificate["coversHost"] is False
    assert facts["detail"].endswith(
        f"over TLS; its certificate names {DATABASE}, not {ENDPOINT}: a client verifying the name "
        "(sslmode=verify-full) would refuse it; use sslmode=verify-ca with the issuer's CA, or connect by a name "
        "the certificate covers")


def test_mariadb_offering_tls_shows_its_certificate_by_either_name(mariadb_for_database: MariaDbServer,
                                                                   network: EmulatedNetwork) -> None:
    covered = by_name(DATABASE, mariadb_for_database.port, "mariadb")["handshake"]
    refused = by_name(ENDPOINT, mariadb_for_database.port, "mariadb")["handshake"]

    assert covered["tls"] is True and covered["certificate"]["coversHost"] is True
    assert covered["summary"].endswith(f", TLS offered; its certificate covers {DATABASE}")
    assert refused["certificate"]["coversHost"] is False and refused["certificate"]["names"] == [DATABASE]
    assert "a client verifying the name (ssl-mode=VERIFY_IDENTITY) would refuse it; use ssl-mode=VERIFY_CA" \
        in refused["summary"]


def test_mariadb_greets_with_its_version(mariadb: MariaDbServer) -> None:
    facts = run(mariadb.port, "mariadb")

    assert facts["reachable"] is True
    assert facts["handshake"]["protocolVersion"] == 10
    assert "MariaDB" in facts["handshake"]["serverVersion"]
    assert facts["handshake"]["tls"] is False and "certificate" not in facts["handshake"]  # none configured
    assert facts["handshake"]["serverVersion"] in facts["detail"]


@pytest.mark.parametrize("engine", ["postgres", "mysql", "sqlserver-se", "oracle-ee"])
def test_nothing_listening_is_tcp_refused_whatever_the_engine(engine: str) -> None:
    facts = run(free_port(), engine)

    assert facts["reachable"] is False and facts["failedStage"] == "TCP refused"
    assert "handshake" not in facts and "nothing listens on that port" in facts["detail"]


def test_a_server_that_stopped_is_tcp_refused() -> None:
    server = PostgresServer().start()
    port = server.port
    assert run(port, "postgres")["reachable"] is True
    server.stop()

    facts = run(port, "postgres")

    assert facts["failedStage"] == "TCP refused"


def test_a_stopped_mariadb_is_tcp_refused() -> None:
    server = MariaDbServer().start()
    port = server.port
    assert run(port, "mysql")["reachable"] is True
    server.stop()

    assert run(port, "mysql")["failedStage"] == "TCP refused"


def test_the_wrong_engine_on_the_port_fails_the_handshake(postgres: PostgresServer, mariadb: MariaDbServer) -> None:
    """PostgreSQL expected where MariaDB listens (a database on another port than the one configured)."""
    facts = run(mariadb.port, "postgres")

    assert facts["reachable"] is False and facts["failedStage"] == "handshake"
    assert "did not answer as postgresql" in facts["detail"]
    # MySQL expected where PostgreSQL listens: PostgreSQL waits for the client, so no greeting comes.
    assert run(postgres.port, "mysql")["failedStage"] == "handshake"


def test_an_engine_the_probe_cannot_speak_is_tcp_only_and_says_so(postgres: PostgresServer) -> None:
    facts = run(postgres.port, "oracle-ee")

    assert facts["reachable"] is True
    assert facts["handshake"] == {"protocol": None, "note": "TCP only: the probe does not speak oracle-ee"}
    assert facts["detail"].endswith("; TCP only")


def test_an_address_outside_the_database_vpc_is_not_connected_to(postgres: PostgresServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    connected: list[str] = []
    monkeypatch.setattr(probe.NETWORK, "connect", lambda address, port, timeout: connected.append(address))

    facts = run(postgres.port, "postgres", cidrs=["10.0.0.0/16"])

    assert facts["failedStage"] == "DNS" and connected == []
    assert facts["addresses"] == [{"address": LOOPBACK, "insideDatabaseVpc": False}]
    assert "outside the database VPC's CIDRs (10.0.0.0/16)" in facts["detail"]


def test_the_probe_logs_its_facts_and_nothing_else(postgres: PostgresServer, caplog: pytest.LogCaptureFixture,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with caplog.at_level(logging.DEBUG):
        facts = run(postgres.port, "postgres")

    assert [(record.name, record.levelno, record.getMessage()) for record in caplog.records] == [
        ("nekt_peering.probe", logging.INFO, json.dumps({"probe": facts}))]
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("engine", "protocol"), [
    ("postgres", "postgresql"), ("aurora-postgresql", "postgresql"), ("mysql", "mysql"), ("mariadb", "mysql"),
    ("aurora-mysql", "mysql"), ("aurora", "mysql"), ("sqlserver-ex", "sqlserver"), ("oracle-se2", None),
    ("db2-ae", None),
])
def test_rds_engines_map_to_the_protocol_spoken(engine: str, protocol: str | None) -> None:
    assert protocol_of(engine) == protocol
