"""What a connection costs per month on AWS by each path, and who pays: the price table `make bench` prices with.

Every rate carries its source. `found` says whether the figure itself was read on AWS's own page; where it was
not (AWS's pricing tables render in the browser, and the stored copies of the pages show only their prose),
the rate is a named assumption: its value is the one stated in `note`, never a silent number, and the bench
marks each part priced with one. docs/aws-fidelity.md ("Quotas and costs") lists the same table.

Only what the connection adds is priced: the database, Nekt's own instances, a NAT gateway's hourly charge (it
serves all of Nekt's traffic) and the database's public address (a publicly accessible database has it already)
are not. The per-GB tiers of PrivateLink and VPC Lattice apply to a whole Region's traffic (first 1 PB, next 4 PB,
over 5 PB); a connection is priced at the first tier's rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

PathName = Literal["peering", "public", "resource-endpoint"]
Payer = Literal["customer", "Nekt"]
PATHS: tuple[PathName, ...] = ("peering", "public", "resource-endpoint")

PRIVATELINK_PRICING = "https://aws.amazon.com/privatelink/pricing/"
PRIVATELINK_PRICING_JA = "https://aws.amazon.com/jp/privatelink/pricing/"
LATTICE_PRICING = "https://aws.amazon.com/vpc/lattice/pricing/"
LATTICE_PRICING_KO = "https://aws.amazon.com/ko/vpc/lattice/pricing/"
LATTICE_GUIDE_PRICING = "https://docs.aws.amazon.com/vpc-lattice/latest/ug/pricing.html"
ACCESS_RESOURCES = "https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-resources.html"
PEERING_CHARGES = "https://aws.amazon.com/blogs/networking-and-content-delivery/demystifying-amazon-vpc-peering-charges"
SAP_PEERING = "https://docs.aws.amazon.com/sap/latest/general/rise-connection-peering.html"
EC2_PRICING = "https://aws.amazon.com/ec2/pricing/on-demand/"
VPC_PRICING = "https://aws.amazon.com/vpc/pricing/"
DATA_TRANSFER_OVERVIEW = "https://aws.amazon.com/blogs/architecture/overview-of-data-transfer-costs-for-common-architectures/"
# AWS's own pricing examples: "We assume that a month equals 730 hours (8,760 hours in a year/12 months)".
HOURS_PER_MONTH = 730
HOURS_PER_MONTH_SOURCE = LATTICE_PRICING


@dataclass(frozen=True)
class Rate:
    usd: float
    per: Literal["hour", "GB"]
    unit: str
    source: str
    found: bool  # the figure was read on AWS's page; False: a named assumption (see note)
    note: str = ""


@dataclass(frozen=True)
class Prices:
    """us-east-1 list prices (USD), first tier. Each field is one line of the table in docs/aws-fidelity.md."""

    resource_endpoint_hour: Rate = Rate(
        0.01, "hour", "per resource endpoint per Availability Zone per hour", PRIVATELINK_PRICING, False,
        "billed \"for each hour that your VPC endpoint remains provisioned in each Availability Zone\" (read); the "
        "rate itself is not in the page's text: assumed $0.01")
    resource_endpoint_gb: Rate = Rate(
        0.01, "GB", "per GB processed by resource endpoints (first 1 PB a month in the Region)",
        PRIVATELINK_PRICING_JA, True,
        "resource endpoint tiers: first 1 PB $0.01, next 4 PB $0.006, over 5 PB $0.004 (the page's Japanese "
        "edition; the English copy stored here stops before them)")
    resource_gateway_hour: Rate = Rate(
        0.0, "hour", "per resource gateway or resource configuration per hour", ACCESS_RESOURCES, True,
        "\"When you enable access to your resources using resource configurations and resource gateways, you are "
        "billed per GB data processed by your resource gateways\": no hourly charge")
    resource_gateway_gb: Rate = Rate(
        0.01, "GB", "per GB of VPC resource data processed, billed to the resource's owner (first 1 PB)",
        LATTICE_PRICING_KO, False,
        "the page's section \"VPC resources pricing: per GB of data processed to access VPC resources\" was read, "
        "its figures were not (cut off in the stored copy): assumed $0.01, as the resource endpoint's first tier")
    resource_path_cross_zone_gb: Rate = Rate(
        0.0, "GB", "per GB crossing zones between a resource endpoint, its gateway and the database",
        LATTICE_GUIDE_PRICING, True, "\"Additionally, there are no inter-AZ data transfer charges in VPC Lattice.\"")
    peering_hour: Rate = Rate(
        0.0, "hour", "per peering connection per hour", PEERING_CHARGES, True,
        "\"There is no charge to create a VPC peering connection\"; only data transfer across zones and Regions")
    same_zone_gb: Rate = Rate(
        0.0, "GB", "per GB over a peering within one Availability Zone", PEERING_CHARGES, True,
        "\"All data transfer over a VPC peering connection that stays within an Availability Zone (AZ) is free, even "
        "if it is between different accounts\"")
    cross_zone_gb: Rate = Rate(
        0.01, "GB", "per GB across Availability Zones, in each direction (the sender pays out, the receiver in)",
        EC2_PRICING, False,
        "charged \"per GB for data in and data out\" across zones (AWS's SAP guide, " + SAP_PEERING + "); the "
        "rate is in the EC2 page's data transfer table, not readable here: assumed $0.01")
    inter_region_gb: Rate = Rate(
        0.02, "GB", "per GB sent to another Region (the sender pays)", EC2_PRICING, False,
        "\"Across regions, AWS charges per GB for data out\" (AWS's SAP guide); the rate per pair of Regions is "
        "in the EC2 page's table, not readable here: assumed $0.02")
    public_address_gb: Rate = Rate(
        0.01, "GB", "per GB to or from a public IPv4 address in the same Region, in each direction",
        EC2_PRICING, False,
        "the EC2 page's regional rate for traffic through public or Elastic IPv4 addresses, not readable here: "
        "assumed $0.01")
    nat_gateway_gb: Rate = Rate(
        0.045, "GB", "per GB processed by Nekt's NAT gateway (its address is the one the database admits)",
        DATA_TRANSFER_OVERVIEW, False,
        "\"there is a data processing charge (per gigabyte (GB)) for data that passes through the gateway\"; the "
        "us-east-1 rate (" + VPC_PRICING + ") is not readable here: assumed $0.045")

    def rates(self) -> dict[str, Rate]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


PRICES = Prices()


@dataclass(frozen=True)
class Part:
    """One line of a connection's monthly bill."""

    what: str
    payer: Payer
    quantity: float  # in the rate's unit: hours, or GB
    rate_name: str
    rate: Rate

    @property
    def usd(self) -> float:
        return self.quantity * self.rate.usd



