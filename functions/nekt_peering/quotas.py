"""The Amazon VPC quotas a connect counts against (Service Quotas, service code `vpc`).

Discover counts what is used and, only where a connect at the default value would go past it, reads
the value the account actually has (a quota may have been raised: the Nekt VPC is a hub of peerings).
Preflight refuses, before any change, what AWS would refuse half way through the connect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nekt_peering.errors import QuotaExceeded


@dataclass(frozen=True)
class Quota:
    name: str
    code: str
    default: int
    counted: str  # what it counts, for the message

    def limit(self, facts: Mapping[str, Any], side: str) -> int:
        """The account's value when Discover read it, else AWS's default."""
        limits = (facts.get("quotas") or {}).get("limits", {}).get(side, {})
        return int(limits.get(self.code, self.default))

    def refuse(self, where: str, used: int, needed: int, limit: int, free: str) -> QuotaExceeded:
        return QuotaExceeded(
            f"{where} already has {used} {self.counted}, and this connection needs {needed} more: the Amazon VPC "
            f"quota '{self.name}' ({self.code}) is {limit} there. Nothing was changed. {free}, or request an increase "
            f"of {self.code} in Service Quotas (Amazon Virtual Private Cloud) in that account and region, then run "
            "again"
        )


ACTIVE_PEERINGS_PER_VPC = Quota("Active VPC peering connections per VPC", "L-7E9ECCDB", 50, "active peerings")
OUTSTANDING_REQUESTS = Quota("Outstanding VPC peering connection requests", "L-DC9F7029", 25,
                             "outstanding peering requests")
ROUTES_PER_TABLE = Quota("Routes per route table", "L-93826ACB", 50, "routes")
RESOURCE_ENDPOINTS_PER_VPC = Quota("Resource VPC endpoints per VPC", "L-CA6CC422", 200, "resource VPC endpoints")
RULES_PER_GROUP = Quota("Inbound or outbound rules per security group", "L-0EA8095F", 60, "inbound rules")


def routes_counted(table: Mapping[str, Any]) -> int:
    """The routes of a table (as Discover describes it) that count against the quota: all but local ones."""
    return sum(1 for route in table["routes"] if route["target"] != "local")
