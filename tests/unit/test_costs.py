"""The monthly cost of a connection by each path (emulator/costs.py) is the price table's arithmetic.

Each test prices with a table whose every rate is a distinct power of two, so a part counted twice, left out,
or priced with another line's rate changes the sum in a way no other mistake can undo."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from emulator.costs import HOURS_PER_MONTH, HOURS_PER_MONTH_SOURCE, PATHS, PRICES, Prices, monthly_cost

DOCS = Path(__file__).resolve().parents[2] / "docs" / "aws-fidelity.md"


def distinct_prices() -> Prices:
    return Prices(**{name: dataclasses.replace(rate, usd=2.0 ** -index)
                     for index, (name, rate) in enumerate(PRICES.rates().items())})


P = distinct_prices()
R = {name: rate.usd for name, rate in P.rates().items()}


def test_the_resource_endpoint_bills_nekt_per_zone_hour_and_gb_and_the_customer_per_gb() -> None:
    gigabytes, zones, hours = 100.0, 3, 700.0
    cost = monthly_cost("resource-endpoint", gigabytes, zones, hours_per_month=hours, prices=P)
    crossing = gigabytes * (zones - 1) / zones
    assert cost.paid_by("Nekt") == pytest.approx(
        zones * hours * R["resource_endpoint_hour"] + gigabytes * R["resource_endpoint_gb"])
    assert cost.paid_by("customer") == pytest.approx(
        hours * R["resource_gateway_hour"] + gigabytes * R["resource_gateway_gb"]
        + crossing * R["resource_path_cross_zone_gb"])
    assert cost.total == pytest.approx(cost.paid_by("Nekt") + cost.paid_by("customer"))


def test_the_resource_endpoint_path_is_same_region_only() -> None:
    with pytest.raises(ValueError, match="same-Region"):
        monthly_cost("resource-endpoint", 100, 2, cross_region=True)


@pytest.mark.parametrize("zones", [1, 2, 3])
def test_peering_in_one_region_costs_only_the_traffic_crossing_zones_on_both_sides(zones: int) -> None:
    gigabytes = 120.0
    cost = monthly_cost("peering", gigabytes, zones, prices=P)
    crossing = gigabytes * (zones - 1) / zones
    each_side = crossing * R["cross_zone_gb"]
    assert cost.paid_by("Nekt") == pytest.approx(each_side)
    assert cost.paid_by("customer") == pytest.approx(
        HOURS_PER_MONTH * R["peering_hour"] + (gigabytes - crossing) * R["same_zone_gb"] + each_side)


def test_peering_across_regions_bills_each_sender_for_what_it_sends() -> None:
    gigabytes, sends = 200.0, 0.75
    cost = monthly_cost("peering", gigabytes, 2, cross_region=True, database_sends=sends, prices=P)
    assert cost.paid_by("customer") == pytest.approx(
        HOURS_PER_MONTH * R["peering_hour"] + gigabytes * sends * R["inter_region_gb"])
    assert cost.paid_by("Nekt") == pytest.approx(gigabytes * (1 - sends) * R["inter_region_gb"])


@pytest.mark.parametrize("cross_region", [False, True])
def test_the_public_path_bills_the_address_transfer_and_nekt_s_nat_gateway(cross_region: bool) -> None:
    gigabytes, sends = 80.0, 0.9
    cost = monthly_cost("public", gigabytes, 2, cross_region=cross_region, database_sends=sends, prices=P)
    from_database, to_database = gigabytes * sends, gigabytes * (1 - sends)
    if cross_region:  # the sender pays the inter-Region rate
        customer = from_database * R["inter_region_gb"]
        nekt = to_database * R["inter_region_gb"]
    else:  # within the Region, each side pays both directions of its own address's traffic
        customer = gigabytes * R["public_address_gb"]
        nekt = gigabytes * R["public_address_gb"]
    assert cost.paid_by("customer") == pytest.approx(customer)
    assert cost.paid_by("Nekt") == pytest.approx(nekt + gigabytes * R["nat_gateway_gb"])


@pytest.mark.parametrize("path", PATHS)
def test_no_traffic_leaves_only_the_hourly_parts(path: str) -> None:
    cost = monthly_cost(path, 0, 2, prices=P)  # type: ignore[arg-type]
    assert all(part.quantity == 0 for part in cost.parts if part.rate.per == "GB")
    assert cost.total == pytest.approx(sum(part.quantity * part.rate.usd for part in cost.parts
                                           if part.rate.per == "hour"))


def test_the_parts_priced_with_an_assumption_are_named() -> None:
    cost = monthly_cost("resource-endpoint", 100, 2)
    assumed = {part.rate_name for part in cost.parts if not part.rate.found}
    assert cost.assumed == sorted(assumed)
    assert "resource_endpoint_hour" in cost.assumed and "resource_endpoint_gb" not in cost.assumed


@pytest.mark.parametrize(("arguments", "message"), [
    ({"path": "transit-gateway"}, "unknown path"),
    ({"zones": 0}, "zones"),
    ({"gigabytes_per_month": -1}, "gigabytes_per_month"),
    ({"database_sends": 1.5}, "database_sends"),
])
def test_bad_traffic_assumptions_are_refused(arguments: dict[str, object], message: str) -> None:
    call: dict[str, object] = {"path": "peering", "gigabytes_per_month": 100, "zones": 2} | arguments
    with pytest.raises(ValueError, match=message):
        monthly_cost(**call)  # type: ignore[arg-type]


def test_every_rate_has_an_aws_source_and_an_assumption_says_what_it_assumes() -> None:
    for name, rate in PRICES.rates().items():
        assert rate.source.startswith(("https://aws.amazon.com/", "https://docs.aws.amazon.com/")), name
        assert rate.found or "assumed" in rate.note, name


def test_docs_list_every_rate_with_its_value_and_source() -> None:
    docs = DOCS.read_text()
    section = docs[docs.index("### Quotas and costs"):docs.index("## Not emulated")]
    for name, rate in PRICES.rates().items():
        row = next((line for line in section.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, f"docs/aws-fidelity.md has no row for {name}"
        assert f"${rate.usd:g}" in row and rate.source in row, row
        assert ("assumed" in row) is not rate.found, row
    assert HOURS_PER_MONTH_SOURCE in section and str(HOURS_PER_MONTH) in section
