"""What the lattice rules know: the resource gateways, resource configurations, RAM shares and their
invitations, and resource endpoints made while they are installed, each with its status; the lookups as
the caller's account and Region see them; and the errors AWS answers when a lookup finds nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from moto.ec2.models import ec2_backends
from moto.moto_api._internal import mock_random

from emulator.strict.layer import AwsError, Call, Rule

PARTITION = "aws"


@dataclass
class Timing:
    """How many ticks still show each transient status. A tick is a GetResourceGateway of that gateway, a
    GetResourceConfiguration or ListResourceConfigurations that could show that configuration, a
    GetResourceShareAssociations of that share, or a DescribeVpcEndpoints / DescribeVpcEndpointAssociations
    that could show that endpoint. With 1, the create answers CREATE_IN_PROGRESS (Pending, ASSOCIATING), so
    does the first poll, and the second ACTIVE (Available, ASSOCIATED): a caller has to poll."""

    gateway_creating: int = 1
    gateway_deleting: int = 1
    configuration_creating: int = 1
    configuration_deleting: int = 1
    share_associating: int = 1
    endpoint_pending: int = 1
    endpoint_deleting: int = 1


TRANSIENT = frozenset({"CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "Pending", "Deleting", "ASSOCIATING"})


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


GONE = Transient("GONE")


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
    state: Transient = field(default_factory=lambda: Transient("ACTIVE"))
    failure_reason: str | None = None  # CREATE_FAILED: why
    amazon_managed: bool = False  # a child AWS made for an ARN configuration's endpoint
    endpoint: str | None = None  # such a child's: the RDS endpoint it reaches

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
    resources: dict[str, Transient] = field(default_factory=dict)  # resource ARN -> association status
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
    child_names: dict[str, tuple[str, str]] = field(default_factory=dict)  # child ARN -> (association, DNS name)
    dns_preference: str = "VERIFIED_DOMAINS_ONLY"  # DnsOptions.PrivateDnsPreference (with private DNS)
    specified_domains: list[str] = field(default_factory=list)  # DnsOptions.PrivateDnsSpecifiedDomains


@dataclass(frozen=True)
class Association:
    """What a resource endpoint reaches: its configuration, or each CHILD of it (an Aurora cluster's
    endpoints), each with its own association id and DNS name."""

    id: str
    configuration: Configuration
    dns_name: str


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
    failing: dict[str, str] = field(default_factory=dict)  # configuration name -> the failureReason AWS gives it
    child_domain_names: bool = True  # an ARN configuration's children show their endpoint as customDomainName
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
        """Shared with the account in a share it accepted; a CHILD with its group (its parent)."""
        if configuration.group_id is not None:
            parent = self.configurations.get(configuration.group_id)
            return parent is not None and self.shared_with(parent, account)
        return any(share.status == "ACTIVE" and share.resources.get(configuration.arn, GONE).status == "ASSOCIATED"
                   and share.principals.get(account) == "ASSOCIATED" for share in self.shares.values()
                   if share.region == configuration.region)

    def status(self, configuration: Configuration) -> Transient:
        """A configuration's status; an Amazon-managed child's is its parent's."""
        parent = self.configurations.get(configuration.group_id or "") if configuration.amazon_managed else None
        return parent.state if parent is not None else configuration.state

    def look_at(self, configuration: Configuration) -> Configuration | None:
        """A look that moves the configuration's status on: None once it is gone (its children go with it)."""
        if configuration.amazon_managed:
            return configuration if configuration.id in self.configurations else None
        configuration.state.tick()
        if configuration.state.status != "GONE":
            return configuration
        for gone in [configuration, *self.children(configuration)]:
            del self.configurations[gone.id]
        return None

    def children(self, configuration: Configuration) -> list[Configuration]:
        return [child for child in self.configurations.values() if child.group_id == configuration.id]

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

    def associations(self, endpoint: Endpoint) -> list[Association]:
        """The endpoint's associations: one for its configuration, or one per child when it has children."""
        configuration = self.configurations.get(endpoint.configuration_arn.rsplit("/", 1)[-1])
        if configuration is None:
            return []
        children = self.children(configuration)
        if not children:
            return [Association(endpoint.association_id, configuration, endpoint.dns_name)]
        found = []
        for child in children:
            association_id, name = endpoint.child_names.setdefault(child.arn, (
                f"vpce-rsc-asc-{random_hex(17)}",
                f"{endpoint.id}.{child.id}.{random_hex(7)}.vpc-lattice-rsc.{endpoint.region}.on.aws"))
            found.append(Association(association_id, child, name))
        return found

    def groups_in_use(self, account: str, region: str) -> dict[str, list[str]]:
        """Security groups the resource gateways and resource endpoints not yet deleted use, with their users
        (for DeleteSecurityGroup's DependencyViolation: emulator.strict.network.SecurityGroupInUse)."""
        used: dict[str, list[str]] = {}
        for gateway in self.gateways.values():
            if (gateway.account, gateway.region) == (account, region):
                for group_id in gateway.security_group_ids:
                    used.setdefault(group_id, []).append(gateway.id)
        for endpoint in self.endpoints.values():
            if (endpoint.account, endpoint.region) == (account, region) and endpoint.state.status != "Deleted":
                vpce = ec2_backends[account][region].vpc_end_points.get(endpoint.id)
                for group_id in getattr(vpce, "security_group_ids", None) or []:
                    used.setdefault(group_id, []).append(endpoint.id)
        return used


