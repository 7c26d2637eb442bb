"""A VPC peering's life as AWS leads it: statuses and their timing, who may accept or delete it when,
and the routes that point at it.

moto makes a peering `pending-acceptance` at once, `active` on accept, lets anyone delete it in any
state and reports every route to it `active`. AWS (docs/aws-fidelity.md, "The peering's lifecycle"):

- a new peering is `initiating-request`, then `pending-acceptance` (or `failed` when the two VPCs'
  CIDRs overlap); accepted, it is `provisioning`, then `active`; an inter-Region one being deleted
  is `deleting`, then `deleted`; a request nobody accepts `expired` after 7 days;
- it is briefly invisible to DescribeVpcPeeringConnections (eventual consistency), longer on the
  accepter side of an inter-Region peering;
- one live peering per VPC pair; only the accepter account accepts, in the accepter's Region, a
  `pending-acceptance` request; `active` may be deleted by either owner, `pending-acceptance` by
  the requester only, nothing else ever;
- a route to a peering that is not `active` is a `blackhole`; none is made or replaced to a gone one.

Time is counted in DescribeVpcPeeringConnections calls that could show the peering (a "tick"),
not seconds, so tests stay fast and deterministic: `Timing` says how many, and a test may slow a
lifecycle down with `PeeringBook.timing`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.ec2.models import ec2_backends
from moto.ec2.models.vpc_peering_connections import VPCPeeringConnection

from emulator.strict.layer import AwsError, Call, Rule

LIVE = frozenset({"initiating-request", "pending-acceptance", "provisioning", "active"})
EXPIRY = timedelta(days=7)
# Set on moto's peering by emulator.accounts.set_peering_status: the status a test put there holds
# until the next accept or delete.
PINNED = "strict_status_pinned"
OVERLAP_MESSAGE = "Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range"


@dataclass
class Timing:
    """How many describes (ticks) each stage lasts. The defaults let the connect workflow, polling
    once per Wait, reach `active` well inside the tests' MaxPolls of 5."""

    hidden_from_requester: int = 1  # the first describe answers NotFound
    hidden_from_accepter: int = 1
    hidden_from_accepter_inter_region: int = 4
    initiating: int = 2  # ticks before pending-acceptance (or failed)
    provisioning: int = 1  # ticks after the accept before active
    deleting: int = 1  # inter-Region only: ticks after the delete before deleted


@dataclass
class Lifecycle:
    peering_id: str
    requester: tuple[str, str]  # (account, region)
    accepter: tuple[str, str]
    overlapping: bool
    requested_at: datetime
    ticks: int = 0
    accepted_at: int | None = None
    deleted_at: int | None = None
    deleted_by: str = ""

    @property
    def inter_region(self) -> bool:
        return self.requester[1] != self.accepter[1]


@dataclass
class PeeringBook:
    """What the rules know about the peerings made while they were installed."""

    timing: Timing = field(default_factory=Timing)
    peerings: dict[str, Lifecycle] = field(default_factory=dict)

    def age(self, peering_id: str, by: timedelta) -> None:
        """Test hook: the request was made `by` earlier (a pending one expires after 7 days)."""
        self.peerings[peering_id].requested_at -= by

    def hidden_from(self, lifecycle: Lifecycle, place: tuple[str, str]) -> bool:
        if place == lifecycle.requester:
            return lifecycle.ticks <= self.timing.hidden_from_requester
        limit = (self.timing.hidden_from_accepter_inter_region if lifecycle.inter_region
                 else self.timing.hidden_from_accepter)
        return lifecycle.ticks <= limit

    def covered(self, call: Call) -> list[Lifecycle]:
        """The known peerings this call could show or act on, in the caller's account and Region."""
        place = (call.account_id, call.region)
        ids = call.params.get("VpcPeeringConnectionIds") or (
            [call.params["VpcPeeringConnectionId"]] if call.params.get("VpcPeeringConnectionId") else None)
        return [lifecycle for peering_id, lifecycle in self.peerings.items()
                if place in (lifecycle.requester, lifecycle.accepter) and (ids is None or peering_id in ids)]


