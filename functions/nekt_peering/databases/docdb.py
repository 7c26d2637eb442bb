"""kind docdb: an Amazon DocumentDB cluster, by its identifier (DocumentDB's DescribeDBClusters, which shares
RDS's management API: a cluster of another engine is not a DocumentDB cluster)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code
from nekt_peering.core.errors import DatabaseNotFound
from nekt_peering.databases.facts import database_facts, not_serving

if TYPE_CHECKING:
    from nekt_peering.core.model import ConnectRequest

# botocore's docdb DBCluster.Status names no states: only `available` is taken as serving (the pessimistic reading).
SERVING_CLUSTER_STATES = frozenset({"available"})


def describe(request: ConnectRequest, client: Callable[[str], Any], account_id: str, region: str) -> dict[str, Any]:
    return describe_docdb(client("docdb"), request.identifier, account_id, region)


def describe_docdb(docdb: Any, identifier: str, account_id: str, region: str) -> dict[str, Any]:
    """The client is untyped: the functions' stubs have no DocumentDB."""
    missing = DatabaseNotFound(
        f"no Amazon DocumentDB cluster named {identifier!r} in account {account_id}, region {region}. Check the "
        "identifier, the region (database.region) and database.kind (an RDS or Aurora cluster is kind rds)")
    try:
        cluster = docdb.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
    except ClientError as error:
        if error_code(error) != "DBClusterNotFoundFault":
            raise
        raise missing from None
    if cluster.get("Engine") != "docdb":
        raise missing
    status = cluster["Status"]
    if status not in SERVING_CLUSTER_STATES:
        raise not_serving(identifier, status)
    subnet_group = docdb.describe_db_subnet_groups(DBSubnetGroupName=cluster["DBSubnetGroup"])["DBSubnetGroups"][0]
    return database_facts(
        identifier, "docdb", engine="docdb", status=status, endpoint=cluster.get("Endpoint"), port=cluster.get("Port"),
        # DocumentDB has no public access: a cluster is reached from its VPC (or a peered one) only.
        public=False, arn=cluster.get("DBClusterArn"), vpc_id=subnet_group["VpcId"],
        subnet_ids=[subnet["SubnetIdentifier"] for subnet in subnet_group.get("Subnets", [])],
        security_group_ids=[group["VpcSecurityGroupId"] for group in cluster.get("VpcSecurityGroups", [])
                            if group.get("Status", "active") == "active"],
    )
