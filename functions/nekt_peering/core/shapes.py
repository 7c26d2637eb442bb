"""The data the stages pass each other through the execution: one definition of each shape.

Discover's facts, Preflight's plan and each stage's result are JSON in the execution's state; these
TypedDicts say what each holds. The stage logic returns them (mypy checks each field it writes, but
for three dicts built from others and cast: the database facts, the settings, the plan's database
summary), the handlers are typed with them, and tests/unit/test_shapes.py checks them against what the
stages really passed in the recorded run (events/). They cost nothing at run time: the functions import
this module for mypy only.

What a stage accepts from an event it did not make itself is untrusted JSON until checked: a stage may
be invoked by hand with any event. model.check_stage_event checks it against StageEvent below, whose
JSON schema `make validators` derives from these types (tools/typed_schema.py), with the patterns and
bounds a type cannot say (STAGE_EVENT_RULES), and generates ahead of time. Change a shape, run `make
validators`: tests/unit/test_validators.py fails until then.
"""

# No `from __future__ import annotations`: NotRequired must be seen when each class is made, so that
# __required_keys__ is right for tests/unit/test_shapes.py. Imported by the functions only for mypy.
import json
from importlib import resources
from typing import Any, Literal, NotRequired, TypedDict

Mode = Literal["peering", "public", "resource-endpoint"]
Side = Literal["database", "nekt"]
PeeringSide = Literal["requester", "accepter"]


# The request's database.kind.
DatabaseKind = Literal["rds", "redshift", "redshift-serverless", "docdb", "ec2", "address"]


class RequestFacts(TypedDict):
    """model.ConnectRequest.to_dict()."""

    identifier: str
    region: str
    mode: str  # "auto", "peering" or "public", as requested
    connectionId: str
    dryRun: bool
    endpoint: NotRequired[Literal["writer", "reader"]]  # an Aurora cluster's endpoint Nekt connects to
    kind: NotRequired[DatabaseKind]  # absent in facts recorded before kinds: rds
    instanceId: NotRequired[str]  # ec2
    host: NotRequired[str]  # address
    port: NotRequired[int]  # ec2, address
    vpcId: NotRequired[str]  # address
    engine: NotRequired[str]  # ec2, address


class SettingsData(TypedDict):
    """model.Settings.to_dict(): the deployment parameters, as every stage receives them."""

    stackAccountId: str
    stackRegion: str
    nektAccountId: str
    nektRegion: str
    nektVpcId: str
    nektRouteTableId: str
    nektAccepterRoleArn: str
    nektExternalId: str
    nektPublicIp: str
    pollIntervalSeconds: int
    maxPolls: int
    nektProbeFunctionArn: str  # "" when the Nekt account stack has no probe


class RouteFacts(TypedDict):
    destinationCidr: str
    target: str  # the peering, gateway, ... id; "local"; "unknown"
    state: str


class RouteTableFacts(TypedDict):
    routeTableId: str
    routes: list[RouteFacts]


class RuleFacts(TypedDict):
    """An ingress rule as discover.rule_facts reads it."""

    ruleId: str
    protocol: str | None
    fromPort: int | None
    toPort: int | None
    cidr: str | None
    description: str
    tags: dict[str, str]
    sourceGroupId: NotRequired[str | None]  # a rule admitting another security group (not a CIDR)
    groupId: NotRequired[str]  # the disconnect's: the group of each rule it found by tag


class NetworkAclEntry(TypedDict):
    """An IPv4 entry of a network ACL as network_acls.read_network_acls reads it."""

    ruleNumber: int
    egress: bool
    protocol: str  # "6" TCP, "-1" all, ... as AWS gives it
    action: str  # "allow" or "deny"
    cidr: str
    fromPort: int | None
    toPort: int | None


class NetworkAcl(TypedDict):
    networkAclId: str
    subnetIds: list[str]  # those of the subnets on the path it applies to
    entries: list[NetworkAclEntry]


