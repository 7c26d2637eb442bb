"""kind ec2: a database on an EC2 instance, by its instance id and the port it listens on
(DescribeInstances: its every network interface's subnet and security groups)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code
from nekt_peering.core.errors import DatabaseNotFound
from nekt_peering.databases.facts import database_facts, not_serving

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from nekt_peering.core.model import ConnectRequest

# An instance serves traffic only while `running` (EC2 User Guide, "Amazon EC2 instance state changes").
SERVING_INSTANCE_STATES = frozenset({"running"})


def describe(request: ConnectRequest, client: Callable[[str], Any], account_id: str, region: str) -> dict[str, Any]:
    return describe_instance(client("ec2"), request, account_id, region)


def describe_instance(ec2: EC2Client, request: ConnectRequest, account_id: str, region: str) -> dict[str, Any]:
    instance_id = str(request.instance_id)
    try:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except ClientError as error:
        if error_code(error) not in ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"):
            raise
        reservations = []
    instances = [instance for reservation in reservations for instance in reservation.get("Instances", [])]
    if not instances:
        raise DatabaseNotFound(
            f"no EC2 instance {instance_id} in account {account_id}, region {region}. Check database.instanceId "
            "and the region (database.region)"
        )
    instance = instances[0]
    status = instance["State"]["Name"]
    if status not in SERVING_INSTANCE_STATES:
        raise not_serving(request.identifier, status)
    interfaces = sorted(instance.get("NetworkInterfaces", []),
                        key=lambda interface: interface.get("Attachment", {}).get("DeviceIndex", 0))
    public_ip = instance.get("PublicIpAddress")
    # A public instance is reached by its public DNS name, which resolves to its private address inside its VPC
    # (and through a peering with the DNS option), as an RDS endpoint does; without DNS hostnames, its address.
    endpoint = (instance.get("PublicDnsName") or public_ip) if public_ip else instance.get("PrivateIpAddress")
    return database_facts(
        request.identifier, "ec2", engine=request.engine, status=status, endpoint=endpoint, port=request.port,
        public=bool(public_ip), arn=f"arn:aws:ec2:{region}:{account_id}:instance/{instance_id}",
        vpc_id=instance["VpcId"],
        subnet_ids=[interface["SubnetId"] for interface in interfaces] or [instance["SubnetId"]],
        security_group_ids=[group["GroupId"] for interface in interfaces for group in interface.get("Groups", [])]
        or [group["GroupId"] for group in instance.get("SecurityGroups", [])],
    )
