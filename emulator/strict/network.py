"""The rest of the network as AWS keeps it: peering options, tags per account, shared VPCs, quotas,
and what is briefly invisible after it is made.

Each rule names the AWS behaviour it keeps; docs/aws-fidelity.md gives its source and its test.
"""

from __future__ import annotations

import fnmatch
import time
from typing import Any

from moto.ec2.models import ec2_backends

from emulator.strict.lattice.book import LatticeBook
from emulator.strict.layer import AwsError, Call, Rule

LIVE_REQUEST_STATES = frozenset({"initiating-request", "pending-acceptance"})


def _backend(call: Call) -> Any:
    return ec2_backends[call.account_id][call.region]


def _peering(call: Call) -> Any | None:
    """The peering the call names, as the caller's account and region know it (None: moto answers NotFound)."""
    return _backend(call).vpc_pcxs.get(call.params.get("VpcPeeringConnectionId", ""))


def _all_peerings(call: Call) -> dict[str, Any]:
    """Every peering of every account and region of this emulated AWS, once each (moto's list of backends
    also holds those of earlier mocks, until they are collected)."""
    found: dict[str, Any] = {}
    for backend in _backend(call).get_vpc_pcx_refs():
        regions = dict.get(ec2_backends, backend.account_id)
        current = dict.get(regions, backend.region_name) if regions is not None else None
        if current is not None and current is backend:
            found.update(current.vpc_pcxs)
    return found


def _not_authorized() -> AwsError:
    return AwsError("UnauthorizedOperation", "You are not authorized to perform this operation.", 403)


class PeeringOptions(Rule):
    """ModifyVpcPeeringConnectionOptions: only on an active peering, each side's options only by that
    side's owner in that side's region, and AllowDnsResolutionFromRemoteVpc only when both VPCs have
    DNS hostnames and DNS support on. moto changes any option of any peering in any state."""

    name = "peering-options"

    def before(self, call: Call) -> None:
        if call.operation != "ModifyVpcPeeringConnectionOptions":
            return
        pcx = _peering(call)
        if pcx is None:
            return
        if pcx._status.code != "active":
            raise AwsError("InvalidStateTransition",
                           f"The VPC peering connection {pcx.id} is in the {pcx._status.code} state: its options "
                           "can be modified only when it is active.")
        for key, vpc in (("RequesterPeeringConnectionOptions", pcx.vpc),
                         ("AccepterPeeringConnectionOptions", pcx.peer_vpc)):
            options = call.params.get(key)
            if options is None:
                continue
            if (vpc.owner_id, vpc.region) != (call.account_id, call.region):
                raise AwsError("OperationNotPermitted",
                               f"{key} of {pcx.id} can be modified only by account {vpc.owner_id} in region "
                               f"{vpc.region}, the owner of {vpc.id}.")
            if options.get("AllowDnsResolutionFromRemoteVpc"):
                off = [f"{peer.id} ({attribute})" for peer in (pcx.vpc, pcx.peer_vpc)
                       for attribute, on in (("enableDnsHostnames", peer.enable_dns_hostnames),
                                             ("enableDnsSupport", peer.enable_dns_support)) if not on]
                if off:
                    raise AwsError("InvalidVpcPeeringConnectionState.DnsHostnamesDisabled",
                                   "To enable DNS resolution for a VPC peering connection, both VPCs must have DNS "
                                   f"hostnames and DNS resolution enabled. Disabled: {', '.join(off)}.")