class DatabaseFacts(TypedDict):
    identifier: str
    # What the database is: an RDS instance or Aurora cluster, a Redshift cluster ("redshift") or Serverless
    # workgroup ("redshift-serverless"), a DocumentDB cluster ("docdb"), an EC2 instance ("ec2"), or the network
    # interface holding the address given ("address").
    kind: Literal["instance", "cluster", "redshift", "redshift-serverless", "docdb", "ec2", "address"]
    engine: str | None
    status: str
    endpoint: str | None  # an instance's address, a cluster's (writer) endpoint
    readerEndpoint: NotRequired[str | None]  # a cluster's
    port: int | None
    publiclyAccessible: bool
    arn: NotRequired[str | None]
    vpcId: str
    securityGroupIds: list[str]
    securityGroupId: str
    accountId: str
    region: str
    cidrs: list[str]
    routeTables: list[RouteTableFacts]
    securityGroupRules: list[RuleFacts]
    subnetIds: list[str]  # its subnet group's
    subnetCidrs: list[str]  # where its addresses can be
    networkAcls: list[NetworkAcl]  # of its subnets, as Discover read them (Verify reads them again)


class NektFacts(TypedDict):
    accountId: str
    region: str
    vpcId: str
    cidrs: list[str]
    cidr: str  # the one CIDR of nekt-vpc that holds Nekt's private subnets
    routeTable: RouteTableFacts
    privateSubnetIds: list[str]  # the subnets the private route table serves: where Nekt connects from
    privateSubnetCidrs: list[str]
    networkAcls: list[NetworkAcl]  # of those subnets


class VpcInfo(TypedDict):
    vpcId: str | None
    ownerId: str | None
    region: str | None
    cidr: str | None
    allowDnsResolutionFromRemoteVpc: bool


class PeeringFacts(TypedDict):
    """A peering as discover.peering_facts reads it."""

    peeringConnectionId: str
    status: str
    statusMessage: str
    requester: VpcInfo
    accepter: VpcInfo
    tags: dict[str, str]


class QuotaFacts(TypedDict, total=False):
    """What Discover counted against the VPC quotas, and the applied values it read (per side) where a
    connect at AWS's default would go past one."""

    databaseVpcActivePeerings: int
    outstandingRequests: int
    nektVpcActivePeerings: int
    limits: dict[str, dict[str, int]]


class SubnetZone(TypedDict):
    """A subnet and its Availability Zone: zones are matched across accounts by id (names differ per account)."""

    subnetId: str
    zoneId: str
    zone: str
    cidr: str
    ownerId: str  # another account's: a subnet shared with this one (no resource gateway there)
    freeAddresses: int  # AvailableIpAddressCount: a resource endpoint takes 16 contiguous ones in each subnet


class FoundEndpoint(TypedDict):
    """A resource endpoint of the Nekt VPC (Discover)."""

    vpcEndpointId: str
    subnetIds: list[str]


class FoundGateway(TypedDict):
    """A resource gateway of this product in the database VPC (tag nekt:managed-by), reused by every
    connection of a database of that VPC."""

    resourceGatewayId: str
    resourceGatewayArn: str
    status: str
    securityGroupIds: list[str]
    subnetIds: list[str]
    connectionTag: str | None  # the connection it was created for
    ipv4AddressesPerEni: NotRequired[int]  # each address carries up to 55,000 connections to one destination


class DatabaseEndpoint(TypedDict):
    """One of the database's endpoints as the resource endpoint reaches it: an Aurora cluster's writer or
    reader (each a CHILD configuration AWS made for it), or an instance's one endpoint (role `database`)."""

    role: Literal["writer", "reader", "database", "unknown"]  # unknown: AWS showed no name that tells it
    resourceConfigurationArn: str  # what the resource endpoint's association for it names
    domainName: str | None  # the database's own name for it (what its certificate covers), when AWS shows it