def _backends() -> list[Any]:
    """Every EC2 backend (account, Region) of this mock: moto keeps a peering in both of its owners'.
    (Not EC2Backend.get_vpc_pcx_refs(): it also holds earlier mocks' backends until they are collected.)"""
    return [backend for account in dict.values(ec2_backends) for backend in dict.values(account)]


def find_peering(peering_id: str) -> VPCPeeringConnection | None:
    for backend in _backends():
        found: VPCPeeringConnection | None = backend.vpc_pcxs.get(peering_id)
        if found is not None:
            return found
    return None


def all_peerings() -> dict[str, VPCPeeringConnection]:
    every: dict[str, VPCPeeringConnection] = {}
    for backend in _backends():
        every.update(backend.vpc_pcxs)
    return every


def _set_status(pcx: VPCPeeringConnection, code: str, message: str) -> None:
    pcx._status.code, pcx._status.message = code, message


def _cidrs(vpc: Any) -> list[str]:
    return [association["cidr_block"] for association in vpc.get_cidr_block_association_set()
            if association["cidr_block_state"]["state"] == "associated"] or [vpc.cidr_block]


def _overlap(first: Any, second: Any) -> bool:
    return any(ipaddress.ip_network(a).overlaps(ipaddress.ip_network(b))
               for a in _cidrs(first) for b in _cidrs(second))