class TagsPerAccount(Rule):
    """A peering's tags belong to the account and region that made them: the other side never sees
    them. moto keeps one set of tags per peering, the requester's, and shows it to everyone."""

    name = "tags-per-account"

    def __init__(self) -> None:
        self.tags: dict[tuple[str, str, str], dict[str, str]] = {}

    def view(self, account_id: str, region: str, peering_id: str) -> dict[str, str]:
        return self.tags.setdefault((account_id, region, peering_id), {})

    def after(self, call: Call, response: dict[str, Any]) -> None:
        if call.service != "ec2":
            return
        operation = call.operation
        if operation == "CreateVpcPeeringConnection":
            created = response["VpcPeeringConnection"]
            tags = self.view(call.account_id, call.region, created["VpcPeeringConnectionId"])
            for spec in call.params.get("TagSpecifications", []):
                if spec.get("ResourceType") == "vpc-peering-connection":
                    tags.update({tag["Key"]: tag.get("Value", "") for tag in spec.get("Tags", [])})
            self._show(call, [created])
        elif operation in ("CreateTags", "DeleteTags"):
            for resource in call.params.get("Resources", []):
                if resource.startswith("pcx-"):
                    self._change(call, resource)
        elif operation == "DescribeVpcPeeringConnections":
            self._show(call, response.get("VpcPeeringConnections", []))
        elif operation == "AcceptVpcPeeringConnection":
            self._show(call, [response["VpcPeeringConnection"]])

    def _change(self, call: Call, peering_id: str) -> None:
        tags = self.view(call.account_id, call.region, peering_id)
        for tag in call.params.get("Tags", []):
            if call.operation == "CreateTags":
                tags[tag["Key"]] = tag.get("Value", "")
            elif "Value" not in tag or tags.get(tag["Key"]) == tag["Value"]:
                tags.pop(tag["Key"], None)

    def _show(self, call: Call, peerings: list[dict[str, Any]]) -> None:
        for pcx in peerings:
            tags = self.tags.get((call.account_id, call.region, pcx["VpcPeeringConnectionId"]), {})
            pcx["Tags"] = [{"Key": key, "Value": value} for key, value in tags.items()]


# DescribeVpcPeeringConnections' filters, as the EC2 API reference lists them: name -> the values of a peering.
_PEERING_FILTERS: dict[str, Any] = {
    "accepter-vpc-info.cidr-block": lambda p: [p["AccepterVpcInfo"].get("CidrBlock")],
    "accepter-vpc-info.owner-id": lambda p: [p["AccepterVpcInfo"].get("OwnerId")],
    "accepter-vpc-info.vpc-id": lambda p: [p["AccepterVpcInfo"].get("VpcId")],
    "requester-vpc-info.cidr-block": lambda p: [p["RequesterVpcInfo"].get("CidrBlock")],
    "requester-vpc-info.owner-id": lambda p: [p["RequesterVpcInfo"].get("OwnerId")],
    "requester-vpc-info.vpc-id": lambda p: [p["RequesterVpcInfo"].get("VpcId")],
    "status-code": lambda p: [p["Status"]["Code"]],
    "status-message": lambda p: [p["Status"].get("Message")],
    "vpc-peering-connection-id": lambda p: [p["VpcPeeringConnectionId"]],
    "tag-key": lambda p: [tag["Key"] for tag in p.get("Tags", [])],
}


class PeeringFilters(Rule):
    """DescribeVpcPeeringConnections applies its Filters (moto ignores them and returns every peering),
    tag filters on the caller's own tags: a filter on a tag the other account set matches nothing."""

    name = "peering-filters"

    def before(self, call: Call) -> None:
        if call.operation != "DescribeVpcPeeringConnections":
            return
        for spec in call.params.get("Filters", []):
            if not (spec["Name"] in _PEERING_FILTERS or spec["Name"].startswith("tag:")):
                raise AwsError("InvalidParameterValue", f"The filter '{spec['Name']}' is invalid")

    def after(self, call: Call, response: dict[str, Any]) -> None:
        if call.operation != "DescribeVpcPeeringConnections" or not call.params.get("Filters"):
            return
        response["VpcPeeringConnections"] = [
            pcx for pcx in response.get("VpcPeeringConnections", [])
            if all(self._matches(pcx, spec) for spec in call.params["Filters"])
        ]

    @staticmethod
    def _matches(pcx: dict[str, Any], spec: dict[str, Any]) -> bool:
        name = spec["Name"]
        if name.startswith("tag:"):
            key = name[len("tag:"):]
            values = [tag["Value"] for tag in pcx.get("Tags", []) if tag["Key"] == key]
        else:
            values = _PEERING_FILTERS[name](pcx)
        return any(value is not None and fnmatch.fnmatchcase(str(value), pattern)
                   for value in values for pattern in spec.get("Values", []))