class ResourcePathFacts(TypedDict):
    """What the resource-endpoint path needs beyond the database's facts (Discover, for that mode or auto)."""

    databaseArn: str  # the cluster's or instance's ARN
    databaseSubnets: list[SubnetZone]  # the database's subnet group's
    nektSubnets: list[SubnetZone]  # Nekt's private subnets
    gateway: FoundGateway | None
    nektResourceEndpoints: int  # resource VPC endpoints in the Nekt VPC (quota: 200 by default)
    connectionEndpoint: FoundEndpoint | None  # this connection's own, made by an earlier run
    nektVpcDns: NotRequired[bool]  # the Nekt VPC has DNS hostnames and DNS support on (private DNS needs both)
    privateNamesInUse: NotRequired[list[str]]  # names other resource endpoints of the Nekt VPC serve privately
    vpcGateways: NotRequired[int]  # resource gateways in the database VPC, anyone's (quota L-0DCA4434)
    configurations: NotRequired[int]  # resource configurations of the database account in its Region (L-5FF8F9B9)
    configurationExists: NotRequired[bool]  # this connection's own is there (made by an earlier run)
    endpoints: NotRequired[list[DatabaseEndpoint]]  # what the connection's own configuration reaches, when there is one


class Facts(TypedDict):
    """Discover's result: everything Preflight plans from, and what later stages act on."""

    request: RequestFacts
    settings: SettingsData
    mode: Mode
    database: DatabaseFacts
    nekt: NektFacts | None  # None on the public path
    peerings: list[PeeringFacts]
    quotas: NotRequired[QuotaFacts]
    readAt: NotRequired[str]  # when Discover began reading (ISO 8601, UTC): Take the locks compares it
    resourcePath: NotRequired[ResourcePathFacts | None]  # the resource-endpoint path's facts (that mode, or auto)
    modeReason: NotRequired[str]  # why this mode: what auto's rule found, or "requested"
    connected: NotRequired[Mode | None]  # the path the connection relied on when the run began (its registry item)
    gonePeering: NotRequired[str]  # the connected connection's peering, now deleted, rejected or expired


class ReusedPeering(TypedDict):
    """A live peering between the two VPCs that Preflight found and the connection reuses."""

    peeringConnectionId: str
    status: str
    databaseSide: PeeringSide
    dnsResolution: bool
    connectionTag: str | None


class PlannedRoute(TypedDict):
    routeTableId: str
    destinationCidr: str
    side: Side
    exists: bool  # an identical route was there before the connection
    replaces: NotRequired[str]  # the gone peering this connection's own route goes to: replaced, not created


class PlannedIngress(TypedDict):
    groupId: str
    port: int
    cidr: str
    exists: bool
    ruleId: str | None
    connectionTag: NotRequired[str]  # a disconnect's: the connection the rule was created for


class Change(TypedDict):
    action: str
    summary: str


class PlanDatabase(TypedDict):
    identifier: str
    kind: str
    engine: str | None
    endpoint: str | None
    port: int | None
    accountId: str
    region: str
    vpcId: str


class PlannedDns(TypedDict):
    """Whether the connection needs the peering's DNS option, and why (a public database through the peering)."""

    needed: bool
    reason: str


class PlannedGateway(TypedDict):
    resourceGatewayId: str | None  # the product's gateway of the VPC, reused; None: create one
    subnetIds: list[str]  # one per zone, in zones Nekt's private subnets share (by zone id)
    exists: bool


class PlannedConfiguration(TypedDict):
    type: Literal["ARN", "SINGLE"]  # ARN: an Aurora cluster (follows fail-overs); SINGLE: the endpoint and port
    arn: str | None  # type ARN
    domainName: str | None  # type SINGLE
    port: int


class PlannedEndpoint(TypedDict):
    vpcId: str  # Nekt's
    subnetIds: list[str]  # Nekt's private subnets, one per zone, in the zones the gateway has
    allowedCidrs: list[str]  # Nekt's private subnets: the endpoint's security group admits them on the port
    port: int
    privateDns: NotRequired[bool]  # the database's own names resolve to the endpoint in the Nekt VPC
    privateDnsNames: NotRequired[list[str]]  # those names (the endpoint's DnsOptions name exactly them)


class PlannedResourcePath(TypedDict):
    """How the resource-endpoint path connects: the database shared as a resource configuration through a
    resource gateway in its VPC, shared by RAM with the Nekt account (share: other account), reached from a
    resource VPC endpoint in Nekt's private subnets."""

    gateway: PlannedGateway
    configuration: PlannedConfiguration
    share: bool  # the Nekt account is another account: a RAM share, accepted by Nekt
    endpoint: PlannedEndpoint


