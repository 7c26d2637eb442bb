"""What Discover reads about the database itself, one module per kind (the request's database.kind), each
with its own read-only API: rds (an RDS instance or Aurora cluster), redshift (a provisioned cluster),
redshift-serverless (a workgroup), docdb (a DocumentDB cluster), ec2
(an instance), address (the network interface holding a private address). Each answers the same facts
(DatabaseFacts' own part: kind, engine, status, endpoint, port, publicly accessible, ARN, VPC, subnets,
security groups), or a named error with nothing changed; connect.discover adds the network around them.
Everything after Discover works on these facts alone: a kind is a discoverer, not a new workflow."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nekt_peering.databases import address, docdb, ec2_instance, rds, redshift, redshift_serverless

if TYPE_CHECKING:
    from nekt_peering.core.model import ConnectRequest

# The request's database.kind -> describe(request, client, account_id, region): the database's own facts.
# `client(service)`: a client of the database account and region ("rds", "ec2", "redshift").
DESCRIBERS: dict[str, Callable[[ConnectRequest, Callable[[str], Any], str, str], dict[str, Any]]] = {
    "rds": rds.describe,
    "redshift": redshift.describe,
    "docdb": docdb.describe,
    "redshift-serverless": redshift_serverless.describe,
    "ec2": ec2_instance.describe,
    "address": address.describe,
}


def describe_database(request: ConnectRequest, client: Callable[[str], Any], account_id: str,
                      region: str) -> dict[str, Any]:
    return DESCRIBERS[request.kind](request, client, account_id, region)
