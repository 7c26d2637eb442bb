"""The probe's reading of a server certificate (nekt_peering.probe), without a server: its DER reader on
real certificates, and whether their names cover a host, checked against Python's own ssl.

The certificates are made in the test by emulator/certificates.py (cryptography, an encoder independent
of the probe's reader) rather than committed as fixtures: each case states its names where it is used,
nothing expires, and the reader meets the DER a real library writes, signature and extensions included.
Python's ssl is the referee for the names: an in-memory TLS handshake (no socket) with check_hostname on
must agree with `coversHost` on every case."""

from __future__ import annotations

import datetime
import socket
import ssl
import struct
from pathlib import Path

import pytest
from cryptography import x509

from emulator.certificates import self_signed
from nekt_peering import probe
from nekt_peering.probe import certificate_facts, certificate_summary, covers, read_certificate

DATABASE = "orders-db.cluster-abc.us-east-1.rds.amazonaws.com"
ENDPOINT = "vpce-0abc123.rcfg-0def456.4232ccc.vpc-lattice-rsc.us-east-1.on.aws"  # a resource endpoint's name


def der(pem: bytes) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.decode())


@pytest.mark.parametrize(("common_name", "dns_names", "ip_addresses", "days"), [
    ("localhost", [], [], 1),  # what the emulator's TLS servers use by default: a CN, no subjectAltName
    (DATABASE, [DATABASE, "orders-db.cluster-ro-abc.us-east-1.rds.amazonaws.com"], ["10.0.1.10"], 365),
    (None, ["*.example.com"], ["::1", "192.0.2.7"], 1),  # no subject at all: the subjectAltName is critical
    ("Ünïcode CN", [], [], 40 * 365),  # UTF8String; notAfter after 2049 is a GeneralizedTime
])
def test_the_reader_finds_what_cryptography_finds(common_name: str | None, dns_names: list[str],
                                                  ip_addresses: list[str], days: int) -> None:
    _, pem = self_signed(common_name, dns_names, ip_addresses, days=days)
    expected = x509.load_pem_x509_certificate(pem)

    certificate = read_certificate(der(pem))

    assert certificate.common_names == ([common_name] if common_name else [])
    assert certificate.dns_names == dns_names
    assert certificate.ip_addresses == ip_addresses
    not_after = expected.not_valid_after_utc.replace(tzinfo=None)
    assert datetime.datetime.fromisoformat(certificate.not_after.removesuffix("Z")) == not_after


@pytest.mark.parametrize("broken", [
    b"", b"\x30", b"\x30\x82\xff\xff\x00", b"\x04\x00", b"\x30\x00", b"\x30\x02\x30\x00", b"not a certificate"])
def test_an_unreadable_certificate_is_a_fact_not_a_failure(broken: bytes) -> None:
    facts = certificate_facts(broken, DATABASE)

    assert facts["host"] == DATABASE and facts["error"].startswith("unreadable certificate: ")
    assert "coversHost" not in facts


def test_no_certificate_at_all_is_said() -> None:
    assert certificate_facts(None, DATABASE) == {"host": DATABASE, "error": "the server sent no certificate"}


# (CN, subjectAltName DNS names, subjectAltName IP addresses, host, covered)
NAME_CASES = [
    pytest.param(DATABASE, [DATABASE], [], DATABASE, True, id="exact"),
    pytest.param(DATABASE, [DATABASE], [], DATABASE.upper(), True, id="case-insensitive"),
    pytest.param(DATABASE, [DATABASE], [], ENDPOINT, False, id="a resource endpoint's name"),
    pytest.param(None, ["*.cluster-abc.us-east-1.rds.amazonaws.com"], [], DATABASE, True, id="wildcard"),
    pytest.param(None, ["*.cluster-abc.us-east-1.rds.amazonaws.com"], [], "a." + DATABASE, False,
                 id="wildcard, one label only"),
    pytest.param(None, ["*.example.com"], [], "example.com", False, id="wildcard, not the bare domain"),
    pytest.param(None, ["*.com"], [], "example.com", False, id="wildcard over a single label"),
    pytest.param(None, ["orders*.example.com"], [], "orders-db.example.com", False, id="partial wildcard"),
    pytest.param(None, ["a.*.example.com"], [], "a.b.example.com", False, id="wildcard not left-most"),
    pytest.param(None, ["*.example.com"], [], "a_b.example.com", False, id="wildcard, not over an underscore"),
    pytest.param(DATABASE, [], [], DATABASE, True, id="CN when no subjectAltName"),
    pytest.param(DATABASE, ["other.example.com"], [], DATABASE, False, id="subjectAltName before CN"),
    pytest.param(DATABASE, [], ["10.0.1.10"], DATABASE, True, id="CN when the subjectAltName has no DNS name"),
    pytest.param(None, [], ["127.0.0.1"], "127.0.0.1", True, id="IP address"),
    pytest.param(None, ["localhost"], ["::1"], "::1", True, id="IPv6 address"),
    pytest.param("127.0.0.1", [], [], "127.0.0.1", False, id="IP address, never the CN"),
    pytest.param(None, ["127.0.0.1"], [], "127.0.0.1", False, id="IP address, never a DNS name"),
    pytest.param(None, [], ["10.0.1.10"], "127.0.0.1", False, id="another IP address"),
]


