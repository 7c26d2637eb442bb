"""Self-signed certificates for the emulator's TLS servers (emulator/databases.py) and the probe's tests:
the subject's CN and the subjectAltName entries a test chooses (cryptography comes with moto)."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence


def self_signed(common_name: str | None = "localhost", dns_names: Sequence[str] = (),
                ip_addresses: Sequence[str] = (), days: int = 1) -> tuple[bytes, bytes]:
    """A key and a self-signed certificate, both PEM; without dns_names and ip_addresses, no subjectAltName."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=days)))
    alternatives: list[x509.GeneralName] = [x509.DNSName(dns) for dns in dns_names]
    alternatives += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
    if alternatives:
        builder = builder.add_extension(x509.SubjectAlternativeName(alternatives), critical=not common_name)
    certificate = builder.sign(key, hashes.SHA256())
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()),
            certificate.public_bytes(serialization.Encoding.PEM))