class BookRule(Rule):
    """A rule that reads, or keeps, what the lattice rules know."""

    def __init__(self, book: LatticeBook) -> None:
        self.book = book


def now() -> datetime:
    return datetime.now(UTC)


def random_hex(length: int) -> str:
    return "".join(mock_random.choice("0123456789abcdef") for _ in range(length))


# VPC Lattice's errors carry their own HTTP status; RAM's and EC2's are 400.
STATUS = {"ValidationException": 400, "ConflictException": 409, "ResourceNotFoundException": 404,
          "ServiceQuotaExceededException": 402, "AccessDeniedException": 403}


def error(code: str, message: str) -> AwsError:
    return AwsError(code, message, STATUS.get(code, 400))


# What AWS answers when the caller has no such thing (another account's or Region's is not found either):
# the kind of thing -> (error code, message with the identifier the caller gave).
NOT_FOUND = {
    "resource gateway": ("ResourceNotFoundException", "Resource gateway {} not found."),
    "resource configuration": ("ResourceNotFoundException", "Resource configuration {} not found."),
    "lattice resource": ("ResourceNotFoundException", "Resource {} not found."),
    "arn resource": ("ResourceNotFoundException", "{} not found."),
    "lattice vpc": ("ResourceNotFoundException", "VPC {} not found."),
    "lattice subnet": ("ResourceNotFoundException", "Subnet {} not found."),
    "lattice security group": ("ResourceNotFoundException", "Security group {} not found."),
    "resource share": ("UnknownResourceException", "ResourceShare {} could not be found."),
    "invitation": ("ResourceShareInvitationArnNotFoundException", "ResourceShareInvitation {} could not be found."),
    "subnet": ("InvalidSubnetID.NotFound", "The subnet ID '{}' does not exist"),
    "security group": ("InvalidGroup.NotFound", "The security group '{}' does not exist"),
}

Found = TypeVar("Found")


def not_found(kind: str, identifier: str) -> AwsError:
    code, message = NOT_FOUND[kind]
    return error(code, message.format(identifier))


def require(found: Found | None, kind: str, identifier: str) -> Found:
    """`found`, or AWS's not-found error for that kind of thing (`NOT_FOUND`)."""
    if found is None:
        raise not_found(kind, identifier)
    return found

