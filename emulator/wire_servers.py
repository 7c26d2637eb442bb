"""Servers built from the protocols' specifications, for the engines no real server of can be installed on a
fresh machine from the repository's own files (PyPI, Debian's packages, npm): MongoDB/DocumentDB (Debian has
no MongoDB; the npm and PyPI packages that start one download its binaries from elsewhere) and an Oracle
listener. Each listens on a free 127.0.0.1 port, answers the first exchange of its protocol as the real server
does, and nothing after it: the probe's handshakes stop there too (nekt_peering.probe).

MongoWireServer reads and writes BSON with pymongo's `bson` (an implementation independent of the probe's),
and pymongo itself connects to it in the tests (tests/e2e/test_probe.py): a real client agrees with the
server. TnsListener parses the CONNECT packet a real client sends (python-oracledb's thin mode, which the
tests connect with) and answers ACCEPT, REFUSE (ORA-12514 for a service it does not know, as Oracle's
listener does), REDIRECT or RESEND.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from emulator.certificates import self_signed
from emulator.databases import free_port

LOOPBACK = "127.0.0.1"


class _Server:
    """A listening socket on a free loopback port and one thread per connection, each running `serve`."""

    def __init__(self) -> None:
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self.connections = 0

    def start(self) -> Any:
        self._listener = socket.create_server((LOOPBACK, self.port))
        thread = threading.Thread(target=self._accept, args=(self._listener,), daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # stop() closed the listener
                return
            self.connections += 1
            thread = threading.Thread(target=self._serve_and_close, args=(connection,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve_and_close(self, connection: socket.socket) -> None:
        # OSError, EOFError: the client left; ValueError: it sent what the server does not take
        with connection, contextlib.suppress(OSError, ValueError, EOFError):
            connection.settimeout(10)
            self.serve(connection)

    def serve(self, connection: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None


def _receive(connection: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _tls_context(names: Sequence[str]) -> ssl.SSLContext:
    """A server context with a self-signed certificate for `names` (the first also the CN), else localhost."""
    key, certificate = self_signed(names[0], dns_names=names) if names else self_signed()
    with tempfile.TemporaryDirectory() as directory:
        key_file, certificate_file = Path(directory) / "key.pem", Path(directory) / "certificate.pem"
        key_file.write_bytes(key)
        certificate_file.write_bytes(certificate)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate_file, key_file)
    return context


# MongoDB's wire protocol (mongodb.com/docs/manual/reference/mongodb-wire-protocol/): OP_MSG both ways.
OP_MSG = 2013
MAX_WIRE_VERSION = 21  # MongoDB 7.0's
TLS_HANDSHAKE_RECORD = 0x16  # the first byte of a TLS ClientHello


class MongoWireServer(_Server):
    """`tls=True`: TLS from the first byte, as a mongod with requireTLS (and a DocumentDB cluster by default);
    else a plain mongod, which closes a connection that starts a TLS handshake. `set_name`: a replica set's
    member (DocumentDB's clusters are replica sets: rs0); `knows_hello=False`: a server older than `hello`,
    which answers it CommandNotFound and takes `isMaster`."""

    def __init__(self, tls: bool = False, certificate_names: Sequence[str] = (), set_name: str | None = None,
                 primary: bool = True, knows_hello: bool = True) -> None:
        super().__init__()
        self.context = _tls_context(certificate_names) if tls else None
        self.set_name, self.primary, self.knows_hello = set_name, primary, knows_hello
        self.commands: list[dict[str, Any]] = []  # what clients asked, decoded by pymongo's bson

    def serve(self, connection: socket.socket) -> None:
        stream: Any = connection
        if self.context is not None:
            stream = self.context.wrap_socket(connection, server_side=True)
        while True:
            header = _receive(stream, 16)
            if header[0] == TLS_HANDSHAKE_RECORD and self.context is None:
                return  # mongod: "SSL handshake received but server is started without SSL support"
            length, request_id, _, opcode = struct.unpack("<iiii", header)
            message = _receive(stream, length - 16)
            if opcode != OP_MSG:
                return  # OP_QUERY and the other legacy opcodes were removed in MongoDB 5.1
            stream.sendall(self._reply(request_id, message))

    def _reply(self, request_id: int, message: bytes) -> bytes:
        import bson

        flags = struct.unpack("<I", message[:4])[0]
        if message[4] != 0:
            raise ValueError("the first section is not the body")
        command = bson.decode(message[5:len(message) - (4 if flags & 1 else 0)])
        self.commands.append(command)
        name = next(iter(command))
        answer: dict[str, Any]
        if (name == "hello" and self.knows_hello) or name.lower() == "ismaster":
            answer = {"isWritablePrimary" if name == "hello" else "ismaster": self.primary,
                      "maxBsonObjectSize": 16 * 1024 * 1024, "maxMessageSizeBytes": 48_000_000,
                      "maxWriteBatchSize": 100_000, "localTime": bson.datetime_ms.DatetimeMS(0),
                      "logicalSessionTimeoutMinutes": 30, "connectionId": self.connections,
                      "minWireVersion": 0, "maxWireVersion": MAX_WIRE_VERSION, "readOnly": False}
            if self.set_name is not None:
                answer.update(setName=self.set_name, hosts=[f"{LOOPBACK}:{self.port}"], setVersion=1,
                              secondary=not self.primary, electionId=bson.ObjectId(),
                              operationTime=bson.Timestamp(1, 1))
            answer["ok"] = 1.0
        else:
            answer = {"ok": 0.0, "errmsg": f"no such command: '{name}'", "code": 59, "codeName": "CommandNotFound"}
        body = b"\0" + bson.encode(answer)
        return struct.pack("<iiiiI", 20 + len(body), 0, request_id, OP_MSG, 0) + body


# Oracle Net (TNS): the packet header is length (2), checksum (2), type (1), flags (1), header checksum (2).
CONNECT, ACCEPT, REFUSE, REDIRECT, DATA, RESEND = 1, 2, 4, 5, 6, 11
LISTENER_VERSION = 0x13000000  # VSNNUM of a 19.0.0.0.0 listener


def _tns_packet(kind: int, body: bytes) -> bytes:
    return struct.pack("!HHBBH", 8 + len(body), 0, kind, 0, 0) + body


class TnsListener(_Server):
    """An Oracle listener knowing `services`: a CONNECT for one of them is accepted, any other refused with
    ORA-12514 (TNS:listener does not currently know of service requested in connect descriptor).
    `answer="redirect"` sends every CONNECT to `redirect_to`; `answer="resend"` asks for it again first."""

    def __init__(self, services: Sequence[str] = ("ORCL",), answer: Literal["listen", "redirect", "resend"] = "listen",
                 redirect_to: str = "(ADDRESS=(PROTOCOL=TCP)(HOST=10.0.1.11)(PORT=1522))") -> None:
        super().__init__()
        self.services = {service.upper() for service in services}
        self.answer, self.redirect_to = answer, redirect_to
        self.asked: list[str] = []  # the service names of the CONNECTs received

    def serve(self, connection: socket.socket) -> None:
        resent = False
        while True:
            descriptor = self._connect_descriptor(connection)
            service = _value(descriptor, "SERVICE_NAME") or _value(descriptor, "SID")
            self.asked.append(service)
            if self.answer == "resend" and not resent:
                connection.sendall(_tns_packet(RESEND, b""))
                resent = True
                continue
            if self.answer == "redirect":
                data = self.redirect_to.encode()
                connection.sendall(_tns_packet(REDIRECT, struct.pack("!H", len(data)) + data))
            elif service.upper() in self.services:
                # version 315, no service options, SDU, TDU, byte order 1, no connect data, flags
                connection.sendall(_tns_packet(ACCEPT, struct.pack("!HHHHHHHBB", 315, 0, 8192, 0xFFFF, 1, 0, 0, 0, 0)))
            else:
                data = (f"(DESCRIPTION=(TMP=)(VSNNUM={LISTENER_VERSION})(ERR=12514)"
                        "(ERROR_STACK=(ERROR=(CODE=12514)(EMFI=4))))").encode()
                connection.sendall(_tns_packet(REFUSE, struct.pack("!BBH", 1, 0, len(data)) + data))
            return

    def _connect_descriptor(self, connection: socket.socket) -> str:
        """The CONNECT's descriptor: at the offset its fields give, or, when longer than a CONNECT carries, in
        the DATA packet that follows (after its 2 bytes of data flags)."""
        length, kind = _tns_header(connection)
        packet = _receive(connection, length - 8)
        if kind != CONNECT:
            raise ValueError(f"TNS packet type {kind}, not CONNECT")
        data_length, data_offset = struct.unpack("!HH", packet[16:20])
        if data_offset - 8 + data_length <= len(packet):
            return packet[data_offset - 8:data_offset - 8 + data_length].decode("ascii")
        length, kind = _tns_header(connection)
        data = _receive(connection, length - 8)
        if kind != DATA:
            raise ValueError(f"TNS packet type {kind} after a CONNECT without its descriptor, not DATA")
        return data[2:2 + data_length].decode("ascii")


def _tns_header(connection: socket.socket) -> tuple[int, int]:
    length, _, kind, _, _ = struct.unpack("!HHBBH", _receive(connection, 8))
    return length, kind


def _value(descriptor: str, key: str) -> str:
    upper = descriptor.upper()
    start = upper.find(f"({key}=")
    return "" if start < 0 else descriptor[start + len(key) + 2:].split(")", 1)[0]
