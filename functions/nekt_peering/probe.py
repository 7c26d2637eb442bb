"""The probe: a Lambda function in the Nekt VPC that proves the path to a database, without credentials.

Given a host, a port and an engine it answers with facts: the addresses the name resolves to (with
the Nekt VPC's resolver), whether each lies in the database VPC's CIDRs, the TCP connect time, and
the server's first answer in its own protocol: PostgreSQL's reply to an SSLRequest and to a startup
message without password, the MySQL/MariaDB greeting (server version), SQL Server's prelogin
response, MongoDB's and DocumentDB's answer to `hello` (over TLS when the server takes it), an Oracle
listener's answer to a TNS CONNECT. Any other engine (Db2) gets TCP only, and the facts say so. It
reads no data, sends no secret, is bounded in time, and logs nothing but the facts.

When PostgreSQL, MySQL/MariaDB or MongoDB/DocumentDB offers TLS, the probe takes it without verifying
the certificate (it sends nothing secret), then reads that certificate (a small DER reader: the subject's CN, the
subjectAltName's DNS names and IP addresses, notAfter) and says whether its names cover the host it
connected to, as a client verifying the name would check (RFC 6125; `sslmode=verify-full`,
`VERIFY_IDENTITY`): `handshake.certificate`. On a resource endpoint the host is the endpoint's name,
which a certificate made for the database's name does not cover. A fact, never a refusal.

Standard library only: it is deployed alone in the Nekt account (nekt-account/template.yaml)."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import ssl
import string
import struct
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

DNS_TIMEOUT = 3.0
TCP_TIMEOUT = 3.0
HANDSHAKE_TIMEOUT = 3.0
PROBE_USER = "nekt_peering_probe"  # a role no database should have: the server's refusal is the answer

# Failed stages, as Verify's `Unreachable` names them.
DNS, TCP_TIMEOUT_STAGE, TCP_REFUSED, TCP_OTHER, HANDSHAKE = "DNS", "TCP timeout", "TCP refused", "TCP", "handshake"


def protocol_of(engine: str) -> str | None:
    """RDS engine name (or a database kind's engine) -> the protocol the probe speaks to it (None: TCP only).
    Redshift speaks PostgreSQL's protocol (version 3); DocumentDB MongoDB's wire protocol."""
    engine = engine.lower()
    if "postgres" in engine or engine == "redshift":
        return "postgresql"
    if engine in ("mongodb", "docdb"):
        return "mongodb"
    if "oracle" in engine:  # oracle-ee, oracle-se2-cdb..., RDS Custom's custom-oracle-ee
        return "oracle"
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
            elif protocol == "mongodb":  # the one handshake that may need a second connection
                facts["handshake"] = mongodb(connection, host, lambda: NETWORK.connect(address, port, TCP_TIMEOUT))
            else:
                facts["handshake"] = HANDSHAKES[protocol](connection, host)
        except (OSError, ValueError, struct.error) as error:  # ssl.SSLError is an OSError
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
    certificate = None
    if answer == b"S":
        stream = _tls(connection, host)
        certificate = certificate_facts(stream.getpeercert(binary_form=True), host)
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
    if certificate is not None:
        facts["certificate"] = certificate
        facts["summary"] += "; " + certificate_summary(certificate, "sslmode=verify-full", "sslmode=verify-ca")
    return facts


# MySQL/MariaDB: the client/server protocol (dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html).
CLIENT_PROTOCOL_41, CLIENT_SSL, CLIENT_SECURE_CONNECTION = 0x200, 0x800, 0x8000


def mysql(connection: socket.socket, host: str) -> dict[str, Any]:
    """The server speaks first: its greeting (protocol 10) carries the version and whether it offers TLS; an
    error packet is an answer too. When TLS is offered, the probe asks for it to read the certificate."""
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
    end_of_version = payload.index(b"\0", 1)
    version = payload[1:end_of_version].decode(errors="replace")
    facts: dict[str, Any] = {"protocol": "mysql", "protocolVersion": 10, "serverVersion": version,
                             "summary": f"MySQL protocol 10 greeting, server {version}"}
    # After the version: thread id (4), the first 8 bytes of the auth data, a filler, the capabilities' low 2 bytes.
    capabilities = int.from_bytes(payload[end_of_version + 14:end_of_version + 16], "little")
    facts["tls"] = bool(capabilities & CLIENT_SSL)
    if facts["tls"]:  # an SSL request (sequence 1), TLS, and no login: the certificate is all the probe wants
        request = struct.pack("<IIB23x", CLIENT_SSL | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION, 1 << 24, 33)
        connection.sendall(len(request).to_bytes(3, "little") + b"\x01" + request)
        try:
            with _tls(connection, host) as stream:
                facts["certificate"] = certificate_facts(stream.getpeercert(binary_form=True), host)
        except (OSError, ssl.SSLError) as error:  # the greeting came: the server answered as MySQL all the same
            facts["certificate"] = {"host": host, "error": f"the TLS handshake failed: {_reason(error)}"}
        facts["summary"] += ", TLS offered; " + certificate_summary(facts["certificate"], "ssl-mode=VERIFY_IDENTITY",
                                                                     "ssl-mode=VERIFY_CA")
    return facts


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


# MongoDB (and Amazon DocumentDB): the wire protocol's OP_MSG carrying the `hello` command, whose answer
# describes the server without authentication (mongodb.com/docs/manual/reference/mongodb-wire-protocol/;
# the hello command: .../reference/command/hello/). Every integer is little-endian. A MongoDB has no in-band
# TLS upgrade: a server that requires TLS takes it from the first byte, so the probe starts with TLS (a
# DocumentDB cluster requires it unless its `tls` parameter is disabled) and, when the TLS handshake fails,
# tries once more without it on a new connection.
OP_MSG = 2013
MONGODB_MAX_REPLY = 1 << 20  # a hello reply is a few hundred bytes; the server's own limit is 48 MB
CHECKSUM_PRESENT = 1  # OP_MSG flagBits bit 0: a CRC-32C follows the sections


def mongodb(connection: socket.socket, host: str, reconnect: Callable[[], socket.socket]) -> dict[str, Any]:
    """`hello` over TLS (the certificate read as for PostgreSQL), else without TLS on `reconnect()`'s connection;
    the facts are what the server says of itself: primary or not, its wire versions, its replica set."""
    try:
        stream = _tls(connection, host)
    except OSError as refused_tls:  # an SSL error, a closed connection, or no answer: a server without TLS
        with reconnect() as plain:
            plain.settimeout(HANDSHAKE_TIMEOUT)
            facts = _hello(plain)
        facts.update(tls=False, summary=f"{facts['summary']} without TLS (the TLS handshake failed: "
                                        f"{_reason(refused_tls)})")
        return facts
    with stream:
        certificate = certificate_facts(stream.getpeercert(binary_form=True), host)
        facts = _hello(stream)
    facts.update(tls=True, certificate=certificate)
    facts["summary"] += " over TLS; " + certificate_summary(certificate, "tls=true", "tlsAllowInvalidHostnames=true")
    return facts


def _hello(stream: Any) -> dict[str, Any]:
    """One `hello`; a server too old for it (before MongoDB 4.4.2) answers ok: 0, and is asked `isMaster`."""
    reply = _command(stream, {"hello": 1, "$db": "admin"}, request_id=1)
    command = "hello"
    if reply.get("ok") != 1:
        reply, command = _command(stream, {"isMaster": 1, "$db": "admin"}, request_id=2), "isMaster"
    if reply.get("ok") != 1:
        return {"protocol": "mongodb", "command": command,
                "serverError": {"code": reply.get("code"), "message": str(reply.get("errmsg", ""))},
                "summary": f"MongoDB answered {command} with an error ({reply.get('code')}: {reply.get('errmsg')})"}
    primary = reply.get("isWritablePrimary", reply.get("ismaster"))
    facts: dict[str, Any] = {"protocol": "mongodb", "command": command, "isWritablePrimary": primary,
                             "minWireVersion": reply.get("minWireVersion"),
                             "maxWireVersion": reply.get("maxWireVersion")}
    for key in ("setName", "msg"):  # a replica set's name; "isdbgrid" from a mongos
        if isinstance(reply.get(key), str):
            facts[key] = reply[key]
    role = "the writable primary" if primary else "not the writable primary"
    replica_set = f", replica set {facts['setName']}" if "setName" in facts else ""
    facts["summary"] = (f"MongoDB answered {command}: {role}, wire versions {facts['minWireVersion']}-"
                        f"{facts['maxWireVersion']}{replica_set}")
    return facts


def _command(stream: Any, command: dict[str, Any], request_id: int) -> dict[str, Any]:
    """OP_MSG: MsgHeader {messageLength, requestID, responseTo, opCode}, flagBits, one kind-0 section (the body)."""
    body = b"\0" + bson_encode(command)
    stream.sendall(struct.pack("<iiiiI", 20 + len(body), request_id, 0, OP_MSG, 0) + body)
    length, _, response_to, opcode = struct.unpack("<iiii", _receive(stream, 16))
    if opcode != OP_MSG or response_to != request_id or not 21 <= length <= MONGODB_MAX_REPLY:
        raise ValueError(f"the reply is opCode {opcode} of {length} bytes answering request {response_to}, not an "
                         f"OP_MSG answering {request_id}")
    message = _receive(stream, length - 16)
    flags = struct.unpack("<I", message[:4])[0]
    sections = message[4:-4] if flags & CHECKSUM_PRESENT else message[4:]
    position = 0
    while position < len(sections):
        kind = sections[position]
        size = struct.unpack("<i", sections[position + 1:position + 5])[0]
        if kind == 0:
            return bson_decode(sections[position + 1:position + 1 + size])
        position += 1 + size  # kind 1, a document sequence: its size counts itself, not the kind byte
    raise ValueError("the OP_MSG reply has no body section")


# BSON (bsonspec.org/spec.html), as far as a command and a hello reply need: a document is int32 total
# length, elements (type byte, cstring name, value), and a 0 byte.
FIXED_SIZES = {0x01: 8, 0x07: 12, 0x09: 8, 0x11: 8, 0x12: 8, 0x13: 16, 0x0A: 0, 0xFF: 0, 0x7F: 0}


def bson_encode(document: dict[str, Any]) -> bytes:
    """Strings, 32-bit integers and booleans: all a command of the probe's holds."""
    elements = b""
    for name, value in document.items():
        key = name.encode() + b"\0"
        if isinstance(value, bool):
            elements += b"\x08" + key + (b"\x01" if value else b"\x00")
        elif isinstance(value, int):
            elements += b"\x10" + key + struct.pack("<i", value)
        elif isinstance(value, str):
            text = value.encode() + b"\0"
            elements += b"\x02" + key + struct.pack("<i", len(text)) + text
        else:
            raise TypeError(f"the probe does not encode {type(value).__name__} in BSON")
    return struct.pack("<i", len(elements) + 5) + elements + b"\0"


def bson_decode(data: bytes) -> dict[str, Any]:
    """A document's strings, numbers, booleans, nulls and nested documents and arrays (lists); the other types
    (ObjectId, dates, timestamps, binary...) as their raw bytes' hex, for the probe reports none of them."""
    if len(data) < 5 or struct.unpack("<i", data[:4])[0] != len(data) or data[-1] != 0:
        raise ValueError("a BSON document's length or terminator is wrong")
    try:
        return _bson_elements(data)
    except (struct.error, IndexError) as error:  # a length that points past the bytes there are
        raise ValueError(f"a truncated BSON value: {error}") from error


def _bson_elements(data: bytes) -> dict[str, Any]:
    document: dict[str, Any] = {}
    position = 4
    while position < len(data) - 1:
        kind = data[position]
        end_of_name = data.index(b"\0", position + 1)
        name = data[position + 1:end_of_name].decode(errors="replace")
        position = end_of_name + 1
        if kind in (0x02, 0x0D, 0x0E):  # string, JavaScript code, symbol: int32 length, then the bytes and a 0
            size = struct.unpack("<i", data[position:position + 4])[0]
            value: Any = data[position + 4:position + 3 + size].decode(errors="replace")
            position += 4 + size
        elif kind in (0x03, 0x04):  # document, array: a document whose names are 0, 1, 2...
            size = struct.unpack("<i", data[position:position + 4])[0]
            nested = bson_decode(data[position:position + size])
            value = nested if kind == 0x03 else list(nested.values())
            position += size
        elif kind == 0x05:  # binary: int32 length, a subtype byte, the bytes
            size = struct.unpack("<i", data[position:position + 4])[0]
            value, position = data[position + 5:position + 5 + size].hex(), position + 5 + size
        elif kind == 0x08:
            value, position = data[position] == 1, position + 1
        elif kind == 0x10:
            value, position = struct.unpack("<i", data[position:position + 4])[0], position + 4
        elif kind == 0x12:
            value, position = struct.unpack("<q", data[position:position + 8])[0], position + 8
        elif kind == 0x01:
            value, position = struct.unpack("<d", data[position:position + 8])[0], position + 8
        elif kind in FIXED_SIZES:
            size = FIXED_SIZES[kind]
            value, position = (data[position:position + size].hex() if size else None), position + size
        else:
            raise ValueError(f"BSON type {kind:#x} (field {name!r}) is not one the probe reads")
        if position > len(data) - 1:
            raise ValueError(f"the BSON field {name!r} runs past its document")
        document[name] = value
    return document


# Oracle Net (TNS): the client's CONNECT packet carries a connect descriptor; the listener answers ACCEPT,
# REFUSE (with the error, e.g. ORA-12514 for a service it does not know), REDIRECT (to another address) or
# RESEND. Any of the four is an Oracle listener answering on the path, so the probe names a service no
# database has and reads the answer; it sends nothing after it. The packet layout is not in Oracle's public
# documentation: it is read from the open clients that implement it (python-oracledb's thin mode), and the
# listener's error numbers are Oracle's documented TNS- and ORA- errors (docs.oracle.com, Database Error Messages).
TNS_CONNECT, TNS_ACCEPT, TNS_REFUSE, TNS_REDIRECT, TNS_RESEND = 1, 2, 4, 5, 11
TNS_VERSION, TNS_LOWEST_VERSION, TNS_SDU = 318, 300, 8192
TNS_CONNECT_DATA_OFFSET = 8 + 26  # the header, then the CONNECT fields below, then the descriptor
TNS_ANSWERS = {TNS_ACCEPT: "ACCEPT", TNS_REFUSE: "REFUSE", TNS_REDIRECT: "REDIRECT", TNS_RESEND: "RESEND"}


# The descriptor names no address (the listener needs none) and stays under the 230 bytes a CONNECT packet
# carries itself; a longer one would follow in a DATA packet.
TNS_DESCRIPTOR = (f"(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME={PROBE_USER})(CID=(PROGRAM=nekt-peering-probe)"
                  f"(HOST=nekt-peering-probe)(USER={PROBE_USER}))))").encode("ascii")


def tns_connect_packet(descriptor: bytes = TNS_DESCRIPTOR) -> bytes:
    # version, lowest version, service options, SDU, TDU, protocol characteristics, line turnaround, the
    # byte order test value 1, the descriptor's length and offset, the largest connect data, two flag bytes.
    fields = struct.pack("!HHHHHHHHHHIBB", TNS_VERSION, TNS_LOWEST_VERSION, 0, TNS_SDU, 0xFFFF, 0x4F98, 0, 1,
                         len(descriptor), TNS_CONNECT_DATA_OFFSET, 0, 0x41, 0x41)
    length = TNS_CONNECT_DATA_OFFSET + len(descriptor)
    return struct.pack("!HHBBH", length, 0, TNS_CONNECT, 0, 0) + fields + descriptor


def oracle(connection: socket.socket, host: str) -> dict[str, Any]:
    """A CONNECT for a service no database has; the listener's packet type is the fact, with its error and
    version when it refuses (its VSNNUM is the version as one number: 19.0.0.0.0 is 0x13000000)."""
    connection.sendall(tns_connect_packet())
    length, _, kind = struct.unpack("!HHB", _receive(connection, 5))
    _receive(connection, 3)  # flags, header checksum
    if kind not in TNS_ANSWERS or not 8 <= length <= 65535:
        raise ValueError(f"the CONNECT was answered with TNS packet type {kind} of {length} bytes")
    body = _receive(connection, length - 8)
    answer = TNS_ANSWERS[kind]
    facts: dict[str, Any] = {"protocol": "oracle", "answer": answer}
    if kind == TNS_ACCEPT:
        facts["version"] = struct.unpack("!H", body[:2])[0]
        facts["summary"] = f"an Oracle listener accepted the connect (TNS version {facts['version']})"
    elif kind == TNS_REFUSE:
        text = body[4:4 + struct.unpack("!H", body[2:4])[0]].decode("ascii", errors="replace")
        error, version = _tns_value(text, "ERR"), _tns_value(text, "VSNNUM")
        facts["error"] = f"ORA-{int(error):05d}" if error.isdigit() else None
        facts["listenerVersion"] = _oracle_version(int(version)) if version.isdigit() else None
        facts["summary"] = ("an Oracle listener refused the probe's unknown service"
                            + (f" ({facts['error']})" if facts["error"] else "")
                            + (f", listener version {facts['listenerVersion']}" if facts["listenerVersion"] else ""))
    elif kind == TNS_REDIRECT:
        facts["redirect"] = body[2:2 + struct.unpack("!H", body[:2])[0]].decode("ascii", errors="replace")
        facts["summary"] = "an Oracle listener redirected the connect"
    else:
        facts["summary"] = "an Oracle listener asked for the connect again (RESEND)"
    return facts


def _tns_value(descriptor: str, key: str) -> str:
    start = descriptor.find(f"({key}=")
    return "" if start < 0 else descriptor[start + len(key) + 2:].split(")", 1)[0]


def _oracle_version(number: int) -> str:
    """VSNNUM -> release: 8 bits, 4, 8, 4, 8 (Oracle's version number layout, as its listeners report it)."""
    return ".".join(str(part) for part in (number >> 24, number >> 20 & 0xF, number >> 12 & 0xFF,
                                          number >> 8 & 0xF, number & 0xFF))


HANDSHAKES: dict[str, Callable[[socket.socket, str], dict[str, Any]]] = {
    "postgresql": postgresql, "mysql": mysql, "sqlserver": sqlserver, "oracle": oracle}


# TLS: the server's certificate, read but not verified.
def _tls(connection: socket.socket, host: str) -> ssl.SSLSocket:
    """TLS without verification: only the server's answer matters and nothing secret is sent, so any
    certificate will do; whether it would pass a verifying client is a fact (certificate_facts)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context.wrap_socket(connection, server_hostname=host)


def certificate_facts(der: bytes | None, host: str) -> dict[str, Any]:
    """The server certificate's names, whether they cover `host` (the name the probe connected to, as a
    client does), and its expiry; an unreadable certificate is a fact too, not a failed handshake."""
    if der is None:
        return {"host": host, "error": "the server sent no certificate"}
    try:
        certificate = read_certificate(der)
    except (ValueError, IndexError) as error:  # IndexError: a SEQUENCE with fewer elements than X.509's
        return {"host": host, "error": f"unreadable certificate: {_reason(error)}"}
    return {"host": host, "names": certificate.names(), "coversHost": covers(certificate, host),
            "notAfter": certificate.not_after}


def certificate_summary(certificate: dict[str, Any], verify_full: str, verify_ca: str) -> str:
    """In plain words, with what a client that verifies names (`verify_full`) would do, and what else works."""
    host = certificate["host"]
    if "error" in certificate:
        return f"its certificate was not read ({certificate['error']})"
    if certificate["coversHost"]:
        return f"its certificate covers {host}"
    names = ", ".join(certificate["names"]) or "no name"
    return (f"its certificate names {names}, not {host}: a client verifying the name ({verify_full}) would refuse "
            f"it; use {verify_ca} with the issuer's CA, or connect by a name the certificate covers")


# X.509 (RFC 5280), read only as far as the facts need, from the certificate's DER encoding:
#   Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
#   TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity, subject,
#                                 subjectPublicKeyInfo, [1] [2] unique ids OPTIONAL, [3] extensions OPTIONAL }
SEQUENCE, UTC_TIME, GENERALIZED_TIME = 0x30, 0x17, 0x18
VERSION, EXTENSIONS, DNS_NAME, IP_ADDRESS = 0xA0, 0xA3, 0x82, 0x87  # context tags; the last two in GeneralName
COMMON_NAME = bytes([0x55, 0x04, 0x03])  # 2.5.4.3, an OID's content octets
SUBJECT_ALT_NAME = bytes([0x55, 0x1D, 0x11])  # 2.5.29.17
LABEL_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-")


class Certificate(NamedTuple):
    common_names: list[str]  # the subject's CN attributes
    dns_names: list[str]  # subjectAltName dNSName entries
    ip_addresses: list[str]  # subjectAltName iPAddress entries
    not_after: str  # ISO 8601, UTC

    def names(self) -> list[str]:
        """The names a verifying client compares the host with (covers)."""
        return [*self.dns_names, *self.ip_addresses, *([] if self.dns_names else self.common_names)]


def _element(data: bytes, position: int) -> tuple[int, bytes, int]:
    """The DER element at `position`: its tag, its content, and the position after it."""
    if position + 2 > len(data):
        raise ValueError("truncated")
    tag, length = data[position], data[position + 1]
    position += 2
    if tag & 0x1F == 0x1F:
        raise ValueError("a multi-byte tag, which X.509 does not use")
    if length & 0x80:  # the long form: the next (length & 0x7F) bytes hold the length
        size = length & 0x7F
        if not 1 <= size <= 4 or position + size > len(data):
            raise ValueError("a bad length")
        length, position = int.from_bytes(data[position:position + size], "big"), position + size
    if position + length > len(data):
        raise ValueError("truncated")
    return tag, data[position:position + length], position + length


def _elements(content: bytes) -> list[tuple[int, bytes]]:
    """The elements a SEQUENCE or SET holds, in order: (tag, content)."""
    found, position = [], 0
    while position < len(content):
        tag, value, position = _element(content, position)
        found.append((tag, value))
    return found


def _sequence(content: bytes) -> list[tuple[int, bytes]]:
    tag, value, end = _element(content, 0)
    if tag != SEQUENCE or end != len(content):
        raise ValueError(f"a SEQUENCE expected, tag {tag:#x} found")
    return _elements(value)


def read_certificate(der: bytes) -> Certificate:
    """The subject's CNs, the subjectAltName's DNS names and IP addresses, and notAfter of a DER certificate."""
    tbs = _sequence(der)[0][1]
    fields = _elements(tbs)
    if fields and fields[0][0] == VERSION:
        fields = fields[1:]
    if len(fields) < 6:
        raise ValueError("too few fields in the TBSCertificate")
    (_, validity), (_, subject) = fields[3], fields[4]
    common_names = []
    for _, relative_name in _elements(subject):  # Name ::= SEQUENCE OF SET OF SEQUENCE { type, value }
        for _, attribute in _elements(relative_name):
            (_, oid), (_, value) = _elements(attribute)[:2]
            if oid == COMMON_NAME:  # a UTF8String or PrintableString (RFC 5280 4.1.2.6): UTF-8 reads both
                common_names.append(value.decode(errors="replace"))
    dns_names: list[str] = []
    ip_addresses: list[str] = []
    for tag, extensions in fields[6:]:
        if tag != EXTENSIONS:
            continue
        for _, extension in _sequence(extensions):
            parts = _elements(extension)  # extnID, critical (optional), extnValue: an OCTET STRING of DER
            if parts[0][1] != SUBJECT_ALT_NAME:
                continue
            for kind, value in _sequence(parts[-1][1]):
                if kind == DNS_NAME:
                    dns_names.append(value.decode("ascii", errors="replace"))
                elif kind == IP_ADDRESS and len(value) in (4, 16):
                    ip_addresses.append(str(ipaddress.ip_address(value)))
    return Certificate(common_names, dns_names, ip_addresses, _time(*_elements(validity)[1]))


def _time(kind: int, value: bytes) -> str:
    """UTCTime (YYMMDDHHMMSSZ, 50-99 are 19xx) or GeneralizedTime (YYYYMMDDHHMMSSZ) -> ISO 8601."""
    text = value.decode("ascii", errors="replace")
    if kind == UTC_TIME and len(text) == 13:
        text = ("19" if text[:2] >= "50" else "20") + text
    elif kind != GENERALIZED_TIME or len(text) != 15:
        raise ValueError(f"an unexpected time {text!r}")
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}T{text[8:10]}:{text[10:12]}:{text[12:14]}Z"


def covers(certificate: Certificate, host: str) -> bool:
    """Whether a client verifying the name would accept the certificate for `host`, by the rules of RFC 6125
    as OpenSSL applies them for Python's ssl: an IP address against the iPAddress entries only; a name
    against the dNSName entries, or the subject's CNs when there is none."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return any(_matches(name, host) for name in certificate.dns_names or certificate.common_names)
    return any(ipaddress.ip_address(entry) == address for entry in certificate.ip_addresses)


def _matches(pattern: str, host: str) -> bool:
    """Case-insensitive equality, or a wildcard that is the whole left-most label of a pattern with two
    labels or more after it: *.example.com covers a.example.com, not a.b.example.com nor example.com."""
    pattern, host = pattern.lower(), host.lower()
    suffix = pattern.removeprefix("*.")
    if suffix == pattern or "*" in suffix or suffix.count(".") < 1:
        return pattern == host
    label, _, rest = host.partition(".")
    return rest == suffix and label != "" and set(label) <= LABEL_CHARACTERS


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
