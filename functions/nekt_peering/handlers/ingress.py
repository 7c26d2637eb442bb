"""AuthorizeIngressFunction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering import ingress
from nekt_peering.handlers.stage import Event, database_ec2, stage

if TYPE_CHECKING:
    from nekt_peering.shapes import IngressRecord


@stage
def authorize_ingress(event: Event) -> IngressRecord:
    facts = event["discovery"]
    return ingress.authorize_ingress(database_ec2(facts), event["plan"]["ingress"], facts["request"]["connectionId"],
                                     allowed=ingress.allowed_rule(facts))
