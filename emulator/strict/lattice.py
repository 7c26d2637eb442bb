"""A database shared as a VPC resource (AWS PrivateLink for VPC resources), as AWS runs it.

moto 5.2.5 answers VPC Lattice's CreateResourceGateway and CreateResourceConfiguration "not yet
implemented", its RAM refuses to share a resource configuration and knows no invitations, and its
CreateVpcEndpoint ignores ResourceConfigurationArn, answers `available` at once and gives no DNS
name. The rules here serve what moto lacks and hold all of it to AWS's documented rules
(docs/aws-fidelity.md, "PrivateLink for VPC resources"):

- the provider (database) account makes a resource gateway in the database's VPC and a resource
  configuration for the database on it (vpc-lattice);
- it shares the configuration with the consumer (Nekt) account in a RAM resource share; outside an
  Organization with RAM sharing enabled the consumer gets an invitation, which it accepts;
- the consumer makes a resource VPC endpoint (ec2 CreateVpcEndpoint, VpcEndpointType=Resource) for
  the configuration in its own VPC; the endpoint gives the DNS name to connect to.

Each account sees its own things in its own Region. Time is counted in calls that could show a
thing (a "tick", as for peerings): `Timing` says how many each transient status lasts.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.ec2.models import ec2_backends
from moto.moto_api._internal import mock_random
from moto.rds.models import rds_backends

from emulator.strict.layer import AwsError, Call, Rule, Served
from emulator.strict.shapes import check_output

PARTITION = "aws"
RESOURCE_CONFIGURATION_TYPE = "vpc-lattice:ResourceConfiguration"  # RAM's name for the resource type
PRIVATE_RANGES = [ipaddress.ip_network(cidr) for cidr in ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12",
                                                          "192.168.0.0/16")]
ENDPOINT_BLOCK = 16  # addresses a resource endpoint takes in each subnet (docs/aws-fidelity.md: not AWS's pages)


@dataclass
class Timing:
    """How many ticks still show each transient status. A tick is a GetResourceGateway of that gateway, or
    a DescribeVpcEndpoints / DescribeVpcEndpointAssociations that could show that endpoint. With 1, the
    create answers CREATE_IN_PROGRESS (Pending), so does the first poll, and the second ACTIVE (Available):
    a caller has to poll."""

    gateway_creating: int = 1
    gateway_deleting: int = 1
    endpoint_pending: int = 1
    endpoint_deleting: int = 1


TRANSIENT = frozenset({"CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "Pending", "Deleting"})


@dataclass
class Transient:
    """A status; a transient one lasts `remaining` more ticks, then becomes `then` (None: the thing is gone,
    status GONE)."""

    status: str
    remaining: int = 0
    then: str | None = None

    def tick(self) -> None:
        if self.remaining > 0:
            self.remaining -= 1
        elif self.status in TRANSIENT:
            self.status, self.then = self.then or "GONE", None


@dataclass
class Gateway:
    id: str
    name: str
    account: str
    region: str
    vpc_id: str
    subnet_ids: list[str]
    security_group_ids: list[str]
    ip_address_type: str
    ipv4_per_eni: int
    tags: dict[str, str]
    created_at: datetime
    state: Transient = field(default_factory=lambda: Transient("ACTIVE"))
    updated_at: datetime | None = None

    @property
    def arn(self) -> str:
        return f"arn:{PARTITION}:vpc-lattice:{self.region}:{self.account}:resourcegateway/{self.id}"


@dataclass
class Configuration:
    id: str
    name: str
    account: str
    region: str
    type: str
    gateway_id: str | None
    group_id: str | None
    port_ranges: list[str]
    protocol: str
    definition: dict[str, Any] | None
    allow_shareable_network: bool
    tags: dict[str, str]
    created_at: datetime
    custom_domain: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:{PARTITION}:vpc-lattice:{self.region}:{self.account}:resourceconfiguration/{self.id}"


@dataclass
class Share:
    arn: str
    name: str
    owner: str
    region: str
    allow_external: bool
    tags: list[dict[str, str]]
    created_at: datetime
    resources: dict[str, str] = field(default_factory=dict)  # resource ARN -> association status
    principals: dict[str, str] = field(default_factory=dict)  # account -> association status
    status: str = "ACTIVE"
    updated_at: datetime | None = None


@dataclass
class Invitation:
    arn: str
    share_arn: str
    sender: str
    receiver: str
    region: str
    sent_at: datetime
    status: str = "PENDING"


@dataclass
class Endpoint:
    """A resource VPC endpoint: moto keeps the VPCEndPoint (describe, delete, tags); this keeps what moto
    does not: its configuration, lifecycle, DNS names and the addresses it takes in its subnets."""

    id: str
    account: str
    region: str
    vpc_id: str
    configuration_arn: str
    subnet_ids: list[str]
    dns_name: str
    hosted_zone_id: str
    private_dns: bool
    association_id: str
    state: Transient = field(default_factory=lambda: Transient("Available"))


@dataclass
class LatticeBook:
    """What the rules know of the resource gateways, configurations, shares and resource endpoints made
    while they were installed. `organization_sharing`: accounts in one Organization with RAM sharing
    enabled (no invitations between them); empty by default, as between a customer and Nekt."""

    timing: Timing = field(default_factory=Timing)
    gateways: dict[str, Gateway] = field(default_factory=dict)
    configurations: dict[str, Configuration] = field(default_factory=dict)
    shares: dict[str, Share] = field(default_factory=dict)
    invitations: dict[str, Invitation] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    addresses: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # subnet -> owner id -> addresses
    organization_sharing: set[str] = field(default_factory=set)
    limits: dict[str, int] = field(default_factory=lambda: {"resource-gateways-per-vpc": 100,
                                                            "resource-endpoints-per-vpc": 200})

    # --- lookups as the caller's account and Region see them ---------------------------------------------

    def gateway(self, call: Call, identifier: str) -> Gateway | None:
        found = self.gateways.get(identifier.rsplit("/", 1)[-1])
        if found is None or (found.account, found.region) != (call.account_id, call.region):
            return None
        if identifier.startswith("arn:") and identifier != found.arn:
            return None
        return found

    def configuration(self, call: Call, identifier: str, shared: bool = False) -> Configuration | None:
        """The caller's own configuration; with `shared`, also one shared with it in an accepted share."""
        found = self.configurations.get(identifier.rsplit("/", 1)[-1])
        if found is None or found.region != call.region:
            return None
        if identifier.startswith("arn:") and identifier != found.arn:
            return None
        if found.account == call.account_id or (shared and self.shared_with(found, call.account_id)):
            return found
        return None

    def shared_with(self, configuration: Configuration, account: str) -> bool:
        return any(share.status == "ACTIVE" and share.resources.get(configuration.arn) == "ASSOCIATED"
                   and share.principals.get(account) == "ASSOCIATED" for share in self.shares.values()
                   if share.region == configuration.region)

    def share(self, call: Call, arn: str) -> Share | None:
        found = self.shares.get(arn)
        if found is None or found.region != call.region or found.status == "DELETED":
            return None
        return found

    def shared_or_own(self, configuration: Configuration, endpoint: Endpoint) -> bool:
        return configuration.account == endpoint.account or self.shared_with(configuration, endpoint.account)

    def live_endpoints(self, configuration_arn: str) -> list[Endpoint]:
        return [endpoint for endpoint in self.endpoints.values()
                if endpoint.configuration_arn == configuration_arn and endpoint.state.status != "Deleted"]


def _now() -> datetime:
    return datetime.now(UTC)


def _hex(length: int) -> str:
    return "".join(mock_random.choice("0123456789abcdef") for _ in range(length))


def _lattice_error(code: str, message: str) -> AwsError:
    status = {"ValidationException": 400, "ConflictException": 409, "ResourceNotFoundException": 404,
              "ServiceQuotaExceededException": 402, "AccessDeniedException": 403}[code]
    return AwsError(code, message, status)


def _ec2(account: str, region: str) -> Any:
    return ec2_backends[account][region]


def _subnet(account: str, region: str, subnet_id: str) -> Any | None:
    for subnets in _ec2(account, region).subnets.values():
        if subnet_id in subnets:
            return subnets[subnet_id]
    return None


# --- VPC Lattice: resource gateways and resource configurations ---------------------------------------------


