"""The data plane of a resource endpoint, as the probe sees it (emulator/network.py): where the endpoint's
DNS name leads, and whether the database's security groups let the resource gateway in."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from moto.rds.models import rds_backends

from emulator.strict.lattice.backends import database_address, ec2, rds_database
from emulator.strict.lattice.book import Configuration, Endpoint, Gateway, LatticeBook
from emulator.strict.lattice.endpoints import private_dns_name

# The book of the lattice rules made last (one emulated AWS per test or server): emulator.network reads the
# data plane without a handle on the strict layer that the stack's network runs beside.
INSTALLED: list[LatticeBook] = []


@dataclass(frozen=True)
class EndpointPath:
    """Where a resource endpoint's DNS name leads: the endpoint's first address in its first subnet, the
    database host its configuration names, and whether the database's security groups admit the gateway's."""

    address: str
    target_host: str
    admitted: bool


def endpoint_path(host: str) -> EndpointPath | None:
    """Where `host` leads from the consumer's VPC: an association's DNS name, or (private DNS) the database's
    own name, of an Available resource endpoint. None: no endpoint answers for that name."""
    if not INSTALLED:
        return None
    book = INSTALLED[-1]
    for endpoint in book.endpoints.values():
        if endpoint.state.status != "Available":
            continue
        for association in book.associations(endpoint):
            if host in (association.dns_name, private_dns_name(book, endpoint, association.configuration)):
                return _path(book, endpoint, association.configuration)
    return None


def _path(book: LatticeBook, endpoint: Endpoint, configuration: Configuration) -> EndpointPath | None:
    if not (configuration.definition or configuration.endpoint) or not book.shared_or_own(configuration, endpoint) or \
            book.status(configuration).status != "ACTIVE":
        return None
    found, target = _configuration_target(configuration)
    gateway = book.gateways.get(configuration.gateway_id or "")
    if target is None or gateway is None:
        return None
    block = book.addresses.get(endpoint.subnet_ids[0], {}).get(endpoint.id) or []
    address = str(ipaddress.ip_address(block[0])) if block else "0.0.0.0"  # noqa: S104 - no address: unreachable
    ports = {int(port) for spec in configuration.port_ranges for port in _ports(spec)}
    return EndpointPath(address, target, _admits(found, gateway, ports))


def _configuration_target(configuration: Configuration) -> tuple[Any | None, str | None]:
    """(moto's database, the host the gateway connects to) of an ARN or DNS configuration."""
    definition = configuration.definition or {"dnsResource": {"domainName": configuration.endpoint}}
    if "arnResource" in definition:
        found = rds_database(definition["arnResource"].get("arn", ""))
        if found is None:
            return None, None
        kind, database = found
        return database, database_address(kind, database)
    domain = (definition.get("dnsResource") or {}).get("domainName")
    backend = rds_backends[configuration.account][configuration.region]
    database = next((db for db in [*backend.databases.values(), *backend.clusters.values()]
                     if domain in (getattr(db, "address", None), getattr(db, "endpoint", None),
                                   getattr(db, "reader_endpoint", None))), None)
    return database, domain


def _ports(spec: str) -> range:
    low, _, high = spec.partition("-")
    return range(int(low), int(high or low) + 1)


def _admits(database: Any | None, gateway: Gateway, ports: set[int]) -> bool:
    """Some security group of the database admits one of the gateway's groups on its port."""
    if database is None:
        return False
    port = int(getattr(database, "port", 0) or 0)
    backend = ec2(gateway.account, gateway.region)
    for group_id in getattr(database, "vpc_security_group_ids", None) or []:
        group = backend.get_security_group_from_id(group_id)
        for rule in getattr(group, "ingress_rules", []) if group else []:
            sources = {(getattr(rule, "source_group", None) or {}).get("GroupId")}
            from_port, to_port = rule.from_port, rule.to_port
            if sources & set(gateway.security_group_ids) and rule.ip_protocol in ("tcp", "6", "-1") and (
                    rule.ip_protocol == "-1" or (from_port is not None and int(from_port) <= port <= int(to_port))) \
                    and (port in ports or not ports):  # an ARN configuration has no port ranges: the database's
                return True
    return False
