"""AuthorizeIngressFunction: the database's security group admits Nekt (the public and peering paths)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.handlers.stage import Event, database_ec2, stage
from nekt_peering.ingress.authorize import allowed_rule
from nekt_peering.ingress.authorize import authorize_ingress as authorize

if TYPE_CHECKING:
    from nekt_peering.core.shapes import IngressRecord

@stage
def authorize_ingress(event: Event) -> IngressRecord:
    facts = event["discovery"]
    return authorize(database_ec2(facts), event["plan"]["ingress"], facts["request"]["connectionId"],
                     allowed=allowed_rule(facts), rules_before=facts["database"]["securityGroupRules"])