class LatticeApi(Rule):
    """Serves VPC Lattice's resource gateway and resource configuration operations (moto: "not yet
    implemented"), per account and Region, answering as the API reference shapes them."""

    name = "vpc-lattice-api"
    OPERATIONS = ("CreateResourceGateway", "GetResourceGateway", "DeleteResourceGateway", "ListResourceGateways",
                  "CreateResourceConfiguration", "GetResourceConfiguration", "DeleteResourceConfiguration",
                  "ListResourceConfigurations", "ListTagsForResource")

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if call.service == "vpc-lattice" and call.operation in self.OPERATIONS:
            raise Served(getattr(self, "_" + call.operation)(call))

    def _gateway_or_404(self, call: Call, tick: bool = False) -> Gateway:
        identifier = call.params["resourceGatewayIdentifier"]
        gateway = self.book.gateway(call, identifier)
        if gateway is not None and tick:
            gateway.state.tick()
            if gateway.state.status == "GONE":
                del self.book.gateways[gateway.id]
                for taken in self.book.addresses.values():  # its network interfaces go with it
                    taken.pop(gateway.id, None)
                gateway = None
        if gateway is None:
            raise _lattice_error("ResourceNotFoundException", f"Resource gateway {identifier} not found.")
        return gateway

    def _configuration_or_404(self, call: Call, shared: bool = False) -> Configuration:
        identifier = call.params["resourceConfigurationIdentifier"]
        configuration = self.book.configuration(call, identifier, shared)
        if configuration is None:
            raise _lattice_error("ResourceNotFoundException", f"Resource configuration {identifier} not found.")
        return configuration

    # resource gateways

    def _CreateResourceGateway(self, call: Call) -> dict[str, Any]:  # noqa: N802 - the API's name
        params = call.params
        backend = _ec2(call.account_id, call.region)
        vpc_id = params.get("vpcIdentifier")
        if not vpc_id or not params.get("subnetIds"):
            raise _lattice_error("ValidationException", "vpcIdentifier and subnetIds are required for a resource "
                                                        "gateway in a VPC.")
        if vpc_id not in backend.vpcs:
            raise _lattice_error("ResourceNotFoundException", f"VPC {vpc_id} not found.")
        groups = list(params.get("securityGroupIds") or [])
        if not groups:  # AWS gives the gateway the VPC's default security group (the CLI reference's example)
            default = backend.get_default_security_group(vpc_id)
            groups = [default.id] if default is not None else []
        gateway = Gateway(f"rgw-{_hex(17)}", params["name"], call.account_id, call.region, vpc_id,
                          list(params["subnetIds"]), groups, params.get("ipAddressType", "IPV4"),
                          int(params.get("ipv4AddressesPerEni", 16)), dict(params.get("tags") or {}), _now())
        self.book.gateways[gateway.id] = gateway
        return {"name": gateway.name, "id": gateway.id, "arn": gateway.arn, "status": gateway.state.status,
                "vpcIdentifier": vpc_id, "subnetIds": gateway.subnet_ids,
                "securityGroupIds": gateway.security_group_ids, "ipAddressType": gateway.ip_address_type,
                "ipv4AddressesPerEni": gateway.ipv4_per_eni}

    def _GetResourceGateway(self, call: Call) -> dict[str, Any]:  # noqa: N802
        return _describe_gateway(self._gateway_or_404(call, tick=True))

    def _DeleteResourceGateway(self, call: Call) -> dict[str, Any]:  # noqa: N802
        gateway = self._gateway_or_404(call)
        if gateway.state.status != "DELETE_IN_PROGRESS":  # deleting already: the same answer again
            gateway.state = Transient("DELETE_IN_PROGRESS", 0, None)
            gateway.updated_at = _now()
            call.context["deleting"] = True
        return {"id": gateway.id, "arn": gateway.arn, "name": gateway.name, "status": gateway.state.status}

    def _ListResourceGateways(self, call: Call) -> dict[str, Any]:  # noqa: N802
        items = [{"name": g.name, "id": g.id, "arn": g.arn, "status": g.state.status, "vpcIdentifier": g.vpc_id,
                  "subnetIds": g.subnet_ids, "securityGroupIds": g.security_group_ids,
                  "ipAddressType": g.ip_address_type, "ipv4AddressesPerEni": g.ipv4_per_eni,
                  "createdAt": g.created_at, "lastUpdatedAt": g.updated_at or g.created_at}
                 for g in self.book.gateways.values() if (g.account, g.region) == (call.account_id, call.region)]
        return {"items": items}

    # resource configurations

    def _CreateResourceConfiguration(self, call: Call) -> dict[str, Any]:  # noqa: N802
        params = call.params
        kind = params["type"]
        if kind == "CIDR":
            raise AwsError("NotEmulated", "not emulated: resource configurations of type CIDR (tunnel endpoints): "
                                          "add them to emulator/strict/lattice.py", 500)
        gateway_id = None
        if params.get("resourceGatewayIdentifier"):
            gateway_id = self._gateway_or_404(call).id
        group_id = None
        if params.get("resourceConfigurationGroupIdentifier"):
            group = self.book.configuration(call, params["resourceConfigurationGroupIdentifier"])
            if group is None:
                raise _lattice_error("ResourceNotFoundException", "Resource configuration "
                                     f"{params['resourceConfigurationGroupIdentifier']} not found.")
            group_id, gateway_id = group.id, group.gateway_id
        default_ports = [] if kind == "ARN" else ["1-65535"]
        configuration = Configuration(
            f"rcfg-{_hex(17)}", params["name"], call.account_id, call.region, kind, gateway_id, group_id,
            list(params.get("portRanges") or default_ports), params.get("protocol", "TCP"),
            # "The default is false" (API_CreateResourceConfiguration).
            params.get("resourceConfigurationDefinition"), bool(params.get("allowAssociationToShareableServiceNetwork",
                                                                           False)),
            dict(params.get("tags") or {}), _now(), params.get("customDomainName"))
        self.book.configurations[configuration.id] = configuration
        answer = _describe_configuration(configuration)
        for member in ("amazonManaged", "lastUpdatedAt"):
            answer.pop(member)
        return answer

    def _GetResourceConfiguration(self, call: Call) -> dict[str, Any]:  # noqa: N802
        return _describe_configuration(self._configuration_or_404(call, shared=True))

    def _DeleteResourceConfiguration(self, call: Call) -> dict[str, Any]:  # noqa: N802
        configuration = self._configuration_or_404(call)
        del self.book.configurations[configuration.id]
        for share in self.book.shares.values():  # RAM drops a deleted resource from its shares
            if configuration.arn in share.resources:
                share.resources[configuration.arn] = "DISASSOCIATED"
        return {}

    def _ListResourceConfigurations(self, call: Call) -> dict[str, Any]:  # noqa: N802
        gateway = call.params.get("resourceGatewayIdentifier")
        gateway_id = gateway.rsplit("/", 1)[-1] if gateway else None
        items = []
        for c in self.book.configurations.values():
            if (c.account, c.region) != (call.account_id, call.region) or (gateway_id and c.gateway_id != gateway_id):
                continue
            item: dict[str, Any] = {"id": c.id, "name": c.name, "arn": c.arn, "type": c.type, "status": "ACTIVE",
                                    "amazonManaged": False, "createdAt": c.created_at, "lastUpdatedAt": c.created_at}
            if c.gateway_id:
                item["resourceGatewayId"] = c.gateway_id
            if c.group_id:
                item["resourceConfigurationGroupId"] = c.group_id
            items.append(item)
        return {"items": items}


    # tags

    def _ListTagsForResource(self, call: Call) -> dict[str, Any]:  # noqa: N802
        """The tags of one of the caller's gateways or configurations (a consumer does not see the owner's)."""
        arn = call.params["resourceArn"]
        kind = arn.rsplit("/", 1)[0].rsplit(":", 1)[-1]
        found: Gateway | Configuration | None = (
            self.book.gateway(call, arn) if kind == "resourcegateway" else
            self.book.configuration(call, arn) if kind == "resourceconfiguration" else None)
        if found is None:
            raise _lattice_error("ResourceNotFoundException", f"Resource {arn} not found.")
        return {"tags": dict(found.tags)}


def _describe_gateway(gateway: Gateway) -> dict[str, Any]:
    return {"name": gateway.name, "id": gateway.id, "arn": gateway.arn, "status": gateway.state.status,
            "vpcId": gateway.vpc_id, "subnetIds": gateway.subnet_ids, "securityGroupIds": gateway.security_group_ids,
            "ipAddressType": gateway.ip_address_type, "ipv4AddressesPerEni": gateway.ipv4_per_eni,
            "createdAt": gateway.created_at, "lastUpdatedAt": gateway.updated_at or gateway.created_at}


