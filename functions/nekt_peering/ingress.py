"""Stage 9 (and the public path): allow Nekt on the database's security group, on the database's port."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from nekt_peering.aws import error_code, tag_list
from nekt_peering.discover import allows_tcp_port_from, rule_facts
from nekt_peering.model import CONNECTION_TAG_KEY, MANAGED_BY_TAG

RULE_DESCRIPTION = "Nekt"


def authorize_ingress(ec2: Any, planned: dict[str, Any], connection_id: str) -> dict[str, Any]:
    """Add the rule unless Preflight found it; AWS's Duplicate answer covers a retried attempt."""
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
        return _ingress_record(planned, existing["ruleId"] if existing else None, created=False)
    return _ingress_record(planned, response["SecurityGroupRules"][0]["SecurityGroupRuleId"], created=True)


def find_rule(ec2: Any, group_id: str, port: int, cidr: str) -> dict[str, Any] | None:
    paginator = ec2.get_paginator("describe_security_group_rules")
    for page in paginator.paginate(Filters=[{"Name": "group-id", "Values": [group_id]}]):
        for rule in page["SecurityGroupRules"]:
            facts = rule_facts(rule)
            if not rule.get("IsEgress") and allows_tcp_port_from(facts, port, cidr):
                return facts
    return None


def _ingress_record(planned: dict[str, Any], rule_id: str | None, created: bool) -> dict[str, Any]:
    return {"groupId": planned["groupId"], "port": planned["port"], "cidr": planned["cidr"],
            "ruleId": rule_id, "created": created}
