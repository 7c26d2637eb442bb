"""Network ACLs on the path between Nekt and the database: read them, and evaluate them as AWS does.

A network ACL is stateless: the database's subnets must let Nekt's TCP in on the database's port and
the replies out to Nekt's ephemeral ports, and Nekt's private subnets the mirror. AWS evaluates a
direction's rules in ascending rule number; the first rule whose protocol, ports and CIDR match a
packet decides, and a packet no rule matches is denied (the final `*` rule). This module never
changes an ACL: a denial is reported with the rule to add."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nekt_peering.core.errors import NetworkAclDenies

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import NetworkAclEntryTypeDef

    from nekt_peering.core.shapes import Check, NetworkAcl, NetworkAclEntry

# Lambda, and most clients, pick their source port in 1024-65535: AWS's guidance for the ephemeral
# range a network ACL must allow for replies.
EPHEMERAL_PORTS = (1024, 65535)
TCP = "6"
ALL_PROTOCOLS = "-1"
FINAL_RULE_NUMBER = 32767

Network = ipaddress.IPv4Network


def read_network_acls(ec2: EC2Client, subnet_ids: list[str]) -> list[NetworkAcl]:
    """The network ACL of each subnet (its explicit one, else the VPC's default), IPv4 entries only."""
    if not subnet_ids:
        return []
    paginator = ec2.get_paginator("describe_network_acls")
    pages = paginator.paginate(Filters=[{"Name": "association.subnet-id", "Values": sorted(subnet_ids)}])
    wanted = set(subnet_ids)
    acls: list[NetworkAcl] = []
    for page in pages:
        for acl in page["NetworkAcls"]:
            subnets = sorted(a["SubnetId"] for a in acl.get("Associations", []) if a.get("SubnetId") in wanted)
            acls.append({
                "networkAclId": acl["NetworkAclId"],
                "subnetIds": subnets,
                "entries": [_entry(entry) for entry in acl.get("Entries", []) if entry.get("CidrBlock")],
            })
    return sorted(acls, key=lambda acl: acl["networkAclId"])


def _entry(entry: NetworkAclEntryTypeDef) -> NetworkAclEntry:
    ports = entry.get("PortRange") or {}
    return {
        "ruleNumber": int(entry["RuleNumber"]),
        "egress": bool(entry["Egress"]),
        "protocol": str(entry["Protocol"]),
        "action": entry["RuleAction"],
        "cidr": entry["CidrBlock"],
        "fromPort": ports.get("From"),
        "toPort": ports.get("To"),
    }


@dataclass(frozen=True)
class Flow:
    """Traffic one ACL must let through: a direction, peers (CIDRs) and a TCP port range."""

    egress: bool
    peers: tuple[str, ...]
    ports: tuple[int, int]
    purpose: str

    def describe(self) -> str:
        ports = str(self.ports[0]) if self.ports[0] == self.ports[1] else f"{self.ports[0]}-{self.ports[1]}"
        return f"{self.direction} TCP {ports} {'to' if self.egress else 'from'} {', '.join(self.peers)}"

    @property
    def direction(self) -> str:
        return "outbound" if self.egress else "inbound"


def path_flows(port: int, database_cidrs: list[str], nekt_cidrs: list[str]) -> dict[str, list[Flow]]:
    """What each side's ACLs must allow for Nekt (nekt_cidrs) to reach the database (database_cidrs)."""
    ephemeral = EPHEMERAL_PORTS
    return {
        "database": [Flow(False, tuple(nekt_cidrs), (port, port), "Nekt's connections to the database"),
                     Flow(True, tuple(nekt_cidrs), ephemeral, "the database's replies")],
        "nekt": [Flow(True, tuple(database_cidrs), (port, port), "Nekt's connections to the database"),
                 Flow(False, tuple(database_cidrs), ephemeral, "the database's replies")],
    }


def nekt_sources(facts: Mapping[str, Any]) -> list[str]:
    """Where Nekt's connections come from, as the database's subnets see them: Nekt's private subnets through
    a peering, the resource gateway's addresses (in the database's subnets) on the resource-endpoint path, or
    Nekt's public IP for a public database."""
    if facts["mode"] == "peering":
        return list(facts["nekt"]["privateSubnetCidrs"])
    if facts["mode"] == "resource-endpoint":
        return sorted({zone["cidr"] for zone in facts["resourcePath"]["databaseSubnets"]})
    return [f"{facts['settings']['nektPublicIp']}/32"]


def path_denials(facts: Mapping[str, Any], database_acls: list[NetworkAcl],
                 nekt_acls: list[NetworkAcl]) -> list[str]:
    """What the ACLs (as read by Discover, or live by Verify) deny on the path Discover's facts describe.
    Nekt's side is Nekt's own only with peering: on the public path Nekt leaves through its NAT."""
    database = facts["database"]
    flows = path_flows(database["port"], database["subnetCidrs"], nekt_sources(facts))
    found = denials("database", database_acls, flows["database"])
    if facts["mode"] == "peering":
        found += denials("nekt", nekt_acls, flows["nekt"])
    return found


def denials(side: str, acls: list[NetworkAcl], flows: list[Flow]) -> list[str]:
    """Each flow an ACL denies (some of it), in words that name the ACL, the rule and what to add."""
    found = []
    for acl in acls:
        for flow in flows:
            problem = _evaluate(acl["entries"], flow)
            if problem:
                where = f"network ACL {acl['networkAclId']} ({side} side, {', '.join(acl['subnetIds'])})"
                found.append(f"{where} denies {flow.describe()} ({flow.purpose}): {problem}")
    return found


def check_network_acls(found: list[str], consequence: str) -> Check:
    """Raise NetworkAclDenies for what `denials` found; else the check as Verify lists it."""
    if found:
        raise NetworkAclDenies("; ".join(found) + f". {consequence}. This workflow never changes a network ACL: "
                               "add the rule named (or change the rule that denies), then run again")
    return {"check": "network ACLs allow the database's port and the replies, both sides", "ok": True,
            "detail": "ok"}


# What is still undecided while walking the rules: (addresses, lowest port, highest port) pieces.
Piece = tuple[Network, int, int]


def _evaluate(entries: list[NetworkAclEntry], flow: Flow) -> str | None:
    """None when every packet of the flow is allowed; else why not, naming the deciding rule."""
    undecided: list[Piece] = [(ipaddress.IPv4Network(peer), *flow.ports) for peer in flow.peers]
    rules = sorted((e for e in entries if e["egress"] == flow.egress and e["ruleNumber"] < FINAL_RULE_NUMBER),
                   key=lambda e: e["ruleNumber"])
    for rule in rules:
        if rule["protocol"] not in (TCP, ALL_PROTOCOLS):
            continue
        from_port, to_port = rule["fromPort"], rule["toPort"]
        rule_ports = (0, 65535) if rule["protocol"] == ALL_PROTOCOLS or from_port is None or to_port is None \
            else (from_port, to_port)
        rule_network = ipaddress.IPv4Network(rule["cidr"])
        hit = [piece for piece in undecided if _overlaps(piece, rule_network, rule_ports)]
        if not hit:
            continue
        if rule["action"] == "deny":
            return (f"rule {rule['ruleNumber']} ({_describe_rule(rule)}) denies it. Add an {flow.direction} "
                    f"allow rule numbered below {rule['ruleNumber']} for {_pieces(hit, flow)}, or change rule "
                    f"{rule['ruleNumber']}")
        undecided = [rest for piece in undecided for rest in _subtract(piece, rule_network, rule_ports)]
        if not undecided:
            return None
    return (f"no rule allows {_pieces(undecided, flow)} (the final * rule denies it). Add an {flow.direction} "
            f"allow rule for {_pieces(undecided, flow)}")


def _overlaps(piece: Piece, network: Network, ports: tuple[int, int]) -> bool:
    addresses, low, high = piece
    return addresses.overlaps(network) and low <= ports[1] and ports[0] <= high


def _subtract(piece: Piece, network: Network, ports: tuple[int, int]) -> Iterable[Piece]:
    """The part of the piece the rule does not match (CIDRs are either nested or apart)."""
    addresses, low, high = piece
    if not _overlaps(piece, network, ports):
        yield piece
        return
    if network.subnet_of(addresses) and network != addresses:
        yield from ((outside, low, high) for outside in addresses.address_exclude(network))
        inside = network
    else:
        inside = addresses
    if low < ports[0]:
        yield inside, low, ports[0] - 1
    if high > ports[1]:
        yield inside, ports[1] + 1, high


def _pieces(pieces: list[Piece], flow: Flow) -> str:
    preposition = "to" if flow.egress else "from"
    shown = [f"TCP {low}{'' if low == high else f'-{high}'} {preposition} {addresses}"
             for addresses, low, high in pieces[:3]]
    more = f" and {len(pieces) - 3} more ranges" if len(pieces) > 3 else ""
    return ", ".join(shown) + more


def _describe_rule(rule: NetworkAclEntry) -> str:
    if rule["protocol"] == ALL_PROTOCOLS:
        what = "all traffic"
    elif rule["fromPort"] is None:
        what = "all TCP"
    else:
        what = f"TCP {rule['fromPort']}" + ("" if rule["fromPort"] == rule["toPort"] else f"-{rule['toPort']}")
    return f"{rule['action']} {what} {'to' if rule['egress'] else 'from'} {rule['cidr']}"
