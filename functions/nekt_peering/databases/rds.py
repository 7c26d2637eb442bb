"""kind rds: an RDS DB instance or an Aurora DB cluster, by its identifier."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code
from nekt_peering.core.errors import DatabaseNotFound
from nekt_peering.databases.facts import database_facts, not_serving

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_rds.type_defs import DBClusterTypeDef, DBInstanceTypeDef, DBSubnetGroupTypeDef

    from nekt_peering.core.model import ConnectRequest

# The DB instance and cluster states in which RDS serves connections (RDS User Guide, "Viewing instance
# status"): a nightly backup or a modification must not stop a connect.
SERVING_DATABASE_STATES = frozenset({
    "available", "backing-up", "configuring-enhanced-monitoring", "configuring-iam-database-auth",
    "configuring-log-exports", "configuring-activity-stream", "modifying", "resetting-master-credentials",
    "storage-optimization", "storage-initialization", "storage-config-upgrade",
})


def describe(request: ConnectRequest, client: Callable[[str], Any], account_id: str, region: str) -> dict[str, Any]:
    return describe_rds(client("rds"), request.identifier, account_id, region)


def describe_rds(rds: RDSClient, identifier: str, account_id: str, region: str) -> dict[str, Any]:
    database = _describe_instance(rds, identifier) or _describe_cluster(rds, identifier)
    if database is None:
        raise DatabaseNotFound(
            f"no RDS DB instance or Aurora DB cluster named {identifier!r} in account {account_id}, region "
            f"{region}. Check the identifier and the region (database.region), and database.kind for a database "
            "that is not RDS (redshift, ec2, address). A database outside AWS cannot be connected by this "
            "workflow: ask Nekt support for a call"
        )
    if database["status"] not in SERVING_DATABASE_STATES:
        raise not_serving(identifier, database["status"])
    return database


def _describe_instance(rds: RDSClient, identifier: str) -> dict[str, Any] | None:
    try:
        instance = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    except ClientError as error:
        if error_code(error) == "DBInstanceNotFound":
            return None
        raise
    endpoint = instance.get("Endpoint") or {}
    return _rds_facts(
        identifier, "instance", instance, instance["DBInstanceStatus"], endpoint.get("Address"),
        endpoint.get("Port") or instance.get("DbInstancePort"), bool(instance.get("PubliclyAccessible")),
        instance["DBSubnetGroup"],
    )


def _describe_cluster(rds: RDSClient, identifier: str) -> dict[str, Any] | None:
    try:
        cluster = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
    except ClientError as error:
        if error_code(error) == "DBClusterNotFoundFault":
            return None
        raise
    subnet_group = rds.describe_db_subnet_groups(DBSubnetGroupName=cluster["DBSubnetGroup"])["DBSubnetGroups"][0]
    # Aurora decides public reachability per instance: the cluster is reachable if any member is.
    members = [member["DBInstanceIdentifier"] for member in cluster.get("DBClusterMembers", [])]
    public = bool(cluster.get("PubliclyAccessible")) or any(
        rds.describe_db_instances(DBInstanceIdentifier=member)["DBInstances"][0].get("PubliclyAccessible")
        for member in members
    )
    facts = _rds_facts(
        identifier, "cluster", cluster, cluster["Status"], cluster.get("Endpoint"), cluster.get("Port"), public,
        subnet_group,
    )
    return facts | {"readerEndpoint": cluster.get("ReaderEndpoint")}


def _rds_facts(
    identifier: str, kind: str, described: DBInstanceTypeDef | DBClusterTypeDef, status: str, endpoint: str | None,
    port: int | None, public: bool, subnet_group: DBSubnetGroupTypeDef,
) -> dict[str, Any]:
    return database_facts(
        identifier, kind, engine=described.get("Engine"), status=status, endpoint=endpoint, port=port,
        public=public, arn=cast("str | None", described.get("DBClusterArn") or described.get("DBInstanceArn")),
        vpc_id=subnet_group["VpcId"],
        subnet_ids=[subnet["SubnetIdentifier"] for subnet in subnet_group.get("Subnets", [])],
        security_group_ids=[group["VpcSecurityGroupId"] for group in described.get("VpcSecurityGroups", [])
                            if group.get("Status", "active") == "active"],
    )