@pytest.mark.parametrize(("common_name", "dns_names", "ip_addresses", "host", "covered"), NAME_CASES)
def test_covers_host(common_name: str | None, dns_names: list[str], ip_addresses: list[str], host: str,
                     covered: bool) -> None:
    _, pem = self_signed(common_name, dns_names, ip_addresses)

    facts = certificate_facts(der(pem), host)

    assert facts["coversHost"] is covered and covers(read_certificate(der(pem)), host) is covered


@pytest.mark.parametrize(("common_name", "dns_names", "ip_addresses", "host", "covered"), NAME_CASES)
def test_python_s_own_ssl_agrees(common_name: str | None, dns_names: list[str], ip_addresses: list[str],
                                 host: str, covered: bool, tmp_path: Path) -> None:
    key, pem = self_signed(common_name, dns_names, ip_addresses)

    assert verifying_client_accepts(key, pem, host, tmp_path) is covered


def verifying_client_accepts(key: bytes, pem: bytes, host: str, directory: Path) -> bool:
    """A TLS handshake in memory: a server with this certificate, a client trusting it and checking `host`
    (check_hostname, as sslmode=verify-full does); False when the client refuses the name."""
    (directory / "key.pem").write_bytes(key)
    (directory / "certificate.pem").write_bytes(pem)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(directory / "certificate.pem", directory / "key.pem")
    client_context = ssl.create_default_context(cadata=pem.decode())
    client_context.verify_flags &= ~ssl.VERIFY_X509_STRICT  # it wants CA extensions; the names are the question
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_context.wrap_bio(client_in, client_out, server_hostname=host)
    server = server_context.wrap_bio(server_in, server_out, server_side=True)
    for _ in range(5):  # TLS 1.3 takes two round trips; the client verifies the name in the second
        for side in (client, server):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLCertVerificationError as error:
                if error.verify_code not in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
                    raise
                return False
        server_in.write(client_out.read())
        client_in.write(server_out.read())
    client.do_handshake()  # done: raises nothing more
    return True


def test_the_summary_says_whether_a_verifying_client_would_accept_the_name() -> None:
    _, pem = self_signed(DATABASE, [DATABASE, "orders-db.cluster-ro-abc.us-east-1.rds.amazonaws.com"])

    covered = certificate_summary(certificate_facts(der(pem), DATABASE), "sslmode=verify-full", "sslmode=verify-ca")
    refused = certificate_summary(certificate_facts(der(pem), ENDPOINT), "sslmode=verify-full", "sslmode=verify-ca")

    assert covered == f"its certificate covers {DATABASE}"
    assert refused == (f"its certificate names {DATABASE}, orders-db.cluster-ro-abc.us-east-1.rds.amazonaws.com, "
                       f"not {ENDPOINT}: a client verifying the name (sslmode=verify-full) would refuse it; use "
                       "sslmode=verify-ca with the issuer's CA, or connect by a name the certificate covers")
    assert certificate_summary(certificate_facts(None, DATABASE), "-", "-") == (
        "its certificate was not read (the server sent no certificate)")


def test_a_mysql_server_that_offers_tls_but_fails_it_still_answered_as_mysql() -> None:
    """Over a socket pair: a protocol 10 greeting with CLIENT_SSL, then bytes that are no TLS record."""
    ours, theirs = socket.socketpair()
    greeting = b"\x0a" + b"8.0.36\0" + bytes(4) + bytes(8) + b"\0" + struct.pack("<H", probe.CLIENT_SSL) + bytes(16)
    theirs.sendall(len(greeting).to_bytes(3, "little") + b"\0" + greeting + b"HTTP/1.1 400 Bad Request\r\n\r\n")
    with ours, theirs:
        facts = probe.mysql(ours, DATABASE)
        request = theirs.recv(36)

    assert request[:4] == b"\x20\x00\x00\x01" and struct.unpack("<I", request[4:8])[0] & probe.CLIENT_SSL
    assert facts["tls"] is True and facts["serverVersion"] == "8.0.36"
    assert facts["certificate"]["host"] == DATABASE
    assert facts["certificate"]["error"].startswith("the TLS handshake failed: ")
    assert facts["summary"].startswith("MySQL protocol 10 greeting, server 8.0.36, TLS offered; its certificate was "
                                       "not read (the TLS handshake failed: ")
