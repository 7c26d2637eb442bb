"""VPC Lattice's resource gateways: the provider's way into its VPC. The operations, as emulator.strict.lattice.api
serves them, and AWS's rules for a gateway: where it goes, the addresses it takes, how many a VPC has, and
when it may be used or deleted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.strict.lattice.backends import ec2, free_addresses, subnet_of
from emulator.strict.lattice.book import BookRule, Gateway, LatticeBook, Transient, error, now, random_hex, require
from emulator.strict.layer import Call, Rule


def creating_gateway(call: Call) -> bool:
    return call.service == "vpc-lattice" and call.operation == "CreateResourceGateway"


def gateway_named(book: LatticeBook, call: Call, tick: bool = False) -> Gateway:
    """The gateway the call names; with `tick`, a look that moves its status on (a deleted one goes)."""
    identifier = call.params["resourceGatewayIdentifier"]
    gateway = book.gateway(call, identifier)
    if gateway is not None and tick:
        gateway.state.tick()
        if gateway.state.status == "GONE":
            del book.gateways[gateway.id]
            for taken in book.addresses.values():  # its network interfaces go with it
                taken.pop(gateway.id, None)
            gateway = None
    return require(gateway, "resource gateway", identifier)


# --- the operations ----------------------------------------------------------------------------------------


def create(book: LatticeBook, call: Call) -> dict[str, Any]:
    params = call.params
    backend = ec2(call.account_id, call.region)
    vpc_id = params.get("vpcIdentifier")
    if not vpc_id or not params.get("subnetIds"):
        raise error("ValidationException", "vpcIdentifier and subnetIds are required for a resource gateway in a "
                                           "VPC.")
    require(backend.vpcs.get(vpc_id), "lattice vpc", vpc_id)
    groups = list(params.get("securityGroupIds") or [])
    if not groups:  # AWS gives the gateway the VPC's default security group (the CLI reference's example)
        default = backend.get_default_security_group(vpc_id)
        groups = [default.id] if default is not None else []
    gateway = Gateway(f"rgw-{random_hex(17)}", params["name"], call.account_id, call.region, vpc_id,
                      list(params["subnetIds"]), groups, params.get("ipAddressType", "IPV4"),
                      int(params.get("ipv4AddressesPerEni", 16)), dict(params.get("tags") or {}), now())
    book.gateways[gateway.id] = gateway
    return {"name": gateway.name, "id": gateway.id, "arn": gateway.arn, "status": gateway.state.status,
            "vpcIdentifier": vpc_id, "subnetIds": gateway.subnet_ids,
            "securityGroupIds": gateway.security_group_ids, "ipAddressType": gateway.ip_address_type,
            "ipv4AddressesPerEni": gateway.ipv4_per_eni}


def get(book: LatticeBook, call: Call) -> dict[str, Any]:
    return describe(gateway_named(book, call, tick=True))


def delete(book: LatticeBook, call: Call) -> dict[str, Any]:
    gateway = gateway_named(book, call)
    if gateway.state.status != "DELETE_IN_PROGRESS":  # deleting already: the same answer again
        gateway.state = Transient("DELETE_IN_PROGRESS", 0, None)
        gateway.updated_at = now()
        call.context["deleting"] = True
    return {"id": gateway.id, "arn": gateway.arn, "name": gateway.name, "status": gateway.state.status}


def list_(book: LatticeBook, call: Call) -> dict[str, Any]:
    items = [{"name": g.name, "id": g.id, "arn": g.arn, "status": g.state.status, "vpcIdentifier": g.vpc_id,
              "subnetIds": g.subnet_ids, "securityGroupIds": g.security_group_ids,
              "ipAddressType": g.ip_address_type, "ipv4AddressesPerEni": g.ipv4_per_eni,
              "createdAt": g.created_at, "lastUpdatedAt": g.updated_at or g.created_at}
             for g in book.gateways.values() if (g.account, g.region) == (call.account_id, call.region)]
    return {"items": items}


def describe(gateway: Gateway) -> dict[str, Any]:
    return {"name": gateway.name, "id": gateway.id, "arn": gateway.arn, "status": gateway.state.status,
            "vpcId": gateway.vpc_id, "subnetIds": gateway.subnet_ids, "securityGroupIds": gateway.security_group_ids,
            "ipAddressType": gateway.ip_address_type, "ipv4AddressesPerEni": gateway.ipv4_per_eni,
            "createdAt": gateway.created_at, "lastUpdatedAt": gateway.updated_at or gateway.created_at}


GATEWAY_OPERATIONS: dict[str, Callable[[LatticeBook, Call], dict[str, Any]]] = {
    "CreateResourceGateway": create, "GetResourceGateway": get, "DeleteResourceGateway": delete,
    "ListResourceGateways": list_}


# --- the rules -----------------------------------------------------------------------------------------------


class GatewaySubnets(Rule):
    """A resource gateway's subnets are in its VPC, owned by the caller: "You can't create a resource
    gateway in a shared subnet." Its security groups are in the same VPC."""

    name = "resource-gateway-subnets"

    def before(self, call: Call) -> None:
        if not creating_gateway(call):
            return
        vpc_id = call.params.get("vpcIdentifier")
        for subnet_id in call.params.get("subnetIds") or []:
            subnet = require(subnet_of(call.account_id, call.region, subnet_id), "lattice subnet", subnet_id)
            if subnet.vpc_id != vpc_id:
                raise error("ValidationException", f"Subnet {subnet_id} is not in VPC {vpc_id}.")
            if subnet.owner_id != call.account_id:
                raise error("ValidationException",
                            f"Subnet {subnet_id} is shared with this account by {subnet.owner_id}: a resource "
                            "gateway can't be created in a shared subnet.")
        backend = ec2(call.account_id, call.region)
        for group_id in call.params.get("securityGroupIds") or []:
            group = require(backend.get_security_group_from_id(group_id), "lattice security group", group_id)
            if group.vpc_id != vpc_id:
                raise error("ValidationException",
                            f"Security group {group_id} is not in VPC {vpc_id}: the security groups must be in the "
                            "same VPC.")