def _describe_configuration(configuration: Configuration) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": configuration.id, "name": configuration.name, "arn": configuration.arn, "type": configuration.type,
        "allowAssociationToShareableServiceNetwork": configuration.allow_shareable_network,
        "protocol": configuration.protocol, "status": "ACTIVE", "createdAt": configuration.created_at,
        "amazonManaged": False, "lastUpdatedAt": configuration.created_at}
    if configuration.port_ranges:
        answer["portRanges"] = configuration.port_ranges
    if configuration.gateway_id:
        answer["resourceGatewayId"] = configuration.gateway_id
    if configuration.group_id:
        answer["resourceConfigurationGroupId"] = configuration.group_id
    if configuration.definition:
        answer["resourceConfigurationDefinition"] = configuration.definition
    if configuration.custom_domain:
        answer["customDomainName"] = configuration.custom_domain
    return answer


class LatticeLifecycle(Rule):
    """A resource gateway is CREATE_IN_PROGRESS, then ACTIVE; deleted, DELETE_IN_PROGRESS, then gone
    (ResourceNotFoundException). A resource endpoint is Pending, then Available; deleted, Deleting, then
    Deleted. Each transient status lasts `Timing`'s ticks. Relaxed, a new thing is ready at once and a
    deleted one gone at the next look (as moto would have it)."""

    name = "lattice-lifecycle"

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def after(self, call: Call, response: dict[str, Any]) -> None:
        timing = self.book.timing
        if call.service == "vpc-lattice" and call.operation == "CreateResourceGateway":
            gateway = self.book.gateways[response["id"]]
            gateway.state = Transient("CREATE_IN_PROGRESS", timing.gateway_creating, "ACTIVE")
            response["status"] = gateway.state.status
        elif call.service == "vpc-lattice" and call.operation == "DeleteResourceGateway":
            if call.context.get("deleting"):
                self.book.gateways[response["id"]].state.remaining = timing.gateway_deleting
        elif call.service == "ec2" and call.operation == "CreateVpcEndpoint":
            endpoint = self.book.endpoints.get(response["VpcEndpoint"]["VpcEndpointId"])
            if endpoint is not None:
                endpoint.state = Transient("Pending", timing.endpoint_pending, "Available")
                response["VpcEndpoint"]["State"] = "Pending"
        elif call.service == "ec2" and call.operation == "DeleteVpcEndpoints":
            for endpoint_id in call.context.get("deleting", []):
                self.book.endpoints[endpoint_id].state.remaining = timing.endpoint_deleting


# --- the rules of resource gateways and configurations ----------------------------------------------------


class GatewaySubnets(Rule):
    """A resource gateway's subnets are in its VPC, owned by the caller: "You can't create a resource
    gateway in a shared subnet." Its security groups are in the same VPC."""

    name = "resource-gateway-subnets"

    def before(self, call: Call) -> None:
        if call.service != "vpc-lattice" or call.operation != "CreateResourceGateway":
            return
        vpc_id = call.params.get("vpcIdentifier")
        for subnet_id in call.params.get("subnetIds") or []:
            subnet = _subnet(call.account_id, call.region, subnet_id)
            if subnet is None:
                raise _lattice_error("ResourceNotFoundException", f"Subnet {subnet_id} not found.")
            if subnet.vpc_id != vpc_id:
                raise _lattice_error("ValidationException", f"Subnet {subnet_id} is not in VPC {vpc_id}.")
            if subnet.owner_id != call.account_id:
                raise _lattice_error("ValidationException",
                                     f"Subnet {subnet_id} is shared with this account by {subnet.owner_id}: a "
                                     "resource gateway can't be created in a shared subnet.")
        backend = _ec2(call.account_id, call.region)
        for group_id in call.params.get("securityGroupIds") or []:
            group = backend.get_security_group_from_id(group_id)
            if group is None:
                raise _lattice_error("ResourceNotFoundException", f"Security group {group_id} not found.")
            if group.vpc_id != vpc_id:
                raise _lattice_error("ValidationException",
                                     f"Security group {group_id} is not in VPC {vpc_id}: the security groups must "
                                     "be in the same VPC.")


class GatewayAddresses(Rule):
    """A resource gateway has a network interface in each of its subnets with `ipv4AddressesPerEni` IPv4
    addresses, 16 by default ("Create a resource gateway": "The default is 16 IPv4 addresses per ENI"): a
    subnet with fewer free cannot hold it. The exact error AWS sends is not documented: ValidationException."""

    name = "resource-gateway-addresses"

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if call.service != "vpc-lattice" or call.operation != "CreateResourceGateway":
            return
        needed = int(call.params.get("ipv4AddressesPerEni", 16))
        for subnet_id in call.params.get("subnetIds") or []:
            subnet = _subnet(call.account_id, call.region, subnet_id)
            if subnet is None:
                continue
            # As DescribeSubnets counts them (moto may give an ENI one of the subnet's reserved addresses).
            free = subnet.available_ip_address_count - sum(
                len(taken) for taken in self.book.addresses.get(subnet_id, {}).values())
            if free < needed:
                raise _lattice_error("ValidationException",
                                     f"Subnet {subnet_id} has {free} free IPv4 addresses: the resource gateway's "
                                     f"network interface there needs {needed} (ipv4AddressesPerEni).")

    def after(self, call: Call, response: dict[str, Any]) -> None:
        if call.service != "vpc-lattice" or call.operation != "CreateResourceGateway":
            return
        needed = int(call.params.get("ipv4AddressesPerEni", 16))
        for subnet_id in call.params.get("subnetIds") or []:
            free = free_addresses(call.account_id, call.region, subnet_id, self.book) or []
            self.book.addresses.setdefault(subnet_id, {})[response["id"]] = free[:needed]


class GatewayQuota(Rule):
    """Resource gateways per VPC: 100 (the resource gateway page; see docs/aws-fidelity.md)."""

    name = "resource-gateway-quota"

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if call.service != "vpc-lattice" or call.operation != "CreateResourceGateway":
            return
        limit = self.book.limits["resource-gateways-per-vpc"]
        vpc_id = call.params.get("vpcIdentifier")
        if sum(1 for g in self.book.gateways.values() if g.vpc_id == vpc_id) >= limit:
            raise _lattice_error("ServiceQuotaExceededException",
                                 f"VPC {vpc_id} has reached the limit of {limit} resource gateways.")


class UniqueNames(Rule):
    """A resource gateway's name, and a resource configuration's, are unique within the account (and
    Region): ConflictException."""

    name = "lattice-unique-names"

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if call.service != "vpc-lattice":
            return
        place = (call.account_id, call.region)
        if call.operation == "CreateResourceGateway":
            taken = [g.id for g in self.book.gateways.values()
                     if (g.account, g.region) == place and g.name == call.params["name"]]
        elif call.operation == "CreateResourceConfiguration":
            taken = [c.id for c in self.book.configurations.values()
                     if (c.account, c.region) == place and c.name == call.params["name"]]
        else:
            return
        if taken:
            raise _lattice_error("ConflictException", f"The name {call.params['name']} is already used by {taken[0]}.")


class GatewayState(Rule):
    """A resource configuration goes on an ACTIVE resource gateway; a gateway still being created is not
    deleted (ConflictException). AWS does not document either answer: the emulator is the stricter of the
    two possibilities, so the product waits for ACTIVE."""

    name = "resource-gateway-state"

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

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
            raise _lattice_error("ConflictException", f"Resource gateway {gateway.id} is {status}: a resource "
                                                      "configuration needs an ACTIVE resource gateway.")
        if call.operation == "DeleteResourceGateway" and status == "CREATE_IN_PROGRESS":
            raise _lattice_error("ConflictException", f"Resource gateway {gateway.id} is {status}.")


class GatewayInUse(Rule):
    """"You cannot delete a resource gateway as long as there are resource configurations associated with
    it." (ConflictException)"""

    name = "resource-gateway-in-use"

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if call.service != "vpc-lattice" or call.operation != "DeleteResourceGateway":
            return
        gateway = self.book.gateway(call, call.params["resourceGatewayIdentifier"])
        if gateway is None:
            return
        attached = [c.id for c in self.book.configurations.values() if c.gateway_id == gateway.id]
        if attached:
            raise _lattice_error("ConflictException",
                                 f"Resource gateway {gateway.id} has resource configurations associated with it "
                                 f"({', '.join(attached)}): delete them first.")