class Plan(TypedDict):
    """Preflight's result; with dryRun, the execution's output."""

    status: Literal["PLANNED"]
    mode: Mode
    modeReason: NotRequired[str]
    resourcePath: NotRequired[PlannedResourcePath | None]
    connectionId: str
    dryRun: bool
    database: PlanDatabase
    peering: ReusedPeering | None
    routes: list[PlannedRoute]
    ingress: PlannedIngress | None  # None on the resource-endpoint path (its rule admits the gateway's group)
    dnsResolution: PlannedDns
    changes: list[Change]


class PeeringRecord(TypedDict):
    """The peering as Request peering, each status poll and Accept peering leave it."""

    peeringConnectionId: str
    status: str
    polls: int
    created: NotRequired[bool]  # by this connection (so a rollback deletes it)
    seen: NotRequired[bool]  # AWS has shown it (just after create it may not yet: eventual consistency)
    accepted: NotRequired[bool]  # by this run's Accept peering
    connectionTag: NotRequired[str]  # a disconnect's: the connection the peering to delete was created for


class RouteRecord(TypedDict):
    """Update routes' result, one per planned route."""

    routeTableId: str
    destinationCidr: str
    side: Side
    created: bool


class IngressRecord(TypedDict):
    """Authorize ingress's result."""

    groupId: str
    port: int
    cidr: str
    ruleId: str | None
    created: bool


class DnsResolution(TypedDict):
    """Enable DNS resolution's result: needed only for a publicly accessible database through the peering."""

    needed: bool
    enabled: bool
    side: NotRequired[PeeringSide]
    changed: bool
    reason: str


class SharedDatabase(TypedDict):
    """Share the database's result (the customer's side of the resource-endpoint path). Each field is set
    once the resource exists; `waiting`: the gateway is not ACTIVE yet, run the stage again."""

    resourceGatewayId: str
    resourceGatewayArn: str
    gatewayStatus: str
    gatewaySecurityGroupId: str
    gatewayCreated: bool  # by this connection's run (a rollback removes it)
    ingressRuleId: str | None  # the database group's rule admitting the gateway's group on the port
    ingressCreated: bool
    resourceConfigurationId: str | None
    resourceConfigurationArn: str | None
    configurationCreated: bool
    resourceShareArn: str | None  # None: Nekt is this account, nothing to share
    shareCreated: bool
    endpoints: NotRequired[list[DatabaseEndpoint]]  # once the configuration is ACTIVE
    waiting: bool
    waitingFor: NotRequired[str]  # what: the gateway, the configuration, the share's association
    polls: int  # polls of what it waits for (at most MaxPolls for each)


class EndpointName(TypedDict):
    """A name of the resource endpoint, for one database endpoint it reaches (one association)."""

    role: Literal["writer", "reader", "database", "unknown"]
    dnsName: str  # the association's own name (*.vpc-lattice-rsc.<region>.on.aws): resolves from anywhere
    privateDnsName: str | None  # with private DNS: the database's own name, resolved to the endpoint in the Nekt VPC
    domainName: str | None  # the database's own name for that endpoint, when AWS shows it
    accessible: bool


class ResourceEndpointRecord(TypedDict):
    """Create the resource endpoint's result (Nekt's side). `waiting`: the share's invitation is not visible
    yet, or the endpoint is Pending: run the stage again."""

    invitationAccepted: bool  # by this run (False: no share, or accepted before)
    vpcEndpointId: str | None
    state: str  # the endpoint's: Pending, Available, ... ("" before it exists)
    securityGroupId: str | None
    created: bool
    dnsName: str | None  # the hostname Nekt connects to (its privateDnsName when there is one, else dnsName)
    names: NotRequired[list[EndpointName]]  # once Available, one per database endpoint (an Aurora writer, reader)
    privateDns: NotRequired[bool]  # asked for: the database's own names resolve to the endpoint in the Nekt VPC
    waiting: bool
    waitingFor: NotRequired[str]  # what: the invitation, the endpoint, its names
    polls: int  # polls of what it waits for (at most MaxPolls for each)