class Quotas(Rule):
    """The Amazon VPC quotas a hub of peerings meets, at their default values (a test sets `limits`).
    moto has none of them."""

    name = "quotas"
    DEFAULTS = {
        "active-peerings-per-vpc": 50,  # L-7E9ECCDB, adjustable up to 125
        "outstanding-requests": 25,  # L-DC9F7029, per account and region
        "routes-per-table": 50,  # L-93826ACB
        "inbound-rules-per-group": 60,  # L-0EA8095F
    }

    def __init__(self) -> None:
        self.limits = dict(self.DEFAULTS)

    def before(self, call: Call) -> None:
        if call.service != "ec2":
            return
        check = {
            "CreateVpcPeeringConnection": self._outstanding_requests,
            "AcceptVpcPeeringConnection": self._active_peerings,
            "CreateRoute": self._routes,
            "AuthorizeSecurityGroupIngress": self._inbound_rules,
        }.get(call.operation)
        if check is not None:
            check(call)

    def _outstanding_requests(self, call: Call) -> None:
        limit = self.limits["outstanding-requests"]
        outstanding = [pcx for pcx in _all_peerings(call).values()
                       if (pcx.vpc.owner_id, pcx.vpc.region) == (call.account_id, call.region)
                       and pcx._status.code in LIVE_REQUEST_STATES]
        if len(outstanding) >= limit:
            raise AwsError("OutstandingVpcPeeringConnectionLimitExceeded",
                           f"You have reached the limit of {limit} outstanding VPC peering connection requests.")

    def _active_peerings(self, call: Call) -> None:
        pcx = _peering(call)
        if pcx is None:
            return
        limit = self.limits["active-peerings-per-vpc"]
        active = [other for other in _all_peerings(call).values() if other._status.code == "active"]
        for vpc in (pcx.vpc, pcx.peer_vpc):
            count = sum(1 for other in active if vpc.id in (other.vpc.id, other.peer_vpc.id))
            if count >= limit:
                raise AwsError("ActiveVpcPeeringConnectionPerVpcLimitExceeded",
                               f"The VPC {vpc.id} has reached the limit of {limit} active VPC peering connections.")

    def _routes(self, call: Call) -> None:
        table = _backend(call).route_tables.get(call.params.get("RouteTableId", ""))
        if table is None:
            return
        limit = self.limits["routes-per-table"]
        if sum(1 for route in table.routes if not route.local) >= limit:
            raise AwsError("RouteLimitExceeded",
                           f"The maximum number of routes ({limit}) has been reached for {table.id}.")

    def _inbound_rules(self, call: Call) -> None:
        group = _backend(call).get_security_group_from_id(call.params.get("GroupId", ""))
        if group is None:
            return
        limit = self.limits["inbound-rules-per-group"]
        existing = len(group.ingress_rules)  # one per source (CIDR, group or prefix list), as AWS counts them
        added = sum(max(1, len(permission.get("IpRanges", [])) + len(permission.get("Ipv6Ranges", []))
                        + len(permission.get("UserIdGroupPairs", [])) + len(permission.get("PrefixListIds", [])))
                    for permission in call.params.get("IpPermissions", []))
        if existing + added > limit:
            raise AwsError("RulesPerSecurityGroupLimitExceeded",
                           f"The maximum number of rules per security group ({limit}) has been reached for "
                           f"{group.id}.")


class SharedVpcOwner(Rule):
    """A VPC shared through AWS RAM: a participant sees it and its subnets (OwnerId: the owner), places
    resources in them, but only the owner creates peerings from it or changes its route tables. moto
    knows no sharing; `share_vpc` emulates it."""

    name = "shared-vpc-owner"

    def before(self, call: Call) -> None:
        if call.service != "ec2":
            return
        backend = _backend(call)
        if call.operation == "CreateVpcPeeringConnection":
            vpc = backend.vpcs.get(call.params.get("VpcId", ""))
            if vpc is not None and vpc.owner_id != call.account_id:
                raise _not_authorized()
        elif call.operation in ("CreateRoute", "DeleteRoute", "ReplaceRoute"):
            table = backend.route_tables.get(call.params.get("RouteTableId", ""))
            if table is not None and table.ec2_backend.account_id != call.account_id:
                raise _not_authorized()