class ConfigurationDefinition(Rule):
    """What each type of resource configuration takes: SINGLE and CHILD a DNS name or an IP address,
    GROUP none (its children have them), ARN an ARN; SINGLE, GROUP and ARN a resource gateway, CHILD a
    group; port ranges for SINGLE, GROUP and CHILD only; TCP only; an IP address only from the private
    ranges."""

    name = "resource-configuration-definition"

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if call.service != "vpc-lattice" or call.operation != "CreateResourceConfiguration":
            return
        params = call.params
        kind = params["type"]
        definition = params.get("resourceConfigurationDefinition") or {}
        wanted = {"SINGLE": {"dnsResource", "ipResource"}, "CHILD": {"dnsResource", "ipResource"},
                  "ARN": {"arnResource"}, "GROUP": set()}.get(kind)
        if wanted is None:
            return
        problems = []
        if set(definition) - wanted or (wanted and not definition):
            problems.append(f"a {kind} resource configuration is defined by "
                            f"{' or '.join(sorted(wanted)) or 'no resourceConfigurationDefinition'}")
        if kind == "CHILD":
            if not params.get("resourceConfigurationGroupIdentifier") or params.get("resourceGatewayIdentifier"):
                problems.append("a CHILD resource configuration names its GROUP, not a resource gateway")
            else:
                group = self.book.configuration(call, params["resourceConfigurationGroupIdentifier"])
                if group is not None and group.type != "GROUP":
                    problems.append(f"{group.id} is a {group.type} resource configuration, not a GROUP")
        elif not params.get("resourceGatewayIdentifier"):
            problems.append(f"a {kind} resource configuration needs a resourceGatewayIdentifier")
        if kind == "ARN" and params.get("portRanges"):
            problems.append("portRanges apply to SINGLE, GROUP and CHILD resource configurations only")
        if params.get("protocol", "TCP") != "TCP":
            problems.append("only the TCP protocol is supported")
        address = (definition.get("ipResource") or {}).get("ipAddress")
        if address is not None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                problems.append(f"{address} is not an IP address")
            else:
                if ip.version == 4 and not any(ip in network for network in PRIVATE_RANGES):
                    problems.append(f"{address} is not in 10.0.0.0/8, 100.64.0.0/10, 172.16.0.0/12 or "
                                    "192.168.0.0/16: public IP addresses aren't supported")
        for ports in params.get("portRanges") or []:
            low, _, high = ports.partition("-")
            if not (1 <= int(low) <= int(high or low) <= 65535):
                problems.append(f"port range {ports} is not within 1-65535")
        if problems:
            raise _lattice_error("ValidationException", "; ".join(problems) + ".")


def _rds_database(arn: str) -> tuple[str, Any] | None:
    """("cluster" or "db", moto's cluster or instance) for an RDS ARN, or None."""
    parts = arn.split(":")
    if len(parts) != 7 or parts[2] != "rds" or parts[5] not in ("cluster", "db"):
        return None
    region, account, kind, name = parts[3], parts[4], parts[5], parts[6]
    regions = dict.get(rds_backends, account)
    backend = dict.get(regions, region) if regions is not None else None
    if backend is None:
        return None
    found = (backend.clusters if kind == "cluster" else backend.databases).get(name)
    return (kind, found) if found is not None else None


def _cluster_members(cluster: Any) -> list[Any]:
    backend = rds_backends[cluster.account_id][cluster.region]
    return [db for db in backend.databases.values() if getattr(db, "db_cluster_identifier", None) ==
            cluster.db_cluster_identifier]


def _database_vpc(kind: str, database: Any) -> str | None:
    if kind == "db":
        group = getattr(database, "db_subnet_group", None)
        return getattr(group, "vpc_id", None)
    backend = rds_backends[database.account_id][database.region]
    groups = backend.describe_db_subnet_groups(database.db_subnet_group_name) if getattr(
        database, "db_subnet_group_name", None) else []
    return groups[0].vpc_id if groups else None


class ArnResource(Rule):
    """An ARN resource configuration: "The only supported ARN-based resources are Amazon RDS resources";
    the database exists in the caller's account and Region, in the resource gateway's VPC."""

    name = "arn-resource-rds"

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        arn = _arn_of(call)
        if arn is None:
            return
        parts = arn.split(":")
        if len(parts) < 6 or parts[2] != "rds":
            raise _lattice_error("ValidationException", f"{arn}: the only supported ARN-based resources are Amazon "
                                                        "RDS resources.")
        if (parts[3], parts[4]) != (call.region, call.account_id):
            raise _lattice_error("ValidationException", f"{arn} is not in this account and Region "
                                                        f"({call.account_id}, {call.region}).")
        found = _rds_database(arn)
        if found is None:
            raise _lattice_error("ResourceNotFoundException", f"{arn} not found.")
        gateway = self.book.gateway(call, call.params.get("resourceGatewayIdentifier") or "")
        vpc_id = _database_vpc(*found)
        if gateway is not None and vpc_id is not None and vpc_id != gateway.vpc_id:
            raise _lattice_error("ValidationException", f"{arn} is in {vpc_id}, not in the resource gateway's VPC "
                                                        f"{gateway.vpc_id}.")


def _arn_of(call: Call) -> str | None:
    if call.service != "vpc-lattice" or call.operation != "CreateResourceConfiguration" or call.params["type"] != "ARN":
        return None
    arn = ((call.params.get("resourceConfigurationDefinition") or {}).get("arnResource") or {}).get("arn")
    return str(arn) if arn else None


class ArnResourceNotPublic(Rule):
    """"You can't create a resource configuration for a publicly accessible cluster." A cluster is publicly
    accessible when it, or any of its instances, is."""

    name = "arn-resource-not-public"

    def before(self, call: Call) -> None:
        arn = _arn_of(call)
        found = _rds_database(arn) if arn else None
        if found is None or found[0] != "cluster":
            return
        cluster = found[1]
        public = [cluster.db_cluster_identifier] if getattr(cluster, "publicly_accessible", False) else []
        public += [db.db_instance_identifier for db in _cluster_members(cluster) if db.publicly_accessible]
        if public:
            raise _lattice_error("ValidationException", f"{arn} is publicly accessible ({', '.join(public)}): a "
                                                        "resource configuration can't be created for a publicly "
                                                        "accessible cluster.")


class ArnResourceClusterOnly(Rule):
    """An ARN resource configuration for an RDS DB *instance*: AWS documents ARN configurations with an
    Aurora / RDS cluster ARN and says nothing of an instance's. Not documented either way, so the emulator
    refuses it: the product then shares an instance by its endpoint (a SINGLE configuration with a
    dnsResource), which is documented to work. Relax it to accept an instance ARN."""

    name = "arn-resource-cluster-only"

    def before(self, call: Call) -> None:
        arn = _arn_of(call)
        found = _rds_database(arn) if arn else None
        if found is not None and found[0] == "db":
            raise _lattice_error("ValidationException", f"{arn} is an RDS DB instance: the emulator accepts an RDS "
                                                        "cluster ARN only (docs/aws-fidelity.md).")


class ConfigurationInUse(Rule):
    """A resource configuration with a live resource endpoint, or a GROUP with children, is not deleted
    (ConflictException). Not documented: the stricter possibility, so the product deletes in reverse."""

    name = "resource-configuration-in-use"

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if call.service != "vpc-lattice" or call.operation != "DeleteResourceConfiguration":
            return
        configuration = self.book.configuration(call, call.params["resourceConfigurationIdentifier"])
        if configuration is None:
            return
        users = [e.id for e in self.book.live_endpoints(configuration.arn)]
        users += [c.id for c in self.book.configurations.values() if c.group_id == configuration.id]
        if users:
            raise _lattice_error("ConflictException", f"Resource configuration {configuration.id} is in use by "
                                                      f"{', '.join(users)}.")


# --- RAM: sharing a resource configuration ---------------------------------------------------------------


def _ram_error(code: str, message: str) -> AwsError:
    return AwsError(code, message, 400)