class ResourcePathRemoval(TypedDict):
    """What the resource-endpoint path's compensations remove: a failed connect's (derived from its records
    and tags) or a disconnect's (Find what to remove, from the registry). Per-connection resources are
    found by the connection's tag; the gateway, its group and the ingress rule only when listed here."""

    connectionTag: str
    gateway: NotRequired[dict[str, str] | None]  # {resourceGatewayId, securityGroupId}: remove it
    ingress: NotRequired[dict[str, str] | None]  # {groupId, ruleId}: remove it
    keep: NotRequired[list[str]]  # "configuration", "share", "endpoint": there before a failed connect


class Check(TypedDict):
    check: str
    ok: bool
    detail: str


class ProbeAddress(TypedDict):
    address: str
    insideDatabaseVpc: bool | None  # None when the probe was given no CIDRs


class ServerError(TypedDict, total=False):
    severity: str  # PostgreSQL's
    code: str | int  # SQLSTATE (PostgreSQL) or error number (MySQL)
    message: str


class ServerCertificate(TypedDict):
    """The server's TLS certificate as the probe read it, without verifying it (nekt_peering.probe)."""

    host: str  # the name the probe connected to, which a client verifying the name checks the certificate for
    names: NotRequired[list[str]]  # subjectAltName DNS names and IP addresses; the subject's CN when no DNS name
    coversHost: NotRequired[bool]  # whether those names cover `host` (RFC 6125)
    notAfter: NotRequired[str]  # ISO 8601, UTC
    error: NotRequired[str]  # instead of the three above: no certificate, or one the probe could not read


class Handshake(TypedDict):
    """The server's first answer in its own protocol, as nekt_peering.probe reads it."""

    protocol: Literal["postgresql", "mysql", "sqlserver"] | None  # None: TCP only
    summary: NotRequired[str]
    note: NotRequired[str]  # why TCP only
    tls: NotRequired[bool]  # PostgreSQL: TLS used; MySQL: TLS offered (then the probe used it)
    certificate: NotRequired[ServerCertificate]  # with TLS
    authentication: NotRequired[str]
    serverError: NotRequired[ServerError]
    protocolVersion: NotRequired[int]
    serverVersion: NotRequired[str]


class ProbeFacts(TypedDict):
    """The probe's answer (nekt_peering.probe.probe), as Verify and the check-path stage pass it on."""

    host: str
    port: int
    engine: str
    reachable: bool
    failedStage: str | None  # DNS, TCP timeout, TCP refused, TCP, handshake
    detail: str
    addresses: list[ProbeAddress]
    connectedTo: NotRequired[str]
    tcpConnectMs: NotRequired[float]
    handshake: NotRequired[Handshake]


class TlsAdvice(TypedDict):
    """How a client that verifies the server's certificate connects on the resource-endpoint path."""

    hostname: str | None
    verifyFull: bool  # the hostname is the database's own name, which its certificate covers
    advice: str


class ResourcePathResult(TypedDict):
    resourceGatewayId: str
    resourceConfigurationArn: str | None
    resourceShareArn: str | None
    vpcEndpointId: str
    names: NotRequired[list[EndpointName]]  # one per database endpoint the resource endpoint reaches
    tls: NotRequired[TlsAdvice]


class Connected(TypedDict):
    """Verify's result: the connect's output."""

    status: Literal["CONNECTED"]
    mode: Mode
    connectionId: str
    database: PlanDatabase
    hostname: str | None  # what Nekt connects to: the database's endpoint, or the resource endpoint's DNS name
    peeringConnectionId: str | None
    routes: list[RouteRecord]
    ingress: IngressRecord | None  # None on the resource-endpoint path (resourcePath says what it made)
    dnsResolution: DnsResolution | None
    resourcePath: NotRequired[ResourcePathResult]
    checks: list[Check]
    probe: ProbeFacts | None  # None: the probe is not deployed, or the path is public
    path: str  # the probe's detail, or why the path was not probed