@dataclass(frozen=True)
class MonthlyCost:
    path: PathName
    cross_region: bool
    gigabytes_per_month: float
    zones: int
    hours_per_month: float
    parts: list[Part] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(part.usd for part in self.parts)

    def paid_by(self, payer: Payer) -> float:
        return sum(part.usd for part in self.parts if part.payer == payer)

    @property
    def assumed(self) -> list[str]:
        """The rates of this cost that are assumptions, not figures read on AWS's pages."""
        return sorted({part.rate_name for part in self.parts if not part.rate.found and part.quantity})


def monthly_cost(path: PathName, gigabytes_per_month: float, zones: int, *, cross_region: bool = False,
                 database_sends: float = 1.0, hours_per_month: float = HOURS_PER_MONTH,
                 prices: Prices = PRICES) -> MonthlyCost:
    """The monthly cost of one connection by `path`, its parts and who pays each.

    `gigabytes_per_month`: the data between the database and Nekt, both directions together; `database_sends`:
    the share of it the database sends (1.0: Nekt reads, as an extraction does). `zones`: the Availability Zones
    Nekt's side uses — the resource endpoint's subnets (each billed per hour), or for the other paths the zones
    Nekt's clients spread over evenly, one of them the database's, so (zones - 1) / zones of the traffic crosses
    zones. `cross_region`: the database is in another Region than the Nekt VPC (not for the resource endpoint:
    a resource configuration is shared within its Region)."""
    if path not in PATHS:
        raise ValueError(f"unknown path {path!r}: one of {', '.join(PATHS)}")
    if zones < 1:
        raise ValueError("zones must be at least 1")
    if gigabytes_per_month < 0 or not 0 <= database_sends <= 1:
        raise ValueError("gigabytes_per_month must be >= 0 and database_sends within 0..1")
    if path == "resource-endpoint" and cross_region:
        raise ValueError("the resource-endpoint path is same-Region only")
    hours = hours_per_month
    from_database = gigabytes_per_month * database_sends
    to_database = gigabytes_per_month - from_database
    crossing = gigabytes_per_month * (zones - 1) / zones

    def part(what: str, payer: Payer, quantity: float, rate_name: str) -> Part:
        return Part(what, payer, quantity, rate_name, getattr(prices, rate_name))

    parts: list[Part]
    if path == "resource-endpoint":
        parts = [
            part(f"resource endpoint, {zones} zone(s) x {hours:g} h", "Nekt", zones * hours, "resource_endpoint_hour"),
            part("data processed by the resource endpoint", "Nekt", gigabytes_per_month, "resource_endpoint_gb"),
            part("resource gateway and configuration, per hour", "customer", hours, "resource_gateway_hour"),
            part("data processed by the resource gateway", "customer", gigabytes_per_month, "resource_gateway_gb"),
            part("data crossing zones on the path", "customer", crossing, "resource_path_cross_zone_gb"),
        ]
    elif path == "peering" and cross_region:
        parts = [
            part("peering connection, per hour", "customer", hours, "peering_hour"),
            part("data the database sends to Nekt's Region", "customer", from_database, "inter_region_gb"),
            part("data Nekt sends to the database's Region", "Nekt", to_database, "inter_region_gb"),
        ]
    elif path == "peering":
        parts = [
            part("peering connection, per hour", "customer", hours, "peering_hour"),
            part("data within one zone", "customer", gigabytes_per_month - crossing, "same_zone_gb"),
            part("data crossing zones, the database's side (out and in)", "customer", crossing, "cross_zone_gb"),
            part("data crossing zones, Nekt's side (in and out)", "Nekt", crossing, "cross_zone_gb"),
        ]
    else:  # public: the database's public endpoint, reached from Nekt's NAT gateway address
        transfer = "inter_region_gb" if cross_region else "public_address_gb"
        parts = [
            part("data the database sends to Nekt's public address", "customer", from_database, transfer),
            part("data Nekt sends to the database's public address", "Nekt", to_database, transfer),
            part("data processed by Nekt's NAT gateway", "Nekt", gigabytes_per_month, "nat_gateway_gb"),
        ]
        if not cross_region:  # within a Region each side pays its direction of the public-address transfer
            parts += [
                part("data Nekt's address receives from the database", "Nekt", from_database, transfer),
                part("data the database receives from Nekt", "customer", to_database, transfer),
            ]
    return MonthlyCost(path, cross_region, gigabytes_per_month, zones, hours, parts)