class GatewayAddresses(BookRule):
    """A resource gateway has a network interface in each of its subnets with `ipv4AddressesPerEni` IPv4
    addresses, 16 by default ("Create a resource gateway": "The default is 16 IPv4 addresses per ENI"): a
    subnet with fewer free cannot hold it. The exact error AWS sends is not documented: ValidationException."""

    name = "resource-gateway-addresses"

    def before(self, call: Call) -> None:
        if not creating_gateway(call):
            return
        needed = int(call.params.get("ipv4AddressesPerEni", 16))
        for subnet_id in call.params.get("subnetIds") or []:
            subnet = subnet_of(call.account_id, call.region, subnet_id)
            if subnet is None:
                continue
            # As DescribeSubnets counts them (moto may give an ENI one of the subnet's reserved addresses).
            free = subnet.available_ip_address_count - sum(
                len(taken) for taken in self.book.addresses.get(subnet_id, {}).values())
            if free < needed:
                raise error("ValidationException",
                            f"Subnet {subnet_id} has {free} free IPv4 addresses: the resource gateway's network "
                            f"interface there needs {needed} (ipv4AddressesPerEni).")

    def after(self, call: Call, response: dict[str, Any]) -> None:
        if not creating_gateway(call):
            return
        needed = int(call.params.get("ipv4AddressesPerEni", 16))
        for subnet_id in call.params.get("subnetIds") or []:
            free = free_addresses(call.account_id, call.region, subnet_id, self.book) or []
            self.book.addresses.setdefault(subnet_id, {})[response["id"]] = free[:needed]


class GatewayQuota(BookRule):
    """Resource gateways per VPC: 100 (the resource gateway page; see docs/aws-fidelity.md)."""

    name = "resource-gateway-quota"

    def before(self, call: Call) -> None:
        if not creating_gateway(call):
            return
        limit = self.book.limits["resource-gateways-per-vpc"]
        vpc_id = call.params.get("vpcIdentifier")
        if sum(1 for g in self.book.gateways.values() if g.vpc_id == vpc_id) >= limit:
            raise error("ServiceQuotaExceededException",
                        f"VPC {vpc_id} has reached the limit of {limit} resource gateways.")


class GatewayState(BookRule):
    """A resource configuration goes on an ACTIVE resource gateway; a gateway still being created is not
    deleted (ConflictException). AWS does not document either answer: the emulator is the stricter of the
    two possibilities, so the product waits for ACTIVE."""

    name = "resource-gateway-state"

    def before(self, call: Call) -> None:
        if call.service != "vpc-lattice" or call.operation not in ("CreateResourceConfiguration",
                                                                  "DeleteResourceGateway"):
            return
        identifier = call.params.get("resourceGatewayIdentifier")
        gateway = self.book.gateway(call, identifier) if identifier else None
        if gateway is None:
            return
        status = gateway.state.status
        if call.operation == "CreateResourceConfiguration" and status != "ACTIVE":
            raise error("ConflictException", f"Resource gateway {gateway.id} is {status}: a resource configuration "
                                             "needs an ACTIVE resource gateway.")
        if call.operation == "DeleteResourceGateway" and status == "CREATE_IN_PROGRESS":
            raise error("ConflictException", f"Resource gateway {gateway.id} is {status}.")


class GatewayInUse(BookRule):
    """"You cannot delete a resource gateway as long as there are resource configurations associated with
    it." (ConflictException)"""

    name = "resource-gateway-in-use"

    def before(self, call: Call) -> None:
        if call.service != "vpc-lattice" or call.operation != "DeleteResourceGateway":
            return
        gateway = self.book.gateway(call, call.params["resourceGatewayIdentifier"])
        if gateway is None:
            return
        attached = [c.id for c in self.book.configurations.values() if c.gateway_id == gateway.id]
        if attached:
            raise error("ConflictException", f"Resource gateway {gateway.id} has resource configurations associated "
                                             f"with it ({', '.join(attached)}): delete them first.")


# "The following Availability Zones aren't supported for VPC Lattice" (Quotas for Amazon VPC Lattice).
UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2", "apne1-az3", "apne2-az2", "euc1-az2", "euw1-az4", "cac1-az3",
                                  "ilc1-az2"})


class LatticeZones(Rule):
    """No resource gateway in a zone VPC Lattice does not support (documented), and, the stricter reading (the
    page names VPC Lattice as a whole), no resource endpoint there either. Zones by id."""

    name = "lattice-zones"

    def before(self, call: Call) -> None:
        if creating_gateway(call):
            subnets, code = call.params.get("subnetIds") or [], "ValidationException"
        elif call.service == "ec2" and call.operation == "CreateVpcEndpoint" and \
                call.params.get("VpcEndpointType") == "Resource":
            subnets, code = call.params.get("SubnetIds") or [], "InvalidParameter"
        else:
            return
        for subnet_id in subnets:
            subnet = subnet_of(call.account_id, call.region, subnet_id)
            if subnet is not None and subnet.availability_zone_id in UNSUPPORTED_ZONE_IDS:
                raise error(code, f"Subnet {subnet_id} is in Availability Zone {subnet.availability_zone_id}, which "
                                  "VPC Lattice does not support.")