def share_vpc(owner_account: str, region: str, vpc_id: str, participant_account: str) -> None:
    """Share a VPC's subnets with another account through AWS RAM, as far as the participant sees it:
    the VPC, its subnets and its route tables, all owned by `owner_account`."""
    owner, participant = ec2_backends[owner_account][region], ec2_backends[participant_account][region]
    participant.vpcs[vpc_id] = owner.vpcs[vpc_id]
    for zone, subnets in owner.subnets.items():
        participant.subnets[zone].update({sid: subnet for sid, subnet in subnets.items() if subnet.vpc_id == vpc_id})
    participant.route_tables.update({rid: table for rid, table in owner.route_tables.items()
                                     if table.vpc_id == vpc_id})


class NewExecutionsInvisible(Rule):
    """ListExecutions is eventually consistent: a new execution is missing from the first
    `hidden_lists` listings of its state machine made within `seconds` of its start (AWS: briefly;
    moto: never). The window keeps a listing made long after the start (a status asked once a
    disconnect has finished) from missing it."""

    name = "new-executions-invisible"

    def __init__(self, hidden_lists: int = 1, seconds: float = 0.5) -> None:
        self.hidden_lists, self.seconds = hidden_lists, seconds
        self.hidden: dict[str, list[float]] = {}  # execution ARN -> [listings left to miss it, until when]

    def hide(self, execution_arn: str, lists: int | None = None, seconds: float | None = None) -> None:
        self.hidden[execution_arn] = [float(self.hidden_lists if lists is None else lists),
                                      time.monotonic() + (self.seconds if seconds is None else seconds)]

    def _started(self, execution_arn: str) -> None:
        if execution_arn not in self.hidden:  # seen before it started, or started again with the same name
            self.hide(execution_arn)

    def before(self, call: Call) -> None:
        # Known before moto starts it: its first task may list executions before StartExecution returns.
        if call.operation == "StartExecution" and call.params.get("name"):
            machine = call.params["stateMachineArn"].split(":")
            self._started(":".join(machine[:5] + ["execution", machine[6], call.params["name"]]))

    def after(self, call: Call, response: dict[str, Any]) -> None:
        if call.operation == "StartExecution":
            self._started(response["executionArn"])
        elif call.operation == "ListExecutions":
            response["executions"] = [execution for execution in response.get("executions", [])
                                      if not self._missed(execution["executionArn"])]

    def _missed(self, execution_arn: str) -> bool:
        entry = self.hidden.get(execution_arn)
        if entry is None or entry[0] <= 0 or time.monotonic() > entry[1]:
            return False
        entry[0] -= 1
        return True


class SecurityGroupInUse(Rule):
    """DeleteSecurityGroup of a group "associated with an instance or network interface, is referenced by
    another security group in the same VPC" fails with DependencyViolation (API_DeleteSecurityGroup). moto
    deletes it and leaves the rules that reference it. The interfaces here: a resource gateway's or a
    resource endpoint's (emulator/strict/lattice/) not yet deleted, which the lattice rules' book knows."""

    name = "security-group-in-use"

    def __init__(self, lattice: LatticeBook) -> None:
        self.lattice = lattice

    def before(self, call: Call) -> None:
        if call.operation != "DeleteSecurityGroup":
            return
        group_id = call.params.get("GroupId", "")
        group = _backend(call).get_security_group_from_id(group_id)
        if group is None:
            return
        referencing = sorted({other.id for other in _backend(call).groups.get(group.vpc_id, {}).values()
                              if other.id != group_id
                              for rule in [*other.ingress_rules, *other.egress_rules]
                              if (rule.source_group or {}).get("GroupId") == group_id})
        users = self.lattice.groups_in_use(call.account_id, call.region).get(group_id, [])
        if referencing or users:
            raise AwsError("DependencyViolation", f"resource {group_id} has a dependent object: "
                                                  f"{', '.join([*referencing, *users])}")


def network_rules(lattice: LatticeBook) -> list[Rule]:
    """`lattice`: the lattice rules' book, whose gateways and endpoints use security groups."""
    return [SharedVpcOwner(), Quotas(), PeeringOptions(), TagsPerAccount(), PeeringFilters(),
            NewExecutionsInvisible(), SecurityGroupInUse(lattice)]
