"""Stage 9 (and the public path): allow Nekt on the database's security group, on the database's port."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code, tag_list
from nekt_peering.core.ec2 import allows_tcp_port_from, rule_facts
from nekt_peering.core.errors import ChangeRefused
from nekt_peering.core.model import CONNECTION_TAG_KEY, MANAGED_BY_TAG, VPC_PREFIX_LENGTHS, Settings

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from nekt_peering.core.shapes import Change, IngressRecord, PlannedIngress, RuleFacts

RULE_DESCRIPTION = "Nekt"


@dataclass(frozen=True)
class AllowedRule:
    """The one ingress rule a connection may add: TCP on the database's port, on its security group,
    from the Nekt CIDR (peering) or NektPublicIp/32 (public)."""

    group_id: str
    port: int
    cidr: str
    prefix_lengths: range  # a VPC CIDR is /16 to /28 (AWS refuses any other); a public IP is /32


def allowed_rule(facts: dict[str, Any]) -> AllowedRule:
    """What the discovered facts and the settings allow, whatever a plan says."""
    database = facts["database"]
    if facts["mode"] == "public":
        cidr, lengths = Settings.from_dict(facts["settings"]).nekt_public_cidr, range(32, 33)
    else:
        cidr, lengths = facts["nekt"]["cidr"], VPC_PREFIX_LENGTHS
        if cidr not in facts["nekt"]["cidrs"]:
            raise ChangeRefused(f"refused to allow the Nekt CIDR {cidr}: it is not one of the Nekt VPC's CIDRs "
                                f"({', '.join(facts['nekt']['cidrs'])}). Nothing was changed: start the connection "
                                "again from the state machine")
    return AllowedRule(database["securityGroupId"], database["port"], cidr, lengths)


def refuse_unless_allowed(planned: dict[str, Any], allowed: AllowedRule) -> None:
    """The last line of defence before AuthorizeSecurityGroupIngress: nothing wider than Nekt, ever."""
    wrong = []
    try:
        network = ipaddress.ip_network(planned["cidr"])
    except (TypeError, ValueError):
        network = None
    if network is None or network.version != 4 or network.prefixlen not in allowed.prefix_lengths:
        wrong.append(f"source {planned['cidr']!r} is not an IPv4 network of /{allowed.prefix_lengths[0]}"
                     f"{'' if len(allowed.prefix_lengths) == 1 else f' to /{allowed.prefix_lengths[-1]}'}")
    if planned["cidr"] != allowed.cidr:
        wrong.append(f"source {planned['cidr']!r} is not {allowed.cidr}")
    port = planned["port"]
    if type(port) is not int or not 0 < port < 65536 or port != allowed.port:
        wrong.append(f"port {planned['port']!r} is not the database's port {allowed.port}")
    if planned["groupId"] != allowed.group_id:
        wrong.append(f"security group {planned['groupId']!r} is not the database's {allowed.group_id}")
    if wrong:
        raise ChangeRefused(
            f"refused to allow {planned['cidr']!r} on {planned['groupId']!r}: {'; '.join(wrong)}. A connection only "
            "ever allows TCP on the database's port from the Nekt CIDR or NektPublicIp/32. Nothing was changed: "
            "start the connection again from the state machine"
        )


def authorize_ingress(
    ec2: EC2Client, planned: dict[str, Any], connection_id: str, allowed: AllowedRule, rules_before: list[RuleFacts]
) -> IngressRecord:
    """Add the rule unless Preflight found it. AWS answers Duplicate when it is there already: this execution
    made it (a retried attempt whose answer was lost) when it carries the connection's tag and was not among
    `rules_before`, the group's rules as Discover read them before any change; else it is someone else's."""
    refuse_unless_allowed(planned, allowed)
    group_id, port, cidr = planned["groupId"], planned["port"], planned["cidr"]
    if planned["exists"]:
        return _ingress_record(planned, planned["ruleId"], created=False)
    tags = {"Name": f"Nekt {connection_id}", CONNECTION_TAG_KEY: connection_id, MANAGED_BY_TAG[0]: MANAGED_BY_TAG[1]}
    try:
        response = ec2.authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                            "IpRanges": [{"CidrIp": cidr, "Description": RULE_DESCRIPTION}]}],
            TagSpecifications=[{"ResourceType": "security-group-rule", "Tags": tag_list(tags)}],
        )
    except ClientError as error:
        if error_code(error) != "InvalidPermission.Duplicate":
            raise
        existing = find_rule(ec2, group_id, port, cidr)
        return _ingress_record(planned, existing["ruleId"] if existing else None,
                               created=existing is not None and made_by(existing, connection_id, rules_before))
    return _ingress_record(planned, response["SecurityGroupRules"][0]["SecurityGroupRuleId"], created=True)


def find_rule(ec2: EC2Client, group_id: str, port: int, cidr: str) -> RuleFacts | None:
    paginator = ec2.get_paginator("describe_security_group_rules")
    for page in paginator.paginate(Filters=[{"Name": "group-id", "Values": [group_id]}]):
        for rule in page["SecurityGroupRules"]:
            facts = rule_facts(rule)
            if not rule.get("IsEgress") and allows_tcp_port_from(facts, port, cidr):
                return facts
    return None


def made_by(rule: RuleFacts, connection_id: str, rules_before: list[RuleFacts]) -> bool:
    """Whether this product made the rule for this connection since Discover read the group: ownership is
    decided by the tag and by what was there before any change, never by "it was there when I looked"."""
    tags = rule["tags"]
    return (tags.get(CONNECTION_TAG_KEY) == connection_id and tags.get(MANAGED_BY_TAG[0]) == MANAGED_BY_TAG[1]
            and rule["ruleId"] not in {before["ruleId"] for before in rules_before})


def _ingress_record(planned: dict[str, Any], rule_id: str | None, created: bool) -> IngressRecord:
    return {"groupId": planned["groupId"], "port": planned["port"], "cidr": planned["cidr"],
            "ruleId": rule_id, "created": created}


def planned_ingress(database: dict[str, Any], cidr: str) -> PlannedIngress:
    port = database["port"]
    existing = next((rule for rule in database["securityGroupRules"] if allows_tcp_port_from(rule, port, cidr)),
                    None)
    return {
        "groupId": database["securityGroupId"],
        "port": port,
        "cidr": cidr,
        "exists": existing is not None,
        "ruleId": existing["ruleId"] if existing else None,
    }


def ingress_change(ingress: PlannedIngress) -> Change:
    return {"action": "AuthorizeSecurityGroupIngress",
            "summary": f"allow TCP {ingress['port']} from {ingress['cidr']} on {ingress['groupId']}"}
