"""The database's own facts, as every kind's module makes them."""

from __future__ import annotations

from typing import Any

from nekt_peering.core.errors import DatabaseNotAvailable


def database_facts(
    identifier: str, kind: str, *, engine: str | None, status: str, endpoint: str | None, port: int | None,
    public: bool, arn: str | None, vpc_id: str, subnet_ids: list[str], security_group_ids: list[str],
) -> dict[str, Any]:
    groups = list(dict.fromkeys(security_group_ids))  # in order, once each
    if not groups:
        raise DatabaseNotAvailable(f"{identifier} has no active VPC security group: add one and run again. "
                                   "Nothing was changed")
    return {
        "identifier": identifier,
        "kind": kind,
        "engine": engine,
        "status": status,
        "endpoint": endpoint,
        "port": int(port) if port else None,
        "publiclyAccessible": public,
        "arn": arn,
        "vpcId": vpc_id,
        "subnetIds": list(dict.fromkeys(subnet_ids)),
        "securityGroupIds": groups,
        "securityGroupId": groups[0],
    }


def not_serving(identifier: str, status: str) -> DatabaseNotAvailable:
    """`status`: AWS's state, possibly followed by what it is the state of."""
    return DatabaseNotAvailable(
        f"{identifier} is {status!r}, a state in which it serves no connection: wait until it is available and "
        "run again. Nothing was changed"
    )
