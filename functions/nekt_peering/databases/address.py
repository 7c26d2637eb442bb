"""kind address: a database known by its private IPv4 address in a VPC (a load balancer's, an instance's,
anything the other kinds do not cover): the network interface that holds the address there
(DescribeNetworkInterfaces), its subnet and its security groups.

Or by a private DNS name, which Discover, outside the VPC, cannot resolve by DNS: it reads the name's A
record in the Route 53 private hosted zones associated with the VPC (ListHostedZonesByVPC, the most specific
zone that contains the name, as the VPC's resolver answers from it; ListResourceRecordSets), following a CNAME
within those zones; its first private address is then the address. Nekt connects to that address: the Nekt VPC
is not associated with the customer's private zone, so the name does not resolve there."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nekt_peering.core.errors import AddressNotFound, DatabaseNotAvailable, HostNotResolved
from nekt_peering.databases.ec2_instance import SERVING_INSTANCE_STATES
from nekt_peering.databases.facts import database_facts, not_serving

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from nekt_peering.core.model import ConnectRequest

# A network interface carries traffic while attached: `in-use` (EC2 API Reference, NetworkInterface.Status).
SERVING_INTERFACE_STATES = frozenset({"in-use"})


# CNAMEs followed from the name to its A record, within the VPC's private zones.
CNAME_LIMIT = 3


def describe(request: ConnectRequest, client: Callable[[str], Any], account_id: str, region: str) -> dict[str, Any]:
    host = str(request.host)
    if not _is_ipv4(host):
        host = resolve_in_private_zones(client("route53"), host, str(request.vpc_id), account_id, region)
    return describe_address(client("ec2"), request, host, account_id, region)


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def resolve_in_private_zones(route53: Any, name: str, vpc_id: str, account_id: str, region: str) -> str:
    """The first private IPv4 address of `name`'s A record in the most specific private hosted zone associated
    with the VPC that contains it, a CNAME followed within those zones; else HostNotResolved. Zones that another
    account or an AWS service owns are listed too, but their records are not this account's to read."""
    zones = _zones_of(route53, vpc_id, region)
    asked = name
    for _ in range(CNAME_LIMIT + 1):
        fqdn = _fqdn(name)
        containing = [zone for zone in zones if fqdn == _fqdn(zone["Name"]) or fqdn.endswith("." + _fqdn(zone["Name"]))]
        if not containing:
            raise HostNotResolved(_unresolved(asked, vpc_id, region, f"no private hosted zone associated with the VPC "
                                                                     f"contains {name}"))
        zone = max(containing, key=lambda zone: len(_fqdn(zone["Name"])))
        owner = zone.get("Owner") or {}
        if owner.get("OwningAccount") != account_id:
            raise HostNotResolved(_unresolved(asked, vpc_id, region, f"zone {zone['Name']} belongs to "
                                              f"{owner.get('OwningAccount') or owner.get('OwningService')}, whose "
                                              "records this account does not read"))
        # Record sets are listed in order of name, then type: the first from (name, A) is the name's A, else its CNAME.
        found = route53.list_resource_record_sets(HostedZoneId=zone["HostedZoneId"], StartRecordName=fqdn,
                                                  StartRecordType="A", MaxItems="1")["ResourceRecordSets"]
        record = found[0] if found and _fqdn(found[0]["Name"]) == fqdn else None
        if record is None or record["Type"] not in ("A", "CNAME") or "AliasTarget" in record:
            raise HostNotResolved(_unresolved(asked, vpc_id, region, _why_not(record, zone)))
        values: list[str] = [entry["Value"] for entry in record.get("ResourceRecords", [])]
        if record["Type"] == "CNAME":
            name = values[0]
            continue
        private = [value for value in values if _is_ipv4(value) and ipaddress.IPv4Address(value).is_private]
        if not private:
            raise HostNotResolved(_unresolved(asked, vpc_id, region, f"its A record in zone {zone['Name']} holds "
                                                                     f"{', '.join(values)}, no private IPv4 address"))
        return private[0]
    raise HostNotResolved(_unresolved(asked, vpc_id, region, f"more than {CNAME_LIMIT} CNAMEs lead from it"))


def _zones_of(route53: Any, vpc_id: str, region: str) -> list[dict[str, Any]]:
    """Every private hosted zone associated with the VPC, page by page."""
    zones: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while True:
        page = route53.list_hosted_zones_by_vpc(VPCId=vpc_id, VPCRegion=region, **token)
        zones += page["HostedZoneSummaries"]
        if not page.get("NextToken"):
            return zones
        token = {"NextToken": page["NextToken"]}


def _fqdn(name: str) -> str:
    return name.lower().rstrip(".") + "."


def _why_not(record: dict[str, Any] | None, zone: dict[str, Any]) -> str:
    if record is None:
        return f"zone {zone['Name']} ({zone['HostedZoneId']}) has no A record for it"
    if "AliasTarget" in record:
        return (f"its record in zone {zone['Name']} is an alias to {record['AliasTarget']['DNSName']}, whose "
                "addresses Route 53 does not list")
    return f"its record in zone {zone['Name']} is of type {record['Type']}, not A"


def _unresolved(name: str, vpc_id: str, region: str, why: str) -> str:
    return (f"{name} does not resolve to a private address in VPC {vpc_id} ({region}): {why}. Discover runs outside "
            "the VPC and reads the name in the Route 53 private hosted zones associated with it. Give database.host "
            "as the address instead. Nothing was changed")


def describe_address(ec2: EC2Client, request: ConnectRequest, host: str, account_id: str,
                     region: str) -> dict[str, Any]:
    """The interface holding `host` (an address: the request's, or its name's) in the request's VPC."""
    vpc_id = str(request.vpc_id)
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
