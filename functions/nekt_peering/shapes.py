"""The data the stages pass each other through the execution: one definition of each shape.

Discover's facts, Preflight's plan and each stage's result are JSON in the execution's state; these
TypedDicts say what each holds. The stage logic returns them (mypy checks each field it writes, but
for three dicts built from others and cast: the database facts, the settings, the plan's database
summary), the handlers are typed with them, and tests/test_shapes.py checks them against what the
stages really passed in the recorded run (events/). They cost nothing at run time: the functions import
this module for mypy only.

What a stage accepts from an event it did not make itself is untrusted JSON until checked, field by
field, by model.check_stage_event against model.STAGE_EVENT_SCHEMA (the same field names, with the
patterns and bounds a type cannot say): a stage may be invoked by hand with any event.
"""

# No `from __future__ import annotations`: NotRequired must be seen when each class is made, so that
# __required_keys__ is right for tests/test_shapes.py. Imported by the functions only for mypy.
from typing import Literal, NotRequired, TypedDict

Mode = Literal["peering", "public"]
Side = Literal["database", "nekt"]
PeeringSide = Literal["requester", "accepter"]


class RequestFacts(TypedDict):
    """model.ConnectRequest.to_dict()."""

    identifier: str
    region: str
    mode: str  # "auto", "peering" or "public", as requested
    connectionId: str
    dryRun: bool


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
    kind: Literal["instance", "cluster"]
    engine: str | None
    status: str
    endpoint: str | None
    port: int | None
    publiclyAccessible: bool
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


class PlannedIngress(TypedDict):
    groupId: str
    port: int
    cidr: str
    exists: bool
    ruleId: str | None


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


class Plan(TypedDict):
    """Preflight's result; with dryRun, the execution's output."""

    status: Literal["PLANNED"]
    mode: Mode
    connectionId: str
    dryRun: bool
    database: PlanDatabase
    peering: ReusedPeering | None
    routes: list[PlannedRoute]
    ingress: PlannedIngress
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


class Handshake(TypedDict):
    """The server's first answer in its own protocol, as nekt_peering.probe reads it."""

    protocol: Literal["postgresql", "mysql", "sqlserver"] | None  # None: TCP only
    summary: NotRequired[str]
    note: NotRequired[str]  # why TCP only
    tls: NotRequired[bool]
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


class Connected(TypedDict):
    """Verify's result: the connect's output."""

    status: Literal["CONNECTED"]
    mode: Mode
    connectionId: str
    database: PlanDatabase
    peeringConnectionId: str | None
    routes: list[RouteRecord]
    ingress: IngressRecord
    dnsResolution: DnsResolution | None
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


class RollbackProgress(TypedDict):
    """What each compensation returns and the next one carries on."""

    undone: list[str]
    left: list[str]
    complete: bool
    cause: str
    waiting: NotRequired[bool]  # the peering cannot be deleted yet: wait and run the step again
    peeringPolls: NotRequired[int]


# The connection registry (nekt_peering.registry) -------------------------------------------------------

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
    createdAt: str
    updatedAt: str


class ResourceItem(TypedDict):
    """A resource a connection relies on (pk network#<network>, sk its id)."""

    resourceId: str
    kind: Literal["peering", "route", "ingress", "dns"]
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
