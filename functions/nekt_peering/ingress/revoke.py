"""Compensation: revoke the ingress rule the connection added (the connect's rollback and the
disconnect share it), and only a rule tagged with the connection it was created for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nekt_peering.core.compensation import Rollback, connection_id_of
from nekt_peering.core.model import CONNECTION_TAG_KEY
from nekt_peering.ingress.authorize import find_rule

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client


def revoke_ingress(ec2: EC2Client, state: dict[str, Any], rollback: Rollback) -> None:
    planned_rules = state["plan"]["ingress"]  # one rule for a connect; every tagged one for a disconnect
    for planned in planned_rules if isinstance(planned_rules, list) else [planned_rules]:
        if planned["exists"]:
            continue
        rule = find_rule(ec2, planned["groupId"], planned["port"], planned["cidr"])
        # The connection it was created for: this one, or (a disconnect) the one whose rule it shared.
        owner = planned.get("connectionTag") or connection_id_of(state)
        if rule is None or rule["tags"].get(CONNECTION_TAG_KEY) != owner:
            continue  # never created, or an identical rule someone else added: not ours
        rollback.attempt(
            f"ingress rule {rule['ruleId']} (tcp/{planned['port']} from {planned['cidr']}) on {planned['groupId']}",
            ec2.revoke_security_group_ingress, GroupId=planned["groupId"], SecurityGroupRuleIds=[rule["ruleId"]],
        )