class Reachable(TypedDict):
    """The check-path stage's result: the check-path machine's output."""

    status: Literal["REACHABLE"]
    mode: Mode
    connectionId: str
    database: PlanDatabase
    checks: list[Check]
    probe: ProbeFacts | None
    path: str


class Disconnected(TypedDict):
    """The disconnect's output and the detail of its result event, made by its Summarize state (no stage
    returns it): what it removed, by id, and the peering as it last saw it (None: it had none)."""

    status: Literal["DISCONNECTED"]
    connectionId: str
    region: str
    peering: PeeringRecord | None
    removed: list[str]


class RollbackProgress(TypedDict):
    """What each compensation returns and the next one carries on."""

    undone: list[str]
    left: list[str]
    complete: bool
    cause: str
    waiting: NotRequired[bool]  # what the step deletes is not gone yet: wait and run the step again
    stepPolls: NotRequired[int]  # how often the waiting step has waited for it (at most MaxPolls for each thing)
    waitingFor: NotRequired[list[str]]  # what the waiting step waits for


class DisconnectRequestFacts(TypedDict):
    """model.DisconnectRequest.to_dict()."""

    connectionId: str
    region: str


class FoundDatabase(TypedDict):
    region: str
    vpcId: str | None  # None: no peering of the connection's is left
    accountId: NotRequired[str]
    publiclyAccessible: NotRequired[bool]  # True: the DNS option goes back off on the peering that stays


class FoundNekt(TypedDict):
    vpcId: str


class FoundFacts(TypedDict):
    """The disconnect's facts (rollback.owned_by_connection): only what the compensations act on."""

    request: DisconnectRequestFacts
    settings: SettingsData
    mode: Mode
    database: FoundDatabase
    nekt: FoundNekt
    readAt: NotRequired[str]  # when Find began reading: Take the locks compares it


class FoundPlan(TypedDict):
    """What the disconnect removes, as the compensations take a plan (nekt_peering.disconnect.plan): a
    peering that stays (another connection uses it, or it was there before), and the routes and rules that
    go, planned as not there before."""

    peering: ReusedPeering | None
    routes: list[PlannedRoute]
    ingress: list[PlannedIngress]


class StageEvent(TypedDict, total=False):
    """What a stage handler receives: the fields its state machine passes it (Parameters), or the whole
    execution state (Verify, the compensations). Its check is derived from this type (`make
    validators`, with STAGE_EVENT_RULES below); keys it does not name are passed through unchecked."""

    executionId: str
    input: Any  # the execution's input: ConnectRequest.parse or DisconnectRequest.parse checks it
    settings: Any  # the deployment parameters: Settings.parse checks them (InvalidSettings)
    discovery: Facts | FoundFacts
    plan: Plan | FoundPlan
    peering: PeeringRecord | None
    awaiting: Literal["pending-acceptance", "active", "deleted"]
    routes: list[RouteRecord]
    ingress: IngressRecord
    dnsResolution: DnsResolution | None
    rollback: RollbackProgress
    sharedDatabase: SharedDatabase
    resourceEndpoint: ResourceEndpointRecord
    removal: ResourcePathRemoval


# What a type cannot say about the fields of StageEvent, keyed by (TypedDict, field): merged into the
# schema tools/typed_schema.py derives from the annotation ("items" into the list's items). A stage may
# be invoked by hand (sam local invoke, a copied event): each id, CIDR and number it acts on is checked
# before any call, so a tampered event is InvalidInput naming the field, and changes nothing.
_IPV4 = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}"
_VPC_CIDR = {"pattern": f"^{_IPV4}/(1[6-9]|2[0-8])$"}  # a VPC's CIDR block is /16 to /28
_RULE_CIDR = {"pattern": f"^{_IPV4}/(1[6-9]|2[0-8]|32)$"}  # a VPC's, or Nekt's public IP
_PORT = {"minimum": 1, "maximum": 65535}
_ACCOUNT_ID = {"pattern": "^[0-9]{12}$"}
_REGION_NAME = {"maxLength": 25, "pattern": "^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$"}
_SHORT_TEXT = {"maxLength": 255}
_CIDRS = {"minItems": 1, "maxItems": 5, "items": _VPC_CIDR}  # a VPC has at most 5 IPv4 CIDR blocks
_CONNECT_INPUT = json.loads(resources.files("nekt_peering.core").joinpath("schemas/connect_input.json").read_text())
_IDENTIFIER = _CONNECT_INPUT["properties"]["database"]["properties"]["identifier"]


