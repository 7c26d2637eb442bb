"""The probe's handshakes against real servers on 127.0.0.1 (PostgreSQL, a TLS-only PostgreSQL,
MariaDB), started by the test session: up, down, on the wrong port, the wrong engine; and, with TLS,
whether the server's certificate covers the name the probe connected by (the database's, or a resource
endpoint's, resolved by the emulated network to the same server).

MongoDB/DocumentDB and Oracle have no server a fresh machine can install from the repository's own files:
their handshakes run against servers built from the protocols' specifications (emulator/wire_servers.py),
each checked here against a real client first (pymongo, python-oracledb's thin mode), so that a server and
the probe cannot agree on a mistake."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import oracledb
import pymongo
import pytest
from pymongo.server_api import ServerApi

from emulator.databases import MariaDbServer, PostgresServer, free_port
from emulator.network import EmulatedNetwork
from emulator.wire_servers import MongoWireServer, TnsListener
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
    facts = run(postgres.port, "db2-se")

    assert facts["reachable"] is True
    assert facts["handshake"] == {"protocol": None, "note": "TCP only: the probe does not speak db2-se"}
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
    ("aurora-mysql", "mysql"), ("aurora", "mysql"), ("sqlserver-ex", "sqlserver"), ("oracle-se2", "oracle"),
    ("docdb", "mongodb"), ("mongodb", "mongodb"), ("db2-ae", None),
])
def test_rds_engines_map_to_the_protocol_spoken(engine: str, protocol: str | None) -> None:
    assert protocol_of(engine) == protocol


# --- MongoDB and DocumentDB: hello over TLS, else without (servers from the specification, above) -------------


@pytest.fixture(scope="module")
def documentdb() -> Iterator[MongoWireServer]:
    """As a DocumentDB cluster answers: TLS required, a replica set (rs0), a certificate for its name."""
    server = MongoWireServer(tls=True, certificate_names=[DATABASE], set_name="rs0").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mongodb_without_tls() -> Iterator[MongoWireServer]:
    server = MongoWireServer().start()
    yield server
    server.stop()


def test_pymongo_reads_the_specification_s_servers_as_mongodb(documentdb: MongoWireServer,
                                                              mongodb_without_tls: MongoWireServer) -> None:
    """The servers the probe is tested against, checked by MongoDB's own Python driver: its handshake (hello in
    an OP_MSG, with a declared API version) and a hello command, with and without TLS."""
    for server, tls, set_name in ((documentdb, True, "rs0"), (mongodb_without_tls, False, None)):
        options = {"tls": True, "tlsAllowInvalidCertificates": True} if tls else {}
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            LOOPBACK, server.port, directConnection=True, server_api=ServerApi("1"), serverSelectionTimeoutMS=5000,
            **options)
        with client:
            hello = client.admin.command("hello")
        assert hello["ok"] == 1.0 and hello["isWritablePrimary"] is True and hello["maxWireVersion"] == 21
        assert hello.get("setName") == set_name and any("hello" in command for command in server.commands)


def test_documentdb_answers_hello_over_tls_with_a_certificate_for_its_name(documentdb: MongoWireServer,
                                                                          network: EmulatedNetwork) -> None:
    facts = by_name(DATABASE, documentdb.port, "docdb")

    assert facts["reachable"] is True and facts["connectedTo"] == DATABASE_ADDRESS
    handshake = facts["handshake"]
    assert {key: handshake[key] for key in ("protocol", "command", "tls", "isWritablePrimary", "minWireVersion",
                                            "maxWireVersion", "setName")} == {
        "protocol": "mongodb", "command": "hello", "tls": True, "isWritablePrimary": True, "minWireVersion": 0,
        "maxWireVersion": 21, "setName": "rs0"}
    assert handshake["certificate"]["coversHost"] is True and handshake["certificate"]["names"] == [DATABASE]
    assert documentdb.commands[-1] == {"hello": 1, "$db": "admin"}  # as pymongo's bson reads what the probe sent
    assert facts["detail"].endswith("MongoDB answered hello: the writable primary, wire versions 0-21, replica set "
                                    f"rs0 over TLS; its certificate covers {DATABASE}")


def test_through_a_resource_endpoint_documentdb_s_certificate_does_not_cover_the_name(
        documentdb: MongoWireServer, network: EmulatedNetwork) -> None:
    handshake = by_name(ENDPOINT, documentdb.port, "docdb")["handshake"]

    assert handshake["tls"] is True and handshake["certificate"]["coversHost"] is False
    assert f"not {ENDPOINT}: a client verifying the name (tls=true) would refuse it; use " \
        "tlsAllowInvalidHostnames=true" in handshake["summary"]


def test_a_mongodb_without_tls_is_asked_again_without_it(mongodb_without_tls: MongoWireServer) -> None:
    """A plain mongod closes a connection that starts with a TLS handshake: the probe's second connection
    asks hello in the clear, and says so."""
    before = mongodb_without_tls.connections

    facts = run(mongodb_without_tls.port, "mongodb")

    assert facts["reachable"] is True and mongodb_without_tls.connections == before + 2
    assert facts["handshake"]["tls"] is False and "certificate" not in facts["handshake"]
    assert facts["handshake"]["isWritablePrimary"] is True
    assert "wire versions 0-21 without TLS (the TLS handshake failed" in facts["detail"]


def test_a_secondary_older_than_hello_is_asked_is_master() -> None:
    server = MongoWireServer(set_name="rs0", primary=False, knows_hello=False).start()
    try:
        handshake = run(server.port, "mongodb")["handshake"]
    finally:
        server.stop()

    assert [next(iter(command)) for command in server.commands] == ["hello", "isMaster"]
    assert handshake["command"] == "isMaster" and handshake["isWritablePrimary"] is False
    assert handshake["summary"].startswith("MongoDB answered isMaster: not the writable primary")


def test_mongodb_expected_where_postgresql_listens_fails_the_handshake(postgres: PostgresServer) -> None:
    facts = run(postgres.port, "docdb")

    assert facts["reachable"] is False and facts["failedStage"] == "handshake"
    assert "did not answer as mongodb" in facts["detail"]


# --- Oracle: a TNS CONNECT for a service no database has -----------------------------------------------------


@pytest.fixture(scope="module")
def oracle_listener() -> Iterator[TnsListener]:
    listener = TnsListener(services=["ORCL"]).start()
    yield listener
    listener.stop()


def test_python_oracledb_is_refused_by_the_specification_s_listener_as_by_oracle_s(
        oracle_listener: TnsListener) -> None:
    """The listener the probe is tested against, checked by Oracle's Python driver (thin mode: its own TNS): the
    listener reads the service from the driver's CONNECT, and the driver reads its REFUSE as ORA-12514."""
    with pytest.raises(oracledb.OperationalError, match="ORA-12514"):
        oracledb.connect(user="nobody", password="not-a-real-password",  # noqa: S106 - refused before any login
                         dsn=f"{LOOPBACK}:{oracle_listener.port}/sales", tcp_connect_timeout=5)
    assert oracle_listener.asked[-1] == "sales"