class RamShares(Rule):
    """Serves RAM for shares of resource configurations (moto refuses the resource type and implements no
    invitations): create, invitations and their acceptance, associations, disassociation, deletion. A
    share is the owner's, in its Region; a principal outside the owner's Organization gets an invitation
    and sees the resources only once it accepts. Shares of other resource types are moto's."""

    name = "ram-resource-shares"
    OPERATIONS = ("CreateResourceShare", "GetResourceShareInvitations", "AcceptResourceShareInvitation",
                  "RejectResourceShareInvitation", "GetResourceShareAssociations", "GetResourceShares",
                  "DisassociateResourceShare", "AssociateResourceShare", "DeleteResourceShare", "ListResources")

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if call.service != "ram" or call.operation not in self.OPERATIONS:
            return
        if call.operation == "CreateResourceShare" and not any(
                _is_configuration(arn) for arn in call.params.get("resourceArns") or []):
            return  # moto's
        if call.operation in ("DisassociateResourceShare", "AssociateResourceShare", "DeleteResourceShare") and \
                call.params["resourceShareArn"] not in self.book.shares:
            return  # moto's
        raise Served(getattr(self, "_" + call.operation)(call))

    # the owner's side

    def _CreateResourceShare(self, call: Call) -> dict[str, Any]:  # noqa: N802
        params = call.params
        share = Share(f"arn:{PARTITION}:ram:{call.region}:{call.account_id}:resource-share/{mock_random.uuid4()}",
                      params["name"], call.account_id, call.region, bool(params.get("allowExternalPrincipals", True)),
                      list(params.get("tags") or []), _now())
        self.book.shares[share.arn] = share
        self._associate(call, share, params.get("resourceArns") or [], params.get("principals") or [])
        answer = {"resourceShare": _describe_share(share)}
        if params.get("clientToken"):
            answer["clientToken"] = params["clientToken"]
        return answer

    def _associate(self, call: Call, share: Share, resources: list[str], principals: list[str]) -> None:
        for arn in resources:
            share.resources[arn] = "ASSOCIATED"
        for principal in principals:
            if principal in self.book.organization_sharing and share.owner in self.book.organization_sharing:
                share.principals[principal] = "ASSOCIATED"
                continue
            share.principals[principal] = "ASSOCIATING"
            invitation = Invitation(f"arn:{PARTITION}:ram:{call.region}:{call.account_id}:resource-share-invitation/"
                                    f"{mock_random.uuid4()}", share.arn, share.owner, principal, call.region, _now())
            self.book.invitations[invitation.arn] = invitation
        share.updated_at = _now()

    def _AssociateResourceShare(self, call: Call) -> dict[str, Any]:  # noqa: N802
        share = self._own_share(call)
        self._associate(call, share, call.params.get("resourceArns") or [], call.params.get("principals") or [])
        return {"resourceShareAssociations": [a for a in _associations(share) if a["associatedEntity"] in (
            *(call.params.get("resourceArns") or []), *(call.params.get("principals") or []))]}

    def _own_share(self, call: Call) -> Share:
        share = self.book.share(call, call.params["resourceShareArn"])
        if share is None or share.owner != call.account_id:
            raise _ram_error("UnknownResourceException", f"ResourceShare {call.params['resourceShareArn']} could "
                                                         "not be found.")
        return share

    def _DisassociateResourceShare(self, call: Call) -> dict[str, Any]:  # noqa: N802
        share = self._own_share(call)
        changed = []
        for arn in call.params.get("resourceArns") or []:
            if arn in share.resources:
                share.resources[arn] = "DISASSOCIATED"
                changed.append(arn)
        for principal in call.params.get("principals") or []:
            if principal in share.principals:
                share.principals[principal] = "DISASSOCIATED"
                changed.append(principal)
        share.updated_at = _now()
        return {"resourceShareAssociations": [a for a in _associations(share) if a["associatedEntity"] in changed]}

    def _DeleteResourceShare(self, call: Call) -> dict[str, Any]:  # noqa: N802
        share = self._own_share(call)
        share.status = "DELETED"
        share.updated_at = _now()
        for arn in share.resources:
            share.resources[arn] = "DISASSOCIATED"
        for principal in share.principals:
            share.principals[principal] = "DISASSOCIATED"
        answer: dict[str, Any] = {"returnValue": True}
        if call.params.get("clientToken"):
            answer["clientToken"] = call.params["clientToken"]
        return answer

    def _GetResourceShares(self, call: Call) -> dict[str, Any]:  # noqa: N802
        owner = call.params["resourceOwner"]
        asked = call.params.get("resourceShareArns")
        shares = []
        for share in self.book.shares.values():
            if share.region != call.region or (asked and share.arn not in asked):
                continue
            if call.params.get("name") and share.name != call.params["name"]:
                continue
            if call.params.get("resourceShareStatus") and share.status != call.params["resourceShareStatus"]:
                continue
            if not all(_tag_filter_matches(share.tags, wanted) for wanted in call.params.get("tagFilters") or []):
                continue
            mine = share.owner == call.account_id
            if (owner == "SELF" and mine) or (owner == "OTHER-ACCOUNTS" and share.principals.get(
                    call.account_id) == "ASSOCIATED"):
                shares.append(_describe_share(share))
        return {"resourceShares": shares}

    def _GetResourceShareAssociations(self, call: Call) -> dict[str, Any]:  # noqa: N802
        params = call.params
        kind = params["associationType"]
        found = []
        for share in self.book.shares.values():
            if share.owner != call.account_id or share.region != call.region:
                continue  # RAM lists the associations of the caller's own shares
            if params.get("resourceShareArns") and share.arn not in params["resourceShareArns"]:
                continue
            for association in _associations(share):
                if association["associationType"] != kind:
                    continue
                if params.get("resourceArn") and association["associatedEntity"] != params["resourceArn"]:
                    continue
                if params.get("principal") and association["associatedEntity"] != params["principal"]:
                    continue
                if params.get("associationStatus") and association["status"] != params["associationStatus"]:
                    continue
                found.append(association)
        return {"resourceShareAssociations": found}

    def _ListResources(self, call: Call) -> dict[str, Any]:  # noqa: N802
        owner = call.params["resourceOwner"]
        found = []
        for share in self.book.shares.values():
            if share.region != call.region or share.status != "ACTIVE":
                continue
            if not ((owner == "SELF" and share.owner == call.account_id) or (
                    owner == "OTHER-ACCOUNTS" and share.principals.get(call.account_id) == "ASSOCIATED")):
                continue
            for arn, status in share.resources.items():
                if status == "ASSOCIATED":
                    found.append({"arn": arn, "type": RESOURCE_CONFIGURATION_TYPE, "resourceShareArn": share.arn,
                                  "status": "AVAILABLE", "creationTime": share.created_at,
                                  "lastUpdatedTime": share.updated_at or share.created_at,
                                  "resourceRegionScope": "REGIONAL"})
        return {"resources": found}

    # the receiver's side

    def _GetResourceShareInvitations(self, call: Call) -> dict[str, Any]:  # noqa: N802
        asked = call.params.get("resourceShareInvitationArns")
        shares = call.params.get("resourceShareArns")
        found = []
        for invitation in self.book.invitations.values():
            if invitation.region != call.region or call.account_id not in (invitation.receiver, invitation.sender):
                continue
            if (asked and invitation.arn not in asked) or (shares and invitation.share_arn not in shares):
                continue
            found.append(self._describe_invitation(invitation))
        if asked and not found:
            raise _ram_error("ResourceShareInvitationArnNotFoundException",
                             f"ResourceShareInvitation {asked[0]} could not be found.")
        return {"resourceShareInvitations": found}

    def _describe_invitation(self, invitation: Invitation) -> dict[str, Any]:
        share = self.book.shares[invitation.share_arn]
        return {"resourceShareInvitationArn": invitation.arn, "resourceShareName": share.name,
                "resourceShareArn": share.arn, "senderAccountId": invitation.sender,
                "receiverAccountId": invitation.receiver, "invitationTimestamp": invitation.sent_at,
                "status": invitation.status}

    def _invitation(self, call: Call) -> Invitation:
        arn = call.params["resourceShareInvitationArn"]
        invitation = self.book.invitations.get(arn)
        if invitation is None or invitation.region != call.region or invitation.receiver != call.account_id:
            raise _ram_error("ResourceShareInvitationArnNotFoundException",
                             f"ResourceShareInvitation {arn} could not be found.")
        return invitation

    def _AcceptResourceShareInvitation(self, call: Call) -> dict[str, Any]:  # noqa: N802
        invitation = self._invitation(call)
        share = self.book.shares[invitation.share_arn]
        if invitation.status == "ACCEPTED":
            raise _ram_error("ResourceShareInvitationAlreadyAcceptedException",
                             f"ResourceShareInvitation {invitation.arn} has already been accepted.")
        if invitation.status == "REJECTED":
            raise _ram_error("ResourceShareInvitationAlreadyRejectedException",
                             f"ResourceShareInvitation {invitation.arn} has already been rejected.")
        if share.status != "ACTIVE" or share.principals.get(invitation.receiver) != "ASSOCIATING":
            raise _ram_error("OperationNotPermittedException",
                             f"ResourceShare {share.arn} is no longer shared with {invitation.receiver}.")
        invitation.status = "ACCEPTED"
        share.principals[invitation.receiver] = "ASSOCIATED"
        return self._invitation_answer(call, invitation)

    def _RejectResourceShareInvitation(self, call: Call) -> dict[str, Any]:  # noqa: N802
        invitation = self._invitation(call)
        if invitation.status != "PENDING":
            code = {"ACCEPTED": "ResourceShareInvitationAlreadyAcceptedException",
                    "REJECTED": "ResourceShareInvitationAlreadyRejectedException"}[invitation.status]
            raise _ram_error(code, f"ResourceShareInvitation {invitation.arn} is {invitation.status}.")
        invitation.status = "REJECTED"
        self.book.shares[invitation.share_arn].principals[invitation.receiver] = "DISASSOCIATED"
        return self._invitation_answer(call, invitation)

    def _invitation_answer(self, call: Call, invitation: Invitation) -> dict[str, Any]:
        answer: dict[str, Any] = {"resourceShareInvitation": self._describe_invitation(invitation)}
        if call.params.get("clientToken"):
            answer["clientToken"] = call.params["clientToken"]
        return answer