def _id(prefix: str) -> dict[str, str]:
    return {"pattern": f"^{prefix}-[0-9a-f]{{8,17}}$"}


def _at_most(count: int, items: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"maxItems": count, **({"items": items} if items else {})}


STAGE_EVENT_RULES: dict[tuple[str, str], dict[str, Any]] = {
    ("StageEvent", "executionId"): {"maxLength": 2048},
    ("StageEvent", "routes"): _at_most(1000),
    ("RequestFacts", "identifier"): _IDENTIFIER,
    ("RequestFacts", "region"): _REGION_NAME,
    ("RequestFacts", "mode"): _CONNECT_INPUT["properties"]["mode"],
    ("RequestFacts", "connectionId"): _CONNECT_INPUT["properties"]["connectionId"],
    **{("RequestFacts", key): _CONNECT_INPUT["properties"]["database"]["properties"][key]
       for key in ("instanceId", "host", "port", "vpcId", "engine")},
    ("DisconnectRequestFacts", "connectionId"): _CONNECT_INPUT["properties"]["connectionId"],
    ("DisconnectRequestFacts", "region"): _REGION_NAME,
    ("DatabaseFacts", "identifier"): _IDENTIFIER,
    ("DatabaseFacts", "accountId"): _ACCOUNT_ID,
    ("DatabaseFacts", "region"): _REGION_NAME,
    ("DatabaseFacts", "vpcId"): _id("vpc"),
    ("DatabaseFacts", "port"): _PORT,
    ("DatabaseFacts", "endpoint"): _SHORT_TEXT,
    ("DatabaseFacts", "securityGroupId"): _id("sg"),
    # An EC2 instance's every network interface, each with up to 16 groups (Amazon VPC quotas).
    ("DatabaseFacts", "securityGroupIds"): _at_most(100, _id("sg")),
    ("DatabaseFacts", "cidrs"): _CIDRS,
    ("DatabaseFacts", "routeTables"): _at_most(200),
    ("DatabaseFacts", "subnetIds"): _at_most(200, _id("subnet")),
    ("DatabaseFacts", "subnetCidrs"): _at_most(200, _VPC_CIDR),
    ("FoundDatabase", "region"): _REGION_NAME,
    ("FoundDatabase", "vpcId"): _id("vpc"),
    ("RouteTableFacts", "routeTableId"): _id("rtb"),
    ("RouteTableFacts", "routes"): _at_most(1000),
    ("RouteFacts", "destinationCidr"): {"maxLength": 43},
    ("RouteFacts", "target"): _SHORT_TEXT,
    ("RouteFacts", "state"): _SHORT_TEXT,
    ("NektFacts", "accountId"): _ACCOUNT_ID,
    ("NektFacts", "region"): _REGION_NAME,
    ("NektFacts", "vpcId"): _id("vpc"),
    ("NektFacts", "cidr"): _VPC_CIDR,
    ("NektFacts", "cidrs"): _CIDRS,
    ("NektFacts", "privateSubnetIds"): _at_most(200, _id("subnet")),
    ("NektFacts", "privateSubnetCidrs"): _at_most(200, _VPC_CIDR),
    ("FoundNekt", "vpcId"): _id("vpc"),
    ("Plan", "routes"): _at_most(1000),
    ("FoundPlan", "routes"): _at_most(1000),
    ("FoundPlan", "ingress"): _at_most(1000),  # every rule tagged with the connection
    ("ReusedPeering", "peeringConnectionId"): _id("pcx"),
    ("ReusedPeering", "status"): {"maxLength": 32},
    ("PeeringRecord", "peeringConnectionId"): _id("pcx"),
    ("PeeringRecord", "status"): {"maxLength": 32},
    ("PeeringRecord", "polls"): {"minimum": 0, "maximum": 10000},
    ("PlannedRoute", "routeTableId"): _id("rtb"),
    ("PlannedRoute", "destinationCidr"): _VPC_CIDR,
    ("RouteRecord", "routeTableId"): _id("rtb"),
    ("RouteRecord", "destinationCidr"): _VPC_CIDR,
    ("PlannedIngress", "groupId"): _id("sg"),
    ("PlannedIngress", "port"): _PORT,
    ("PlannedIngress", "cidr"): _RULE_CIDR,
    ("PlannedIngress", "ruleId"): _id("sgr"),
    ("IngressRecord", "groupId"): _id("sg"),
    ("IngressRecord", "port"): _PORT,
    ("IngressRecord", "cidr"): _RULE_CIDR,
    ("IngressRecord", "ruleId"): _id("sgr"),
}
# Checked by Settings.parse, which names the setting (InvalidSettings): here only that it is an object.
STAGE_EVENT_CHECKED_ELSEWHERE = {
    ("Facts", "settings"): "Settings.parse", ("FoundFacts", "settings"): "Settings.parse",
}


