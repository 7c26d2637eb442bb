"""The Amazon VPC quotas a connect counts against (Service Quotas, service code `vpc`).

Discover counts what is used and, only where a connect at the default value would go past it, reads
the value the account actually has (a quota may have been raised: the Nekt VPC is a hub of peerings).
Preflight refuses, before any change, what AWS would refuse half way through the connect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nekt_peering.core.errors import QuotaExceeded

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Quota:
    name: str
    code: str
    default: int
    counted: str  # what it counts, for the message
    service: str = "vpc"  # its Service Quotas service code
    service_name: str = "Amazon Virtual Private Cloud"

    def limit(self, facts: Mapping[str, Any], side: str) -> int:
        """The account's value when Discover read it, else AWS's default."""
        limits = (facts.get("quotas") or {}).get("limits", {}).get(side, {})
        return int(limits.get(self.code, self.default))

    def refuse(self, where: str, used: int, needed: int, limit: int, free: str) -> QuotaExceeded:
        return QuotaExceeded(
            f"{where} already has {used} {self.counted}, and this connection needs {needed} more: the quota "
            f"'{self.name}' ({self.code}) is {limit} there. Nothing was changed. {free}, or request an increase "
            f"of {self.code} in Service Quotas ({self.service_name}) in that account and region, then run again"
        )


ACTIVE_PEERINGS_PER_VPC = Quota("Active VPC peering connections per VPC", "L-7E9ECCDB", 50, "active peerings")
OUTSTANDING_REQUESTS = Quota("Outstanding VPC peering connection requests", "L-DC9F7029", 25,
                             "outstanding peering requests")
ROUTES_PER_TABLE = Quota("Routes per route table", "L-93826ACB", 50, "routes")
RESOURCE_ENDPOINTS_PER_VPC = Quota("Resource VPC endpoints per VPC", "L-CA6CC422", 200, "resource VPC endpoints")
# VPC Lattice's ("Quotas for Amazon VPC Lattice"). Gateways per VPC: the quota table says 500, the resource
# gateway pages "A VPC can have a maximum of 100 resource gateways": the lower one, until AWS agrees with itself.
RESOURCE_GATEWAYS_PER_VPC = Quota("Resource gateways per VPC", "L-0DCA4434", 100, "resource gateways",
                                  "vpc-lattice", "Amazon VPC Lattice")
RESOURCE_CONFIGURATIONS_PER_REGION = Quota("Resource configurations per AWS Region", "L-5FF8F9B9", 2000,
                                           "resource configurations", "vpc-lattice", "Amazon VPC Lattice")
# A connection's configurations: an Aurora cluster's ARN one and the writer and reader children AWS makes for it
# (whether children count against the quota is not documented: they are counted).
CONFIGURATIONS_PER_CONNECTION = 3
RULES_PER_GROUP = Quota("Inbound or outbound rules per security group", "L-0EA8095F", 60, "inbound rules")


def routes_counted(table: Mapping[str, Any]) -> int:
    """The routes of a table (as Discover describes it) that count against the quota: all but local ones."""
    return sum(1 for route in table["routes"] if route["target"] != "local")


def check_quotas(facts: Mapping[str, Any], peering: Mapping[str, Any] | None, routes: Sequence[Mapping[str, Any]],
                 ingress: Mapping[str, Any]) -> None:
    """Refuse now, by name, what AWS would refuse half way through the connect (and roll it back)."""
    database, nekt = facts["database"], facts["nekt"]
    counts = facts.get("quotas") or {}
    where = {"database": f"the database VPC {database['vpcId']} (account {database['accountId']}, region "
                         f"{database['region']})"}
    if facts["mode"] == "peering" and (peering is None or peering["status"] != "active"):
        where["nekt"] = f"the Nekt VPC {nekt['vpcId']} (account {nekt['accountId']}, region {nekt['region']})"
        limit = OUTSTANDING_REQUESTS.limit(facts, "database")
        if peering is None and counts.get("outstandingRequests", 0) + 1 > limit:
            raise OUTSTANDING_REQUESTS.refuse(
                f"account {database['accountId']} in region {database['region']}", counts["outstandingRequests"], 1,
                limit, "Delete the peering requests still pending acceptance that are not needed")
        for side, key in (("nekt", "nektVpcActivePeerings"), ("database", "databaseVpcActivePeerings")):
            limit = ACTIVE_PEERINGS_PER_VPC.limit(facts, side)
            if counts.get(key, 0) + 1 > limit:
                raise ACTIVE_PEERINGS_PER_VPC.refuse(
                    where[side], counts[key], 1, limit,
                    "Ask Nekt support (the Nekt VPC is a hub for every customer)" if side == "nekt"
                    else "Delete peerings this VPC no longer uses")
    tables = {table["routeTableId"]: ("database", table) for table in database.get("routeTables", [])}
    if nekt:
        tables[nekt["routeTable"]["routeTableId"]] = ("nekt", nekt["routeTable"])
    for table_id, (side, table) in tables.items():
        new = sum(1 for route in routes if route["routeTableId"] == table_id and not route["exists"])
        used, limit = routes_counted(table), ROUTES_PER_TABLE.limit(facts, side)
        if new and used + new > limit:
            raise ROUTES_PER_TABLE.refuse(f"route table {table_id} ({side} side)", used, new, limit,
                                          "Remove routes it no longer uses")
    if not ingress["exists"]:
        used, limit = len(database["securityGroupRules"]), RULES_PER_GROUP.limit(facts, "database")
        if used + 1 > limit:
            raise RULES_PER_GROUP.refuse(f"security group {ingress['groupId']}", used, 1, limit,
                                         "Remove inbound rules it no longer uses")
