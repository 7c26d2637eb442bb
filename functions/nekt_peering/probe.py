"""The probe: a Lambda function in the Nekt VPC that proves the path to a database, without credentials.

Given a host, a port and an engine it answers with facts: the addresses the name resolves to (with
the Nekt VPC's resolver), whether each lies in the database VPC's CIDRs, the TCP connect time, and
the server's first answer in its own protocol: PostgreSQL's reply to an SSLRequest and to a startup
message without password, the MySQL/MariaDB greeting (server version), SQL Server's prelogin
response. Any other engine gets TCP only, and the facts say so. It reads no data, sends no secret,
is bounded in time, and logs nothing but the facts.

Standard library only: it is deployed alone in the Nekt account (nekt-account/template.yaml)."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import ssl
import struct
import threading
import time
from typing import Any

DNS_TIMEOUT = 3.0
TCP_TIMEOUT = 3.0
HANDSHAKE_TIMEOUT = 3.0
PROBE_USER = "nekt_peering_probe"  # a role no database should have: the server's refusal is the answer

# Failed stages, as Verify's `Unreachable` names them.
DNS, TCP_TIMEOUT_STAGE, TCP_REFUSED, TCP_OTHER, HANDSHAKE = "DNS", "TCP timeout", "TCP refused", "TCP", "handshake"


def protocol_of(engine: str) -> str | None:
    """RDS engine name -> the protocol the probe speaks to it (None: TCP only)."""
    engine = engine.lower()
    if "postgres" in engine:
        return "postgresql"
    if engine.startswith(("mysql", "mariadb", "aurora-mysql")) or engine == "aurora":
        return "mysql"
    if engine.startswith("sqlserver"):
        return "sqlserver"
    return None


class Network:
    """Name resolution and TCP as the function's VPC gives them. The emulator substitutes its own."""

    def resolve(self, host: str, port: int) -> list[str]:
        found: list[Any] = []
        failure: list[BaseException] = []

        def lookup() -> None:
            try:
                found.extend(socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM))
            except OSError as error:
                failure.append(error)

        worker = threading.Thread(target=lookup, daemon=True)
        worker.start()
        worker.join(DNS_TIMEOUT)
        if worker.is_alive():
            raise TimeoutError(f"no answer within {DNS_TIMEOUT:g} s")
        if failure:
            raise failure[0]
        return sorted({str(info[4][0]) for info in found}, key=ipaddress.IPv4Address)

    def connect(self, address: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((address, port), timeout=timeout)


NETWORK = Network()

# One INFO record per invocation, the facts: Lambda's runtime sends it to the function's log group (its
# handler is on the root logger); elsewhere (tests, the demo) nothing prints it.
logger = logging.getLogger("nekt_peering.probe")
logger.setLevel(logging.INFO)


def probe(host: str, port: int, engine: str, cidrs: list[str] | None = None) -> dict[str, Any]:
    facts: dict[str, Any] = {"host": host, "port": port, "engine": engine, "reachable": False,
                             "failedStage": None, "detail": "", "addresses": []}
    try:
        addresses = NETWORK.resolve(host, port)
    except (OSError, UnicodeError) as error:
        return _failed(facts, DNS, f"{host} does not resolve from the Nekt VPC: {_reason(error)}")
    networks = [ipaddress.IPv4Network(cidr) for cidr in cidrs or []]
    facts["addresses"] = [{"address": address, "insideDatabaseVpc": _inside(address, networks) if cidrs else None}
                          for address in addresses]
    candidates = [a["address"] for a in facts["addresses"] if a["insideDatabaseVpc"] is not False]
    if not candidates:
        return _failed(facts, DNS, f"{host} resolves to {', '.join(addresses) or 'nothing'}, outside the database "
                       f"VPC's CIDRs ({', '.join(cidrs or [])}): the peering's DNS resolution option is off, or the "
                       "endpoint is not the database's. The probe did not connect")
    address = candidates[0]
    facts["connectedTo"] = address
    started = time.monotonic()
    try:
        connection = NETWORK.connect(address, port, TCP_TIMEOUT)
    except TimeoutError:
        return _failed(facts, TCP_TIMEOUT_STAGE, f"no answer from {address}:{port} within {TCP_TIMEOUT:g} s: a "
                       "network ACL, a route or a security group drops the traffic")
    except ConnectionRefusedError:
        return _failed(facts, TCP_REFUSED, f"{address} refused TCP {port}: nothing listens on that port")
    except OSError as error:
        return _failed(facts, TCP_OTHER, f"TCP to {address}:{port} failed: {_reason(error)}")
    facts["tcpConnectMs"] = round((time.monotonic() - started) * 1000, 1)
    protocol = protocol_of(engine)
    with connection:
        connection.settimeout(HANDSHAKE_TIMEOUT)
        try:
            if protocol is None:
                facts["handshake"] = {"protocol": None, "note": f"TCP only: the probe does not speak {engine}"}
            else:
                facts["handshake"] = HANDSHAKES[protocol](connection, host)
        except (OSError, ValueError, ssl.SSLError) as error:
            return _failed(facts, HANDSHAKE, f"TCP {port} is open on {address} but the server did not answer as "
                           f"{protocol}: {_reason(error)}")
    facts["reachable"] = True
    facts["detail"] = (f"{host} ({address}) answered on TCP {port} in {facts['tcpConnectMs']} ms"
                       + (f"; {facts['handshake']['summary']}" if protocol else "; TCP only"))
    return facts


def _failed(facts: dict[str, Any], stage: str, detail: str) -> dict[str, Any]:
    return {**facts, "failedStage": stage, "detail": detail}


def _inside(address: str, networks: list[ipaddress.IPv4Network]) -> bool:
    return any(ipaddress.IPv4Address(address) in network for network in networks)


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _receive(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ValueError(f"the server closed the connection after {len(data)} of {size} bytes")
        data += chunk
    return data


# PostgreSQL: protocol 3.0 (postgresql.org/docs/current/protocol-message-formats.html).
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
PROTOCOL_3 = 196608
AUTHENTICATION = {0: "none (trust)", 3: "a cleartext password", 5: "an MD5 password", 10: "SASL (SCRAM)"}


def postgresql(connection: socket.socket, host: str) -> dict[str, Any]:
    """SSLRequest, then a startup message without password; the server's answer is the fact."""
    connection.sendall(SSL_REQUEST)
    answer = _receive(connection, 1)
    if answer not in (b"S", b"N"):
        raise ValueError(f"the SSLRequest was answered {answer!r}, not S or N")
    stream: Any = connection
    if answer == b"S":
        context = ssl.create_default_context()
        # Only the server's answer matters and nothing secret is sent: any certificate will do.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        stream = context.wrap_socket(connection, server_hostname=host)
    parameters = b"".join(f"{key}\0{value}\0".encode() for key, value in
                          (("user", PROBE_USER), ("database", PROBE_USER), ("application_name", "nekt-peering-probe")))
    body = struct.pack("!i", PROTOCOL_3) + parameters + b"\0"
    stream.sendall(struct.pack("!i", len(body) + 4) + body)
    kind = _receive(stream, 1)
    length = struct.unpack("!i", _receive(stream, 4))[0]
    if kind not in (b"R", b"E") or not 8 <= length <= 65536:
        raise ValueError(f"the startup was answered with message {kind!r} of {length} bytes")
    payload = _receive(stream, length - 4)
    facts: dict[str, Any] = {"protocol": "postgresql", "tls": answer == b"S"}
    if kind == b"R":
        method = struct.unpack("!i", payload[:4])[0]
        facts["authentication"] = AUTHENTICATION.get(method, f"method {method}")
        facts["summary"] = f"PostgreSQL asks for {facts['authentication']}"
        if method == 0:  # trust: leave before any query
            stream.sendall(b"X" + struct.pack("!i", 4))
    else:
        fields = {chr(part[0]): part[1:].decode(errors="replace") for part in payload.split(b"\0") if part}
        facts["serverError"] = {"severity": fields.get("V", fields.get("S", "")), "code": fields.get("C", ""),
                                "message": fields.get("M", "")}
        facts["summary"] = f"PostgreSQL refused the probe's user ({fields.get('C', '')}: {fields.get('M', '')})"
    facts["summary"] += " over TLS" if facts["tls"] else " without TLS"
    return facts


def mysql(connection: socket.socket, host: str) -> dict[str, Any]:
    """The server speaks first: its greeting (protocol 10) carries the version; an error packet is an answer too."""
    length = int.from_bytes(_receive(connection, 3), "little")
    _receive(connection, 1)  # sequence id
    if not 1 <= length <= 65536:
        raise ValueError(f"a first packet of {length} bytes is no MySQL greeting")
    payload = _receive(connection, length)
    if payload[0] == 0xFF:
        code = int.from_bytes(payload[1:3], "little")
        message = payload[3:].decode(errors="replace")
        return {"protocol": "mysql", "serverError": {"code": code, "message": message},
                "summary": f"MySQL refused the probe ({code}: {message})"}
    if payload[0] != 10:
        raise ValueError(f"protocol version {payload[0]} in the greeting, not 10")
    version = payload[1:payload.index(b"\0", 1)].decode(errors="replace")
    return {"protocol": "mysql", "protocolVersion": 10, "serverVersion": version,
            "summary": f"MySQL protocol 10 greeting, server {version}"}


def sqlserver(connection: socket.socket, host: str) -> dict[str, Any]:
    """A TDS PRELOGIN with VERSION and ENCRYPTION options; the reply's VERSION is the server's."""
    options = struct.pack("!BHH", 0x00, 11, 6) + struct.pack("!BHH", 0x01, 17, 1) + b"\xff"
    payload = options + bytes(6) + b"\x02"  # our version: zeros; encryption: not supported (no login follows)
    connection.sendall(struct.pack("!BBHHBB", 0x12, 0x01, len(payload) + 8, 0, 1, 0) + payload)
    header = _receive(connection, 8)
    kind, _, length = struct.unpack("!BBH", header[:4])
    if kind != 0x04 or not 8 < length <= 4096:
        raise ValueError(f"the prelogin was answered with TDS packet type {kind} of {length} bytes")
    reply = _receive(connection, length - 8)
    position = 0
    while position < len(reply) and reply[position] != 0xFF:
        token, offset, size = struct.unpack("!BHH", reply[position:position + 5])
        if token == 0x00 and size >= 6:
            major, minor, build = struct.unpack("!BBH", reply[offset:offset + 4])
            version = f"{major}.{minor}.{build}"
            return {"protocol": "sqlserver", "serverVersion": version,
                    "summary": f"SQL Server prelogin response, version {version}"}
        position += 5
    raise ValueError("the prelogin response has no VERSION option")


HANDSHAKES = {"postgresql": postgresql, "mysql": mysql, "sqlserver": sqlserver}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """{"host", "port", "engine", "cidrs"?} -> the facts. Refuses anything else before any packet."""
    host, port, engine, cidrs = event.get("host"), event.get("port"), event.get("engine"), event.get("cidrs")
    if not (isinstance(host, str) and 0 < len(host) <= 253 and host.isascii() and not host.startswith("-")
            and isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535
            and isinstance(engine, str) and 0 < len(engine) <= 64
            and (cidrs is None or (isinstance(cidrs, list) and len(cidrs) <= 5 and all(map(_is_cidr, cidrs))))):
        raise ValueError('expected {"host": a DNS name, "port": 1-65535, "engine": an RDS engine, '
                         '"cidrs": up to 5 IPv4 CIDRs (optional)}')
    facts = probe(host, port, engine, cidrs)
    logger.info(json.dumps({"probe": facts}))  # the facts, and nothing else, are the function's log
    return facts


def _is_cidr(value: Any) -> bool:
    try:
        ipaddress.IPv4Network(value)
    except (ValueError, TypeError):
        return False
    return isinstance(value, str)