def _is_configuration(arn: str) -> bool:
    return ":vpc-lattice:" in arn and ":resourceconfiguration/" in arn


def _tag_filter_matches(tags: list[dict[str, str]], tag_filter: dict[str, Any]) -> bool:
    """A RAM TagFilter: a tag with that key (tagKey), and one of tagValues when any are given."""
    key, values = tag_filter.get("tagKey"), tag_filter.get("tagValues") or []
    return any((key is None or tag["key"] == key) and (not values or tag.get("value") in values) for tag in tags)


def _describe_share(share: Share) -> dict[str, Any]:
    return {"resourceShareArn": share.arn, "name": share.name, "owningAccountId": share.owner,
            "allowExternalPrincipals": share.allow_external, "status": share.status, "tags": share.tags,
            "creationTime": share.created_at, "lastUpdatedTime": share.updated_at or share.created_at,
            "featureSet": "STANDARD"}


def _associations(share: Share) -> list[dict[str, Any]]:
    found = []
    for entity, status, kind in [*((arn, s, "RESOURCE") for arn, s in share.resources.items()),
                                 *((account, s, "PRINCIPAL") for account, s in share.principals.items())]:
        association = {"resourceShareArn": share.arn, "resourceShareName": share.name, "associatedEntity": entity,
                       "associationType": kind, "status": status, "creationTime": share.created_at,
                       "lastUpdatedTime": share.updated_at or share.created_at}
        if kind == "PRINCIPAL":
            association["external"] = True
        found.append(association)
    return found


class RamShareable(Rule):
    """What RAM shares of a resource configuration: one of the caller's own, in the share's Region (RAM
    shares are Regional; UnknownResourceException otherwise); never a CHILD configuration ("can't be
    shared independently; it can only be shared as part of a group"); with allowExternalPrincipals
    false, no account outside the owner's Organization."""

    name = "ram-shareable"

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if call.service != "ram" or call.operation not in ("CreateResourceShare", "AssociateResourceShare"):
            return
        for arn in call.params.get("resourceArns") or []:
            if not _is_configuration(arn):
                continue
            configuration = self.book.configuration(call, arn)
            if configuration is None:
                raise _ram_error("UnknownResourceException", f"Resource {arn} could not be found in this account "
                                                             f"and Region ({call.account_id}, {call.region}).")
            if configuration.type == "CHILD":
                raise _ram_error("InvalidParameterException",
                                 f"{arn} is a CHILD resource configuration: it can only be shared as part of its "
                                 "group.")
        allow = call.params.get("allowExternalPrincipals", True)
        if call.operation == "AssociateResourceShare":
            share = self.book.shares.get(call.params["resourceShareArn"])
            allow = share.allow_external if share is not None else True
        outside = [p for p in call.params.get("principals") or []
                   if not (p in self.book.organization_sharing and call.account_id in self.book.organization_sharing)]
        if not allow and outside:
            raise _ram_error("OperationNotPermittedException",
                             f"The resource share does not allow external principals: {', '.join(outside)}.")


# --- EC2: the resource VPC endpoint ------------------------------------------------------------------------


class ResourceEndpoints(Rule):
    """CreateVpcEndpoint with VpcEndpointType=Resource: moto makes the endpoint (so describe, delete and
    tags work) but ignores the configuration. This keeps what AWS adds: the configuration's ARN, the
    default DNS name (`<endpoint>.<rcfg>.<hash>.vpc-lattice-rsc.<region>.on.aws`) and, for an ARN
    configuration with private DNS, the database's own name; the VPC's default security group when none
    is given; the addresses it takes in its subnets; Deleting/Deleted after a delete. It serves
    DescribeVpcEndpointAssociations (moto: not implemented), where AWS documents the DNS entries."""

    name = "resource-endpoints"

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if call.service != "ec2":
            return
        if call.operation in ("DescribeVpcEndpoints", "DescribeVpcEndpointAssociations"):
            asked = call.params.get("VpcEndpointIds")
            for endpoint in self.book.endpoints.values():
                if (endpoint.account, endpoint.region) == (call.account_id, call.region) and (
                        not asked or endpoint.id in asked):
                    endpoint.state.tick()
        if call.operation == "DescribeVpcEndpointAssociations":
            raise Served(self._associations(call))
        if call.operation == "DeleteVpcEndpoints":
            deleting = []
            for endpoint_id in call.params.get("VpcEndpointIds", []):
                deleted = self.book.endpoints.get(endpoint_id)
                if deleted is not None and (deleted.account, deleted.region) == (call.account_id, call.region) \
                        and deleted.state.status not in ("Deleting", "Deleted"):
                    deleted.state = Transient("Deleting", 0, "Deleted")
                    self._release(deleted)
                    deleting.append(endpoint_id)
            call.context["deleting"] = deleting

    def after(self, call: Call, response: dict[str, Any]) -> None:
        if call.service != "ec2":
            return
        if call.operation == "CreateVpcEndpoint" and call.params.get("VpcEndpointType") == "Resource":
            self._created(call, response["VpcEndpoint"])
        elif call.operation == "DescribeVpcEndpoints":
            completed = []
            for answer in response.get("VpcEndpoints", []):
                endpoint = self.book.endpoints.get(answer["VpcEndpointId"])
                if endpoint is not None:
                    self._show(endpoint, answer)
                    completed.append(answer)
            check_answer(call, {"VpcEndpoints": completed})  # moto's own answers for other types are moto's
        elif call.operation == "DescribeSubnets":
            for subnet in response.get("Subnets", []):
                taken = sum(len(block) for block in self.book.addresses.get(subnet["SubnetId"], {}).values())
                if taken and "AvailableIpAddressCount" in subnet:
                    subnet["AvailableIpAddressCount"] = max(0, subnet["AvailableIpAddressCount"] - taken)

    def _created(self, call: Call, answer: dict[str, Any]) -> None:
        configuration_arn = call.params.get("ResourceConfigurationArn") or ""
        configuration_id = configuration_arn.rsplit("/", 1)[-1]
        configuration = self.book.configurations.get(configuration_id)  # None: a check was relaxed
        endpoint_id = answer["VpcEndpointId"]
        backend = _ec2(call.account_id, call.region)
        vpc = backend.vpcs[call.params["VpcId"]]
        private_dns = bool(call.params.get("PrivateDnsEnabled", False))  # false unless asked (CLI reference)
        endpoint = Endpoint(endpoint_id, call.account_id, call.region, vpc.id, configuration_arn,
                            list(call.params.get("SubnetIds") or []),
                            f"{endpoint_id}.{configuration_id}.{_hex(7)}.vpc-lattice-rsc.{call.region}.on.aws",
                            "Z" + _hex(20).upper(), private_dns and configuration is not None and
                            configuration.type == "ARN",
                            f"vpce-rsc-asc-{_hex(17)}")
        self.book.endpoints[endpoint_id] = endpoint
        for subnet_id in endpoint.subnet_ids:
            block = free_block(call.account_id, call.region, subnet_id, self.book)
            if block is not None:
                self.book.addresses.setdefault(subnet_id, {})[endpoint_id] = block
        made = backend.vpc_end_points[endpoint_id]
        groups = list(call.params.get("SecurityGroupIds") or [])
        if not groups:
            default = backend.get_default_security_group(vpc.id)
            groups = [default.id] if default is not None else []
        made.security_group_ids = groups
        self._show(endpoint, answer)
        answer.pop("DnsEntries", None)  # AWS's create answer has none yet (the CLI reference's example)
        check_answer(call, {"VpcEndpoint": answer})

    def _show(self, endpoint: Endpoint, answer: dict[str, Any]) -> None:
        backend = _ec2(endpoint.account, endpoint.region)
        made = backend.vpc_end_points.get(endpoint.id)
        groups = getattr(made, "security_group_ids", None) or []
        for member in ("PolicyDocument", "RouteTableIds", "ServiceName", "RequesterManaged"):
            answer.pop(member, None)
        answer.update({
            "VpcEndpointType": "Resource", "State": endpoint.state.status, "IpAddressType": "ipv4",
            "ResourceConfigurationArn": endpoint.configuration_arn, "PrivateDnsEnabled": endpoint.private_dns,
            "Groups": [{"GroupId": g, "GroupName": _group_name(backend, g)} for g in groups],
            "DnsEntries": _dns_entries(self.book, endpoint) if endpoint.state.status == "Available" else [],
            "NetworkInterfaceIds": [],
        })

    def _release(self, endpoint: Endpoint) -> None:
        for blocks in self.book.addresses.values():
            blocks.pop(endpoint.id, None)

    def _associations(self, call: Call) -> dict[str, Any]:
        asked = call.params.get("VpcEndpointIds")
        found = []
        for endpoint in self.book.endpoints.values():
            if (endpoint.account, endpoint.region) != (call.account_id, call.region) or endpoint.state.status in (
                    "Deleted",) or (asked and endpoint.id not in asked):
                continue
            accessible = endpoint.state.status == "Available" and (
                self.book.configuration(call, endpoint.configuration_arn, shared=True) is not None)
            association: dict[str, Any] = {
                "Id": endpoint.association_id, "VpcEndpointId": endpoint.id,
                "AssociatedResourceAccessibility": "Accessible" if accessible else "Inaccessible",
                "DnsEntry": {"DnsName": endpoint.dns_name, "HostedZoneId": endpoint.hosted_zone_id},
                "AssociatedResourceArn": endpoint.configuration_arn}
            private = _private_dns_name(self.book, endpoint)
            if private:
                association["PrivateDnsEntry"] = {"DnsName": private, "HostedZoneId": endpoint.hosted_zone_id}
            found.append(association)
        return {"VpcEndpointAssociations": found}


