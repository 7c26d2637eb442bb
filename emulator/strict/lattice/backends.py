"""What the lattice rules read of moto's EC2 and RDS: subnets and their free addresses (less those the
resource gateways and endpoints take, which moto does not know), and the RDS databases an ARN names."""

from __future__ import annotations

import ipaddress
from typing import Any

from moto.ec2.models import ec2_backends
from moto.rds.models import rds_backends

from emulator.strict.lattice.book import LatticeBook


def ec2(account: str, region: str) -> Any:
    return ec2_backends[account][region]


def subnet_of(account: str, region: str, subnet_id: str) -> Any | None:
    for subnets in ec2(account, region).subnets.values():
        if subnet_id in subnets:
            return subnets[subnet_id]
    return None


def _used_addresses(account: str, region: str, subnet: Any, book: LatticeBook) -> set[int]:
    used: set[int] = set()
    for eni in ec2(account, region).get_all_network_interfaces():
        if eni.subnet.id != subnet.id:
            continue
        for address in [eni.private_ip_address, *(eni.private_ip_addresses or [])]:
            value = address.get("PrivateIpAddress") if isinstance(address, dict) else address
            if value:
                used.add(int(ipaddress.ip_address(value)))
    for block in book.addresses.get(subnet.id, {}).values():
        used.update(block)
    return used


def free_addresses(account: str, region: str, subnet_id: str, book: LatticeBook) -> list[int] | None:
    """The subnet's free addresses, in order (AWS reserves its first four and its last); None: no such subnet."""
    subnet = subnet_of(account, region, subnet_id)
    if subnet is None:
        return None
    network = ipaddress.ip_network(subnet.cidr_block)
    used = _used_addresses(account, region, subnet, book)
    return [address for address in range(int(network.network_address) + 4, int(network.broadcast_address))
            if address not in used]


def free_block(account: str, region: str, subnet_id: str, book: LatticeBook, size: int) -> list[int] | None:
    """The first `size` contiguous free addresses of the subnet."""
    run: list[int] = []
    for address in free_addresses(account, region, subnet_id, book) or []:
        run = [*run, address] if run and address == run[-1] + 1 else [address]
        if len(run) == size:
            return run
    return None


def rds_database(arn: str) -> tuple[str, Any] | None:
    """("cluster" or "db", moto's cluster or instance) for an RDS ARN, or None."""
    parts = arn.split(":")
    if len(parts) != 7 or parts[2] != "rds" or parts[5] not in ("cluster", "db"):
        return None
    region, account, kind, name = parts[3], parts[4], parts[5], parts[6]
    regions = dict.get(rds_backends, account)
    backend = dict.get(regions, region) if regions is not None else None
    if backend is None:
        return None
    found = (backend.clusters if kind == "cluster" else backend.databases).get(name)
    return (kind, found) if found is not None else None


def cluster_members(cluster: Any) -> list[Any]:
    backend = rds_backends[cluster.account_id][cluster.region]
    return [db for db in backend.databases.values() if getattr(db, "db_cluster_identifier", None) ==
            cluster.db_cluster_identifier]


def database_vpc(kind: str, database: Any) -> str | None:
    if kind == "db":
        group = getattr(database, "db_subnet_group", None)
        return getattr(group, "vpc_id", None)
    backend = rds_backends[database.account_id][database.region]
    groups = backend.describe_db_subnet_groups(database.db_subnet_group_name) if getattr(
        database, "db_subnet_group_name", None) else []
    return groups[0].vpc_id if groups else None


def database_address(kind: str, database: Any) -> str:
    """The host name a database answers on: a cluster's endpoint, an instance's address."""
    return str(database.endpoint if kind == "cluster" else database.address)
