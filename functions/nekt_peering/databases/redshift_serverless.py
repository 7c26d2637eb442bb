"""kind redshift-serverless: an Amazon Redshift Serverless workgroup, by its name (GetWorkgroup: its subnets,
security groups, endpoint and port; its VPC, from its subnets)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code
from nekt_peering.core.errors import DatabaseNotFound
from nekt_peering.databases.facts import database_facts, not_serving

if TYPE_CHECKING:
    from nekt_peering.core.model import ConnectRequest

# botocore's redshift-serverless WorkgroupStatus: CREATING, AVAILABLE, MODIFYING, DELETING. Only AVAILABLE is
# sure to serve (a modification may change its capacity or its network: the pessimistic reading).
SERVING_WORKGROUP_STATES = frozenset({"AVAILABLE"})


def describe(request: ConnectRequest, client: Callable[[str], Any], account_id: str, region: str) -> dict[str, Any]:
    """The Redshift Serverless client is untyped: the functions' stubs have none."""
    identifier = request.identifier
    try:
        workgroup = client("redshift-serverless").get_workgroup(workgroupName=identifier)["workgroup"]
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        raise DatabaseNotFound(
            f"no Redshift Serverless workgroup named {identifier!r} in account {account_id}, region {region}. Check "
            "the workgroup's name (database.identifier), the region (database.region) and database.kind"
        ) from None
    status = workgroup["status"]
    if status not in SERVING_WORKGROUP_STATES:
        raise not_serving(identifier, status)
    subnet_ids = list(workgroup.get("subnetIds", []))
    subnets = client("ec2").describe_subnets(SubnetIds=subnet_ids)["Subnets"] if subnet_ids else []
    endpoint = workgroup.get("endpoint") or {}
    return database_facts(
        identifier, "redshift-serverless", engine="redshift", status=status, endpoint=endpoint.get("address"),
        port=endpoint.get("port") or workgroup.get("port"), public=bool(workgroup.get("publiclyAccessible")),
        arn=workgroup.get("workgroupArn"), vpc_id=subnets[0]["VpcId"] if subnets else "",
        subnet_ids=subnet_ids, security_group_ids=list(workgroup.get("securityGroupIds", [])),
    )