@functools.cache
def _operation_model(service: str, operation: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service).operation_model(operation)


def check_answer(call: Call, response: dict[str, Any]) -> None:
    """An answer of moto's that a rule completed must still be one AWS could send."""
    check_output(_operation_model(call.service, call.operation), response)


def _group_name(backend: Any, group_id: str) -> str:
    group = backend.get_security_group_from_id(group_id)
    return str(group.name) if group is not None else group_id


def _private_dns_name(book: LatticeBook, endpoint: Endpoint) -> str | None:
    """With private DNS, an ARN configuration's database keeps its own name: the cluster's endpoint."""
    configuration = book.configurations.get(endpoint.configuration_arn.rsplit("/", 1)[-1])
    if not endpoint.private_dns or configuration is None or not configuration.definition:
        return None
    arn = (configuration.definition.get("arnResource") or {}).get("arn", "")
    found = _rds_database(arn)
    if found is None:
        return None
    return str(found[1].endpoint if found[0] == "cluster" else found[1].address)


def _dns_entries(book: LatticeBook, endpoint: Endpoint) -> list[dict[str, str]]:
    entries = [{"DnsName": endpoint.dns_name, "HostedZoneId": endpoint.hosted_zone_id}]
    private = _private_dns_name(book, endpoint)
    if private:
        entries.append({"DnsName": private, "HostedZoneId": endpoint.hosted_zone_id})
    return entries


def _used_addresses(account: str, region: str, subnet: Any, book: LatticeBook) -> set[int]:
    used: set[int] = set()
    for eni in _ec2(account, region).get_all_network_interfaces():
        if eni.subnet.id != subnet.id:
            continue
        for address in [eni.private_ip_address, *(eni.private_ip_addresses or [])]:
            value = address.get("PrivateIpAddress") if isinstance(address, dict) else address
            if value:
                used.add(int(ipaddress.ip_address(value)))
    for block in book.addresses.get(subnet.id, {}).values():
        used.update(block)
    return used


def free_addresses(account: str, region: str, subnet_id: str, book: LatticeBook) -> list[int] | None:
    """The subnet's free addresses, in order (AWS reserves its first four and its last); None: no such subnet."""
    subnet = _subnet(account, region, subnet_id)
    if subnet is None:
        return None
    network = ipaddress.ip_network(subnet.cidr_block)
    used = _used_addresses(account, region, subnet, book)
    return [address for address in range(int(network.network_address) + 4, int(network.broadcast_address))
            if address not in used]


def free_block(account: str, region: str, subnet_id: str, book: LatticeBook,
               size: int = ENDPOINT_BLOCK) -> list[int] | None:
    """The first `size` contiguous free addresses of the subnet."""
    run: list[int] = []
    for address in free_addresses(account, region, subnet_id, book) or []:
        run = [*run, address] if run and address == run[-1] + 1 else [address]
        if len(run) == size:
            return run
    return None


def _resource_endpoint(call: Call) -> bool:
    return call.service == "ec2" and call.operation == "CreateVpcEndpoint" and \
        call.params.get("VpcEndpointType") == "Resource"


class EndpointConfiguration(Rule):
    """A resource endpoint is for a resource configuration the caller owns, or one shared with it whose
    share it has accepted ("you must review and accept the resource share"), in the same Region (the
    resource-configuration path is Regional), of type SINGLE, GROUP or ARN (not CHILD). The exact error
    code AWS sends is not documented: InvalidParameter here."""

    name = "resource-endpoint-configuration"

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if not _resource_endpoint(call):
            return
        arn = call.params.get("ResourceConfigurationArn")
        if not arn:
            raise AwsError("MissingParameter", "The request must contain the parameter ResourceConfigurationArn "
                                               "for an endpoint of type Resource.")
        region = arn.split(":")[3] if arn.count(":") >= 5 else ""
        if region != call.region:
            raise AwsError("InvalidParameter", f"{arn} is in Region {region}: a resource endpoint in {call.region} "
                                               "can only use a resource configuration of its own Region.")
        configuration = self.book.configuration(call, arn, shared=True)
        if configuration is None:
            pending = [i.arn for i in self.book.invitations.values() if i.receiver == call.account_id and
                       i.status == "PENDING" and arn in self.book.shares[i.share_arn].resources]
            hint = f" (invitation {pending[0]} is pending: accept it first)" if pending else ""
            raise AwsError("InvalidParameter", f"The resource configuration {arn} does not exist or is not shared "
                                               f"with account {call.account_id}{hint}.")
        if configuration.type == "CHILD":
            raise AwsError("InvalidParameter", f"{arn} is a CHILD resource configuration: a resource endpoint takes "
                                               "a SINGLE, GROUP or ARN resource configuration.")


class EndpointSubnets(Rule):
    """A resource endpoint's subnets are in its VPC, one per Availability Zone ("one subnet per Availability
    Zone"); its security groups are in its VPC."""

    name = "resource-endpoint-subnets"

    def before(self, call: Call) -> None:
        if not _resource_endpoint(call):
            return
        vpc_id = call.params.get("VpcId")
        zones: dict[str, str] = {}
        if not call.params.get("SubnetIds"):
            raise AwsError("InvalidParameter", "A resource endpoint needs at least one subnet.")
        for subnet_id in call.params["SubnetIds"]:
            subnet = _subnet(call.account_id, call.region, subnet_id)
            if subnet is None:
                raise AwsError("InvalidSubnetID.NotFound", f"The subnet ID '{subnet_id}' does not exist")
            if subnet.vpc_id != vpc_id:
                raise AwsError("InvalidParameter", f"Subnet {subnet_id} is not in VPC {vpc_id}.")
            zone = subnet.availability_zone_id
            if zone in zones:
                raise AwsError("DuplicateSubnetsInSameZone",
                               f"Found another subnet {zones[zone]} in the same Availability Zone ({zone}) as "
                               f"{subnet_id}: only one subnet per Availability Zone.")
            zones[zone] = subnet_id
        backend = _ec2(call.account_id, call.region)
        for group_id in call.params.get("SecurityGroupIds") or []:
            group = backend.get_security_group_from_id(group_id)
            if group is None:
                raise AwsError("InvalidGroup.NotFound", f"The security group '{group_id}' does not exist")
            if group.vpc_id != vpc_id:
                raise AwsError("InvalidParameter", f"Security group {group_id} is not in VPC {vpc_id}.")


