"""The public path's plan: a database reachable from the internet needs one change, its security group
admitting Nekt's public IP (the manual guide's first answer). Pure logic over Discover's facts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nekt_peering.core.model import Settings
from nekt_peering.core.quotas import check_quotas
from nekt_peering.ingress.authorize import ingress_change, planned_ingress

if TYPE_CHECKING:
    from nekt_peering.core.shapes import Change, PlannedIngress


def plan_public(facts: Mapping[str, Any]) -> PlannedIngress:
    ingress = planned_ingress(facts["database"], Settings.from_dict(facts["settings"]).nekt_public_cidr)
    check_quotas(facts, None, [], ingress)
    return ingress


def public_changes(ingress: PlannedIngress) -> list[Change]:
    """Every change the run would make, in words a person can check."""
    return [] if ingress["exists"] else [ingress_change(ingress)]
