"""kind address: a database known by its private IPv4 address in a VPC (a load balancer's, an instance's,
anything the other kinds do not cover): the network interface that holds the address there
(DescribeNetworkInterfaces), its subnet and its security groups."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nekt_peering.core.errors import AddressNotFound, DatabaseNotAvailable
from nekt_peering.databases.ec2_instance import SERVING_INSTANCE_STATES
from nekt_peering.databases.facts import database_facts, not_serving

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from nekt_peering.core.model import ConnectRequest

# A network interface carries traffic while attached: `in-use` (EC2 API Reference, NetworkInterface.Status).
SERVING_INTERFACE_STATES = frozenset({"in-use"})


def describe(request: ConnectRequest, client: Callable[[str], Any], account_id: str, region: str) -> dict[str, Any]:
    return describe_address(client("ec2"), request, account_id, region)


def describe_address(ec2: EC2Client, request: ConnectRequest, account_id: str, region: str) -> dict[str, Any]:
    host, vpc_id = str(request.host), str(request.vpc_id)
    interfaces = ec2.describe_network_interfaces(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]},
        # Any of the interface's private addresses, its secondary ones included (`private-ip-address` is the
        # primary only).
        {"Name": "addresses.private-ip-address", "Values": [host]},
    ])["NetworkInterfaces"]
    if not interfaces:
        raise AddressNotFound(
            f"no network interface holds {host} in VPC {vpc_id} (account {account_id}, region {region}): nothing "
            "listens there that this account can see. Check database.host, database.vpcId and the region "
            "(database.region). Nothing was changed"
        )
    interface = interfaces[0]
    status = interface.get("Status", "")
    if status not in SERVING_INTERFACE_STATES:
        raise not_serving(request.identifier, f"{status} (its network interface {interface['NetworkInterfaceId']})")
    # A stopped instance keeps its interface attached (`in-use`): the instance's own state says whether it serves.
    instance_id = (interface.get("Attachment") or {}).get("InstanceId")
    if instance_id:
        instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        if instance["State"]["Name"] not in SERVING_INSTANCE_STATES:
            raise not_serving(request.identifier, f"{instance['State']['Name']} (instance {instance_id}, which holds "
                                                  f"{host})")
    groups = [group["GroupId"] for group in interface.get("Groups", [])]
    if not groups:
        raise DatabaseNotAvailable(
            f"{host} is held by network interface {interface['NetworkInterfaceId']}, which has no security group "
            "(a Network Load Balancer without security groups): connect the database behind it by its own kind "
            "or address instead. Nothing was changed"
        )
    association = interface.get("Association") or {}
    public_ip = association.get("PublicIp")
    return database_facts(
        request.identifier, "address", engine=request.engine, status=status,
        endpoint=(association.get("PublicDnsName") or public_ip) if public_ip else host, port=request.port,
        public=bool(public_ip),
        arn=f"arn:aws:ec2:{region}:{account_id}:network-interface/{interface['NetworkInterfaceId']}",
        vpc_id=interface["VpcId"], subnet_ids=[interface["SubnetId"]], security_group_ids=groups,
    )