# The connection registry (nekt_peering.registry.store) -------------------------------------------------------

ConnectionState = Literal["CONNECTING", "CONNECTED", "FAILED", "DISCONNECTING", "DISCONNECTED"]
Workflow = Literal["connect", "disconnect"]


class ExecutionRef(TypedDict):
    executionArn: str
    workflow: Workflow
    startedAt: str


class RegistryError(TypedDict):
    error: str
    cause: str


class RegistryDatabase(TypedDict):
    identifier: str
    accountId: str
    region: str
    vpcId: str | None


class Health(TypedDict):
    """A CONNECTED connection's health, as its last check (or the connect that verified it since) found it."""

    state: Literal["HEALTHY", "DEGRADED"]
    since: str  # when it became so
    lastCheckedAt: str
    error: NotRequired[str]  # DEGRADED: the check's error name (VerificationFailed, Unreachable, PlanChanged, ...)
    cause: NotRequired[str]  # DEGRADED: what drifted, and what to do


class AcceptedRun(TypedDict):
    """A run the API or the CLI started, recorded with its start: shown until the run takes the connection's lock
    (then it is the current run), or, when it ends before that, with how it ended."""

    workflow: Literal["connect", "disconnect", "check"]
    executionArn: str
    status: ConnectionState  # what the connection is while it runs
    acceptedAt: str
    error: NotRequired[str]  # it failed before taking the lock (nothing was changed)
    cause: NotRequired[str]


class ConnectionItem(TypedDict):
    """A connection as the registry holds it (pk connection#<id>)."""

    connectionId: str
    state: ConnectionState
    request: dict[str, object]  # the connect's input, as it was given
    mode: NotRequired[Mode]
    database: NotRequired[RegistryDatabase]
    network: NotRequired[str]  # the partition of the resources it relies on
    relies: list[str]  # resource ids (sk) in that partition
    executions: list[ExecutionRef]  # newest first, at most registry.EXECUTIONS_KEPT
    currentExecutionArn: str
    currentWorkflow: Workflow
    lastError: NotRequired[RegistryError]  # of the newest execution, when it failed
    result: NotRequired[dict[str, object]]  # the last connect's output (CONNECTED) or disconnect's
    health: NotRequired[Health]
    accepted: NotRequired[AcceptedRun]  # the newest run started, until it takes the lock
    createdAt: str
    updatedAt: str


class ResourceItem(TypedDict):
    """A resource a connection relies on (pk network#<network>, sk its id)."""

    resourceId: str
    kind: Literal["peering", "route", "ingress", "dns", "gateway"]
    origin: Literal["created", "existing"]  # created by this product, or there before any connection
    createdFor: str | None  # the connection it was created for
    users: list[str]  # the connections that rely on it (a string set in the table)
    details: dict[str, object]


class LockResult(TypedDict):
    """Take the locks' result."""

    acquired: bool
    waited: bool  # it had to wait: the facts read before are stale, read them again
    polls: int
    waitSeconds: int
    heldBy: NotRequired[str]  # the execution holding the lock it waits for