def test_an_oracle_listener_refuses_the_probe_s_unknown_service_which_proves_the_path(
        oracle_listener: TnsListener) -> None:
    facts = run(oracle_listener.port, "oracle-ee")

    assert facts["reachable"] is True and oracle_listener.asked[-1] == "nekt_peering_probe"
    assert facts["handshake"] == {
        "protocol": "oracle", "answer": "REFUSE", "error": "ORA-12514", "listenerVersion": "19.0.0.0.0",
        "summary": "an Oracle listener refused the probe's unknown service (ORA-12514), listener version 19.0.0.0.0"}


@pytest.mark.parametrize(("listener", "answer"), [
    pytest.param(TnsListener(services=["NEKT_PEERING_PROBE"]), "ACCEPT", id="accept"),
    pytest.param(TnsListener(answer="redirect"), "REDIRECT", id="redirect"),
    pytest.param(TnsListener(answer="resend"), "RESEND", id="resend"),
])
def test_every_answer_of_an_oracle_listener_proves_the_path(listener: TnsListener, answer: str) -> None:
    listener.start()
    try:
        facts = run(listener.port, "oracle")
    finally:
        listener.stop()

    assert facts["reachable"] is True and facts["handshake"]["answer"] == answer
    if answer == "REDIRECT":
        assert facts["handshake"]["redirect"] == "(ADDRESS=(PROTOCOL=TCP)(HOST=10.0.1.11)(PORT=1522))"


def test_oracle_expected_where_mariadb_listens_fails_the_handshake(mariadb: MariaDbServer) -> None:
    """MariaDB speaks first, its greeting is no TNS packet."""
    facts = run(mariadb.port, "oracle-se2")

    assert facts["failedStage"] == "handshake" and "did not answer as oracle" in facts["detail"]