class PeeringClock(Rule):
    """Records each new peering and counts the describes that could show it: the lifecycle's clock."""

    name = "peering-clock"

    def __init__(self, book: PeeringBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if call.service == "ec2" and call.operation == "DescribeVpcPeeringConnections":
            for lifecycle in self.book.covered(call):
                lifecycle.ticks += 1

    def after(self, call: Call, response: dict[str, Any]) -> None:
        if call.service != "ec2" or call.operation != "CreateVpcPeeringConnection":
            return
        peering_id = response["VpcPeeringConnection"]["VpcPeeringConnectionId"]
        pcx = find_peering(peering_id)
        if pcx is None:
            return
        self.book.peerings[peering_id] = Lifecycle(
            peering_id, (pcx.vpc.owner_id, pcx.vpc.region), (pcx.peer_vpc.owner_id, pcx.peer_vpc.region),
            _overlap(pcx.vpc, pcx.peer_vpc), datetime.now(UTC))


class PeeringLifecycle(Rule):
    """initiating-request -> pending-acceptance (or failed) -> provisioning -> active, each after
    some describes; deleting -> deleted across Regions; expired after 7 days pending."""

    name = "peering-lifecycle"

    def __init__(self, book: PeeringBook) -> None:
        self.book = book

    def advance(self, lifecycle: Lifecycle) -> None:
        pcx = find_peering(lifecycle.peering_id)
        if pcx is None or getattr(pcx, PINNED, False):
            return
        timing, status = self.book.timing, pcx._status.code
        if status == "initiating-request" and lifecycle.ticks > timing.initiating:
            if lifecycle.overlapping:
                _set_status(pcx, "failed", OVERLAP_MESSAGE)
            else:
                _set_status(pcx, "pending-acceptance", f"Pending Acceptance by {lifecycle.accepter[0]}")
        elif status == "pending-acceptance" and datetime.now(UTC) - lifecycle.requested_at >= EXPIRY:
            _set_status(pcx, "expired", "Expired")
        elif (status == "provisioning" and lifecycle.accepted_at is not None
              and lifecycle.ticks - lifecycle.accepted_at > timing.provisioning):
            _set_status(pcx, "active", "Active")
        elif (status == "deleting" and lifecycle.deleted_at is not None
              and lifecycle.ticks - lifecycle.deleted_at > timing.deleting):
            _set_status(pcx, "deleted", f"Deleted by {lifecycle.deleted_by}")

    def before(self, call: Call) -> None:
        if call.service == "ec2" and ("VpcPeeringConnection" in call.operation or call.operation == "CreateRoute"):
            for lifecycle in self.book.covered(call):
                self.advance(lifecycle)

    def after(self, call: Call, response: dict[str, Any]) -> None:
        if call.service != "ec2":
            return
        if call.operation == "CreateVpcPeeringConnection":
            peering_id = response["VpcPeeringConnection"]["VpcPeeringConnectionId"]
            pcx = find_peering(peering_id)
            if pcx is None:
                return
            _set_status(pcx, "initiating-request", f"Initiating Request to {pcx.peer_vpc.owner_id}")
            response["VpcPeeringConnection"]["Status"] = pcx.status
        elif call.operation == "AcceptVpcPeeringConnection":
            lifecycle = self.book.peerings.get(call.params["VpcPeeringConnectionId"])
            pcx = find_peering(call.params["VpcPeeringConnectionId"])
            if lifecycle is None or pcx is None:
                return
            lifecycle.accepted_at = lifecycle.ticks
            setattr(pcx, PINNED, False)
            _set_status(pcx, "provisioning", "Provisioning")
            response["VpcPeeringConnection"]["Status"] = {"Code": "provisioning", "Message": "Provisioning"}
        elif call.operation == "DeleteVpcPeeringConnection":
            lifecycle = self.book.peerings.get(call.params["VpcPeeringConnectionId"])
            pcx = find_peering(call.params["VpcPeeringConnectionId"])
            if pcx is not None:
                setattr(pcx, PINNED, False)
            if lifecycle is not None and pcx is not None and lifecycle.inter_region:
                lifecycle.deleted_at, lifecycle.deleted_by = lifecycle.ticks, call.account_id
                _set_status(pcx, "deleting", "Deleting")


class PeeringVisibility(Rule):
    """A new peering is briefly unknown to DescribeVpcPeeringConnections: NotFound by id, absent from
    lists; longer on the accepter side of an inter-Region peering. So are accept and delete by id."""

    name = "peering-visibility"

    def __init__(self, book: PeeringBook) -> None:
        self.book = book

    def before(self, call: Call) -> None:
        if call.service != "ec2" or call.operation not in (
                "DescribeVpcPeeringConnections", "AcceptVpcPeeringConnection", "DeleteVpcPeeringConnection"):
            return
        place = (call.account_id, call.region)
        hidden = [lifecycle.peering_id for lifecycle in self.book.covered(call)
                  if self.book.hidden_from(lifecycle, place)]
        asked = call.params.get("VpcPeeringConnectionIds") or (
            [call.params["VpcPeeringConnectionId"]] if call.params.get("VpcPeeringConnectionId") else [])
        missing = [peering_id for peering_id in asked if peering_id in hidden]
        if missing:
            raise AwsError("InvalidVpcPeeringConnectionID.NotFound",
                           f"The vpcPeeringConnection ID '{missing[0]}' does not exist")
        call.context["hidden_peerings"] = hidden

    def after(self, call: Call, response: dict[str, Any]) -> None:
        hidden = call.context.get("hidden_peerings")
        if call.operation == "DescribeVpcPeeringConnections" and hidden:
            response["VpcPeeringConnections"] = [pcx for pcx in response.get("VpcPeeringConnections", [])
                                                 if pcx["VpcPeeringConnectionId"] not in hidden]


class UnknownPeeringIds(Rule):
    """DescribeVpcPeeringConnections by an id this account and Region do not know: NotFound (moto
    answers an empty list)."""

    name = "peering-unknown-id"

    def before(self, call: Call) -> None:
        if call.service != "ec2" or call.operation != "DescribeVpcPeeringConnections":
            return
        known = ec2_backends[call.account_id][call.region].vpc_pcxs
        for peering_id in call.params.get("VpcPeeringConnectionIds") or []:
            if peering_id not in known:
                raise AwsError("InvalidVpcPeeringConnectionID.NotFound",
                               f"The vpcPeeringConnection ID '{peering_id}' does not exist")


class OnePeeringPerVpcPair(Rule):
    name = "one-peering-per-vpc-pair"

    def before(self, call: Call) -> None:
        if call.service != "ec2" or call.operation != "CreateVpcPeeringConnection":
            return
        pair = {call.params.get("VpcId"), call.params.get("PeerVpcId")}
        for pcx in all_peerings().values():
            if pcx._status.code in LIVE and {pcx.vpc.id, pcx.peer_vpc.id} == pair:
                raise AwsError("VpcPeeringConnectionAlreadyExists",
                               f"A VPC peering connection between the VPCs already exists: {pcx.id} "
                               f"({pcx._status.code})")


def _not_in_state(peering_id: str, status: str, operation: str) -> AwsError:
    return AwsError("InvalidStateTransition",
                    f"Invalid state transition for {peering_id}, attempted to {operation} a peering connection "
                    f"that is {status}")


class PeeringAcceptance(Rule):
    """Only the accepter account accepts, in the accepter VPC's Region, a pending-acceptance request."""

    name = "peering-acceptance"

    def before(self, call: Call) -> None:
        if call.service != "ec2" or call.operation != "AcceptVpcPeeringConnection":
            return
        peering_id = call.params["VpcPeeringConnectionId"]
        pcx = find_peering(peering_id)
        if pcx is None:
            return  # moto's NotFound
        if call.account_id != pcx.peer_vpc.owner_id:
            raise AwsError("OperationNotPermitted",
                           f"User ({call.account_id}) cannot accept peering {peering_id}: only the owner of the "
                           f"accepter VPC ({pcx.peer_vpc.owner_id}) can")
        if call.region != pcx.peer_vpc.region:
            raise AwsError("OperationNotPermitted",
                           f"Incorrect region ({call.region}) specified for this request. VPC peering connection "
                           f"{peering_id} must be accepted in region {pcx.peer_vpc.region}")
        if pcx._status.code != "pending-acceptance":
            raise _not_in_state(peering_id, pcx._status.code, "accept")


class PeeringDeletion(Rule):
    """active: either owner may delete it; pending-acceptance: the requester only; never otherwise."""

    name = "peering-deletion"

    def before(self, call: Call) -> None:
        if call.service != "ec2" or call.operation != "DeleteVpcPeeringConnection":
            return
        peering_id = call.params["VpcPeeringConnectionId"]
        pcx = find_peering(peering_id)
        if pcx is None:
            return
        status = pcx._status.code
        if status == "active":
            return
        if status == "pending-acceptance":
            if call.account_id == pcx.vpc.owner_id:
                return
            raise AwsError("OperationNotPermitted",
                           f"User ({call.account_id}) cannot delete peering {peering_id} while it is "
                           "pending-acceptance: only the requester can; the accepter may reject it")
        raise _not_in_state(peering_id, status, "delete")


class RoutesToLivePeerings(Rule):
    """CreateRoute or ReplaceRoute to a peering that is deleted, rejected, failed or expired: refused. AWS does not
    say; the pessimistic reading (moto lets it through). A route to a gone peering can only be deleted."""

    name = "routes-to-live-peerings"

    def before(self, call: Call) -> None:
        if call.service != "ec2" or call.operation not in ("CreateRoute", "ReplaceRoute"):
            return
        peering_id = str(call.params.get("VpcPeeringConnectionId") or "")
        pcx = find_peering(peering_id) if peering_id else None
        if pcx is not None and pcx._status.code not in LIVE:
            raise _not_in_state(peering_id, pcx._status.code, "route to")


class BlackholeRoutes(Rule):
    """DescribeRouteTables: a route to a peering that is not active is a blackhole (moto: active)."""

    name = "blackhole-routes"

    def after(self, call: Call, response: dict[str, Any]) -> None:
        if call.service != "ec2" or call.operation != "DescribeRouteTables":
            return
        peerings = all_peerings()
        for table in response.get("RouteTables", []):
            for route in table.get("Routes", []):
                peering_id = route.get("VpcPeeringConnectionId")
                if peering_id:
                    pcx = peerings.get(peering_id)
                    route["State"] = "active" if pcx is not None and pcx._status.code == "active" else "blackhole"


def peering_rules(book: PeeringBook | None = None) -> list[Rule]:
    book = book or PeeringBook()
    return [PeeringClock(book), PeeringVisibility(book), UnknownPeeringIds(), PeeringLifecycle(book),
            OnePeeringPerVpcPair(), PeeringAcceptance(), PeeringDeletion(), RoutesToLivePeerings(), BlackholeRoutes()]
