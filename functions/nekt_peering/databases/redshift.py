"""kind redshift: a provisioned Amazon Redshift cluster, by its identifier (DescribeClusters, and its
cluster subnet group for the subnets). The client is untyped: the functions' stubs have no Redshift."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code
from nekt_peering.core.errors import DatabaseNotFound
from nekt_peering.databases.facts import database_facts, not_serving

if TYPE_CHECKING:
    from nekt_peering.core.model import ConnectRequest

# Of the ClusterStatus values (botocore's redshift Cluster.ClusterStatus), only the `available` ones are sure to
# serve connections: `modifying`, `resizing` and `rebooting` may restart it or make it read-only, so a connect
# waits for them (the pessimistic reading).
SERVING_CLUSTER_STATES = frozenset({"available", "available, prep-for-resize", "available, resize-cleanup"})


def describe(request: ConnectRequest, client: Callable[[str], Any], account_id: str, region: str) -> dict[str, Any]:
    return describe_redshift(client("redshift"), request.identifier, account_id, region)


def describe_redshift(redshift: Any, identifier: str, account_id: str, region: str) -> dict[str, Any]:
    try:
        cluster = redshift.describe_clusters(ClusterIdentifier=identifier)["Clusters"][0]
    except ClientError as error:
        if error_code(error) != "ClusterNotFound":
            raise
        raise DatabaseNotFound(
            f"no Redshift provisioned cluster named {identifier!r} in account {account_id}, region {region}. Check "
            "the identifier, the region (database.region) and database.kind"
        ) from None
    status = cluster["ClusterStatus"]
    if status not in SERVING_CLUSTER_STATES:
        raise not_serving(identifier, status)
    subnet_group = redshift.describe_cluster_subnet_groups(
        ClusterSubnetGroupName=cluster["ClusterSubnetGroupName"])["ClusterSubnetGroups"][0]
    endpoint = cluster.get("Endpoint") or {}
    return database_facts(
        identifier, "redshift", engine="redshift", status=status, endpoint=endpoint.get("Address"),
        port=endpoint.get("Port"), public=bool(cluster.get("PubliclyAccessible")),
        arn=f"arn:aws:redshift:{region}:{account_id}:cluster:{identifier}",
        vpc_id=cluster.get("VpcId") or subnet_group["VpcId"],
        subnet_ids=[subnet["SubnetIdentifier"] for subnet in subnet_group.get("Subnets", [])],
        security_group_ids=[group["VpcSecurityGroupId"] for group in cluster.get("VpcSecurityGroups", [])
                            if group.get("Status", "active") == "active"],
    )