class EndpointZones(Rule):
    """"At least one Availability Zone of the VPC endpoint and the resource gateway have to overlap." Zones
    are compared by zone ID: a zone's name maps to different zones in different accounts."""

    name = "resource-endpoint-zones"

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if not _resource_endpoint(call):
            return
        configuration = self.book.configuration(call, call.params.get("ResourceConfigurationArn") or "", shared=True)
        if configuration is None or configuration.gateway_id is None:
            return
        gateway = self.book.gateways.get(configuration.gateway_id)
        if gateway is None:
            return
        gateway_zones = {s.availability_zone_id for s in (_subnet(gateway.account, gateway.region, i)
                                                          for i in gateway.subnet_ids) if s is not None}
        endpoint_zones = {s.availability_zone_id for s in (_subnet(call.account_id, call.region, i)
                                                           for i in call.params.get("SubnetIds") or []) if s}
        if endpoint_zones and not endpoint_zones & gateway_zones:
            raise AwsError("InvalidParameter",
                           f"The endpoint's Availability Zones ({', '.join(sorted(endpoint_zones))}) and the resource "
                           f"gateway {gateway.id}'s ({', '.join(sorted(gateway_zones))}) do not overlap: at least one "
                           "must.")


class EndpointAddresses(Rule):
    """A resource endpoint takes 16 contiguous free addresses in each of its subnets. AWS's pages do not say
    so; a provider's documentation does (docs/aws-fidelity.md): kept as the stricter possibility."""

    name = "resource-endpoint-addresses"

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if not _resource_endpoint(call):
            return
        for subnet_id in call.params.get("SubnetIds") or []:
            if _subnet(call.account_id, call.region, subnet_id) is not None and free_block(
                    call.account_id, call.region, subnet_id, self.book) is None:
                raise AwsError("InsufficientFreeAddressesInSubnet",
                               f"Subnet {subnet_id} has no {ENDPOINT_BLOCK} contiguous free IP addresses for the "
                               "resource endpoint.")


class EndpointPrivateDns(Rule):
    """Private DNS for a resource endpoint needs the VPC's DNS hostnames and DNS resolution attributes on
    ("ensure that the attributes Enable DNS hostnames and Enable DNS support are enabled for your VPC")."""

    name = "resource-endpoint-private-dns"

    def before(self, call: Call) -> None:
        if not _resource_endpoint(call) or not call.params.get("PrivateDnsEnabled"):
            return
        vpc = _ec2(call.account_id, call.region).vpcs.get(call.params.get("VpcId"))
        if vpc is not None and not (vpc.enable_dns_hostnames and vpc.enable_dns_support):
            raise AwsError("InvalidParameter", f"To enable private DNS, VPC {vpc.id} needs the enableDnsHostnames "
                                               "and enableDnsSupport attributes on.")


class EndpointQuota(Rule):
    """Resource VPC endpoints per VPC: 200 (L-CA6CC422)."""

    name = "resource-endpoint-quota"

    def __init__(self, book: LatticeBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if not _resource_endpoint(call):
            return
        limit = self.book.limits["resource-endpoints-per-vpc"]
        vpc_id = call.params.get("VpcId")
        if sum(1 for e in self.book.endpoints.values()
               if e.vpc_id == vpc_id and e.state.status not in ("Deleted",)) >= limit:
            raise AwsError("VpcEndpointLimitExceeded",
                           f"VPC {vpc_id} has reached the limit of {limit} resource VPC endpoints.")


def lattice_rules(book: LatticeBook | None = None) -> list[Rule]:
    """Checks first, then the rules that serve or complete the answer, then the lifecycle."""
    book = book or LatticeBook()
    INSTALLED[:] = [book]
    return [GatewaySubnets(), GatewayAddresses(book), GatewayQuota(book), UniqueNames(book), GatewayState(book),
            GatewayInUse(book), ConfigurationDefinition(book), ArnResource(book), ArnResourceNotPublic(),
            ArnResourceClusterOnly(), ConfigurationInUse(book), RamShareable(book), EndpointConfiguration(book),
            EndpointSubnets(), EndpointZones(book), EndpointAddresses(book), EndpointPrivateDns(),
            EndpointQuota(book), LatticeApi(book), RamShares(book), ResourceEndpoints(book), LatticeLifecycle(book)]


# The data plane, as the probe sees it (emulator/network.py) ------------------------------------------------

INSTALLED: list[LatticeBook] = []  # the book of the rules made last (one emulated AWS per test or server)


@dataclass(frozen=True)
class EndpointPath:
    """Where a resource endpoint's DNS name leads: the endpoint's first address in its first subnet, the
    database host its configuration names, and whether the database's security groups admit the gateway's."""

    address: str
    target_host: str
    admitted: bool


def groups_in_use(account: str, region: str) -> dict[str, list[str]]:
    """Security groups the resource gateways and resource endpoints not yet deleted use, with their users."""
    book = INSTALLED[-1] if INSTALLED else None
    used: dict[str, list[str]] = {}
    if book is None:
        return used
    for gateway in book.gateways.values():
        if (gateway.account, gateway.region) == (account, region):
            for group_id in gateway.security_group_ids:
                used.setdefault(group_id, []).append(gateway.id)
    for endpoint in book.endpoints.values():
        if (endpoint.account, endpoint.region) == (account, region) and endpoint.state.status != "Deleted":
            vpce = _ec2(account, region).vpc_end_points.get(endpoint.id)
            for group_id in getattr(vpce, "security_group_ids", None) or []:
                used.setdefault(group_id, []).append(endpoint.id)
    return used


def endpoint_path(host: str) -> EndpointPath | None:
    book = INSTALLED[-1] if INSTALLED else None
    endpoint = next((e for e in book.endpoints.values() if e.dns_name == host), None) if book else None
    if book is None or endpoint is None or endpoint.state.status != "Available":
        return None
    configuration = book.configurations.get(endpoint.configuration_arn.rsplit("/", 1)[-1])
    if configuration is None or not configuration.definition or not book.shared_or_own(configuration, endpoint):
        return None
    found, target = _configuration_target(configuration)
    gateway = book.gateways.get(configuration.gateway_id or "")
    if target is None or gateway is None:
        return None
    block = book.addresses.get(endpoint.subnet_ids[0], {}).get(endpoint.id) or []
    address = str(ipaddress.ip_address(block[0])) if block else "0.0.0.0"  # noqa: S104 - no address: unreachable
    ports = {int(port) for spec in configuration.port_ranges for port in _ports(spec)}
    return EndpointPath(address, target, _admits(found, gateway, ports))


def _configuration_target(configuration: Configuration) -> tuple[Any | None, str | None]:
    """(moto's database, the host the gateway connects to) of an ARN or DNS configuration."""
    definition = configuration.definition or {}
    if "arnResource" in definition:
        found = _rds_database(definition["arnResource"].get("arn", ""))
        if found is None:
            return None, None
        kind, database = found
        return database, str(database.endpoint if kind == "cluster" else database.address)
    domain = (definition.get("dnsResource") or {}).get("domainName")
    backend = rds_backends[configuration.account][configuration.region]
    database = next((db for db in [*backend.databases.values(), *backend.clusters.values()]
                     if domain in (getattr(db, "address", None), getattr(db, "endpoint", None))), None)
    return database, domain


def _ports(spec: str) -> range:
    low, _, high = spec.partition("-")
    return range(int(low), int(high or low) + 1)


def _admits(database: Any | None, gateway: Gateway, ports: set[int]) -> bool:
    """Some security group of the database admits one of the gateway's groups on its port."""
    if database is None:
        return False
    port = int(getattr(database, "port", 0) or 0)
    backend = _ec2(gateway.account, gateway.region)
    for group_id in getattr(database, "vpc_security_group_ids", None) or []:
        group = backend.get_security_group_from_id(group_id)
        for rule in getattr(group, "ingress_rules", []) if group else []:
            sources = {(getattr(rule, "source_group", None) or {}).get("GroupId")}
            from_port, to_port = rule.from_port, rule.to_port
            if sources & set(gateway.security_group_ids) and rule.ip_protocol in ("tcp", "6", "-1") and (
                    rule.ip_protocol == "-1" or (from_port is not None and int(from_port) <= port <= int(to_port))) \
                    and (port in ports or not ports):  # an ARN configuration has no port ranges: the database's
                return True
    return False
