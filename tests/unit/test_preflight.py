"""preflight.plan on hand-built facts (the shape discover.discover returns): what it refuses,
what it reuses, and that the plan's `changes` list exactly what a run would still do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from nekt_peering.connect.preflight import plan
from nekt_peering.core.errors import CidrOverlap, NetworkAclDenies, PeeringConflict, QuotaExceeded, RouteConflict

DB_ACCOUNT, NEKT_ACCOUNT = "123456789012", "111111111111"
DB_VPC, NEKT_VPC = "vpc-0d8a7a5e0c0ffee01", "vpc-0e6c7a5e0c0ffee02"
DB_CIDR, NEKT_CIDR, NEKT_PUBLIC_CIDR = "10.0.0.0/16", "10.100.0.0/23", "10.100.8.0/24"
DB_TABLES = ("rtb-0db0000000000000a", "rtb-0db0000000000000b", "rtb-0db00000000000ma1")
NEKT_TABLE = "rtb-0ec0000000000priv"
GROUP = "sg-0db00000000000001"
PCX = "pcx-0c0ffee0000000001"
NEKT_PUBLIC_IP = "100.27.146.35"


def route(destination: str, target: str, state: str = "active") -> dict[str, str]:
    return {"destinationCidr": destination, "target": target, "state": state}


def rule(port: int, cidr: str, protocol: str = "tcp", rule_id: str = "sgr-0existing000001") -> dict[str, Any]:
    return {"ruleId": rule_id, "protocol": protocol, "fromPort": port, "toPort": port, "cidr": cidr,
            "description": "", "tags": {}}


def peering(status: str, requester: str = "database", pcx_id: str = PCX, dns_on_database_side: bool = False,
            tags: dict[str, str] | None = None) -> dict[str, Any]:
    """A live peering as discover.peering_facts describes it; `requester` is the side that asked."""
    database_side = {"vpcId": DB_VPC, "ownerId": DB_ACCOUNT, "region": "us-east-2", "cidr": DB_CIDR,
                     "allowDnsResolutionFromRemoteVpc": dns_on_database_side}
    nekt_side = {"vpcId": NEKT_VPC, "ownerId": NEKT_ACCOUNT, "region": "us-east-1", "cidr": NEKT_CIDR,
                 "allowDnsResolutionFromRemoteVpc": False}
    requester_info, accepter_info = (
        (database_side, nekt_side) if requester == "database" else (nekt_side, database_side)
    )
    return {"peeringConnectionId": pcx_id, "status": status, "statusMessage": "", "requester": requester_info,
            "accepter": accepter_info, "tags": tags or {}}


def acl_entry(number: int, egress: bool, action: str, cidr: str, ports: tuple[int, int] | None = None,
              protocol: str = "6") -> dict[str, Any]:
    return {"ruleNumber": number, "egress": egress, "protocol": protocol if ports else "-1", "action": action,
            "cidr": cidr, "fromPort": ports[0] if ports else None, "toPort": ports[1] if ports else None}


# A VPC's default network ACL, as AWS describes it: allow everything, then the final * rule.
DEFAULT_ACL_ENTRIES = [acl_entry(100, egress, "allow", "0.0.0.0/0") for egress in (False, True)] + [
    acl_entry(32767, egress, "deny", "0.0.0.0/0") for egress in (False, True)]
DB_SUBNETS = {"subnet-0db000000000000a1": "10.0.1.0/24", "subnet-0db000000000000b2": "10.0.2.0/24"}
NEKT_SUBNETS = {"subnet-0ec000000000000a1": "10.100.0.0/24", "subnet-0ec000000000000b2": "10.100.1.0/24"}


def acl(acl_id: str, subnets: dict[str, str], entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"networkAclId": acl_id, "subnetIds": sorted(subnets), "entries": entries}


def facts(
    *,
    database_acl_entries: list[dict[str, Any]] = DEFAULT_ACL_ENTRIES,
    nekt_acl_entries: list[dict[str, Any]] = DEFAULT_ACL_ENTRIES,
    mode: str = "peering",
    db_cidrs: tuple[str, ...] = (DB_CIDR,),
    nekt_cidrs: tuple[str, ...] = (NEKT_CIDR, NEKT_PUBLIC_CIDR),
    db_routes: dict[str, list[dict[str, str]]] | None = None,
    nekt_routes: Sequence[dict[str, str]] = (),
    peerings: tuple[dict[str, Any], ...] = (),
    rules: tuple[dict[str, Any], ...] = (),
    port: int = 5432,
    dry_run: bool = False,
    public: bool | None = None,
    quotas: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Discover's facts: a database on three route tables (two explicit, one main) and the Nekt VPC.
    `public`: a publicly accessible database (default: as the mode says)."""
    db_routes = db_routes or {}
    database = {
        "identifier": "orders-db", "kind": "instance", "engine": "postgres", "status": "available",
        "endpoint": "orders-db.abc123.us-east-2.rds.amazonaws.com", "port": port,
        "publiclyAccessible": mode == "public" if public is None else public,
        "vpcId": DB_VPC, "securityGroupIds": [GROUP], "securityGroupId": GROUP,
        "accountId": DB_ACCOUNT, "region": "us-east-2", "cidrs": list(db_cidrs),
        "routeTables": [
            {"routeTableId": table, "routes": [route(cidr, "local") for cidr in db_cidrs] + db_routes.get(table, [])}
            for table in DB_TABLES
        ],
        "securityGroupRules": list(rules),
        "subnetIds": sorted(DB_SUBNETS), "subnetCidrs": sorted(DB_SUBNETS.values()),
        "networkAcls": [acl("acl-0db0000000000000a", DB_SUBNETS, database_acl_entries)],
    }
    nekt = {
        "accountId": NEKT_ACCOUNT, "region": "us-east-1", "vpcId": NEKT_VPC, "cidrs": list(nekt_cidrs),
        "cidr": NEKT_CIDR,
        "routeTable": {"routeTableId": NEKT_TABLE,
                       "routes": [route(cidr, "local") for cidr in nekt_cidrs] + list(nekt_routes)},
        "privateSubnetIds": sorted(NEKT_SUBNETS), "privateSubnetCidrs": sorted(NEKT_SUBNETS.values()),
        "networkAcls": [acl("acl-0ec0000000000000a", NEKT_SUBNETS, nekt_acl_entries)],
    }
    return {
        "request": {"identifier": "orders-db", "region": "us-east-2", "mode": "auto", "connectionId": "orders",
                    "dryRun": dry_run},
        "settings": {"stackAccountId": DB_ACCOUNT, "stackRegion": "us-east-1", "nektAccountId": NEKT_ACCOUNT,
                     "nektRegion": "us-east-1", "nektVpcId": NEKT_VPC, "nektRouteTableId": "",
                     "nektAccepterRoleArn": "", "nektExternalId": "", "nektPublicIp": NEKT_PUBLIC_IP,
                     "pollIntervalSeconds": 0, "maxPolls": 5},
        "mode": mode,
        "database": database,
        "nekt": None if mode == "public" else nekt,
        "peerings": [] if mode == "public" else list(peerings),
        "quotas": {"limits": {}, **({} if mode == "public" else {
            "databaseVpcActivePeerings": 1, "outstandingRequests": 0, "nektVpcActivePeerings": 12}), **(quotas or {})},
    }


def actions(planned: dict[str, Any]) -> list[str]:
    return [change["action"] for change in planned["changes"]]


# --- a first connection ------------------------------------------------------------------------


def test_first_connection_plans_every_step_of_the_guide_in_order() -> None:
    planned = plan(facts())

    assert planned["status"] == "PLANNED" and planned["mode"] == "peering"
    assert planned["peering"] is None
    assert actions(planned) == [
        "CreateVpcPeeringConnection", "AcceptVpcPeeringConnection",
        "CreateRoute", "CreateRoute", "CreateRoute", "CreateRoute",
        "AuthorizeSecurityGroupIngress",
    ]
    assert planned["dnsResolution"]["needed"] is False, "a private endpoint already resolves to its private address"
    create = planned["changes"][0]["summary"]
    assert DB_VPC in create and NEKT_VPC in create and DB_ACCOUNT in create and NEKT_ACCOUNT in create


def test_a_public_database_reached_through_the_peering_also_plans_the_dns_option() -> None:
    planned = plan(facts(public=True))

    assert actions(planned)[-1] == "ModifyVpcPeeringConnectionOptions"
    assert planned["dnsResolution"]["needed"] is True and "publicly accessible" in planned["dnsResolution"]["reason"]


def test_nekt_table_routes_every_database_cidr_and_every_database_table_routes_only_the_nekt_slash23() -> None:
    planned = plan(facts(db_cidrs=(DB_CIDR, "10.1.0.0/16")))

    assert [(r["routeTableId"], r["destinationCidr"], r["side"], r["exists"]) for r in planned["routes"]] == [
        (NEKT_TABLE, DB_CIDR, "nekt", False),
        (NEKT_TABLE, "10.1.0.0/16", "nekt", False),
        *[(table, NEKT_CIDR, "database", False) for table in DB_TABLES],
    ]
    assert NEKT_PUBLIC_CIDR not in {r["destinationCidr"] for r in planned["routes"]}


def test_ingress_allows_the_nekt_slash23_on_the_database_port() -> None:
    planned = plan(facts(port=3306))

    assert planned["ingress"] == {"groupId": GROUP, "port": 3306, "cidr": NEKT_CIDR, "exists": False,
                                  "ruleId": None}
    assert any("TCP 3306" in c["summary"] and NEKT_CIDR in c["summary"] for c in planned["changes"])


def test_plan_carries_connection_id_dry_run_and_the_database_summary() -> None:
    planned = plan(facts(dry_run=True))

    assert planned["connectionId"] == "orders" and planned["dryRun"] is True
    assert planned["database"] == {
        "identifier": "orders-db", "kind": "instance", "engine": "postgres",
        "endpoint": "orders-db.abc123.us-east-2.rds.amazonaws.com", "port": 5432, "accountId": DB_ACCOUNT,
        "region": "us-east-2", "vpcId": DB_VPC,
    }


# --- CIDR overlap ------------------------------------------------------------------------------


@pytest.mark.parametrize(("db_cidrs", "database_cidr", "nekt_cidr"), [
    pytest.param(("10.100.0.0/16",), "10.100.0.0/16", NEKT_CIDR, id="primary-contains-nekt-slash23"),
    pytest.param(("10.100.1.0/24",), "10.100.1.0/24", NEKT_CIDR, id="primary-inside-nekt-slash23"),
    pytest.param(("10.100.8.0/22",), "10.100.8.0/22", NEKT_PUBLIC_CIDR, id="primary-overlaps-nekt-secondary"),
    pytest.param((DB_CIDR, "10.100.0.0/24"), "10.100.0.0/24", NEKT_CIDR, id="secondary-overlaps-nekt-slash23"),
])
def test_overlapping_cidrs_are_refused_naming_both(db_cidrs: tuple[str, ...], database_cidr: str,
                                                    nekt_cidr: str) -> None:
    with pytest.raises(CidrOverlap) as raised:
        plan(facts(db_cidrs=db_cidrs))

    assert f"{database_cidr} overlaps {nekt_cidr}" in str(raised.value)


def test_adjacent_cidrs_do_not_overlap() -> None:
    planned = plan(facts(db_cidrs=("10.100.2.0/23", "10.100.9.0/24")))

    assert {r["destinationCidr"] for r in planned["routes"] if r["side"] == "nekt"} == {"10.100.2.0/23",
                                                                                         "10.100.9.0/24"}


# --- routes already there ----------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "table", "destination", "target"), [
    pytest.param({"db_routes": {DB_TABLES[0]: [route(NEKT_CIDR, "tgw-0legacy000000001")]}},
                 DB_TABLES[0], NEKT_CIDR, "tgw-0legacy000000001", id="database-table-to-transit-gateway"),
    pytest.param({"db_routes": {DB_TABLES[2]: [route(NEKT_CIDR, "pcx-0old000000000001", "blackhole")]}},
                 DB_TABLES[2], NEKT_CIDR, "pcx-0old000000000001", id="database-main-table-blackhole-old-peering"),
    pytest.param({"nekt_routes": [route(DB_CIDR, "pcx-0othercustomer001")]},
                 NEKT_TABLE, DB_CIDR, "pcx-0othercustomer001", id="nekt-table-to-another-customer"),
    pytest.param({"nekt_routes": [route(DB_CIDR, "pcx-0old000000000001", "blackhole")]},
                 NEKT_TABLE, DB_CIDR, "pcx-0old000000000001", id="nekt-table-blackhole-old-peering"),
])
def test_route_to_the_destination_through_another_target_is_a_conflict(
    changes: dict[str, Any], table: str, destination: str, target: str
) -> None:
    with pytest.raises(RouteConflict) as raised:
        plan(facts(**changes))

    message = str(raised.value)
    assert table in message and destination in message and target in message


def test_route_to_another_peering_is_a_conflict_even_when_an_active_peering_is_reused() -> None:
    stale = {DB_TABLES[1]: [route(NEKT_CIDR, "pcx-0old000000000001")]}

    with pytest.raises(RouteConflict, match="pcx-0old000000000001"):
        plan(facts(peerings=(peering("active"),), db_routes=stale))


def test_wider_route_to_elsewhere_is_not_a_conflict() -> None:
    """A /8 via a transit gateway does not carry the /23 once the more specific peering route exists."""
    planned = plan(facts(db_routes={DB_TABLES[0]: [route("10.0.0.0/8", "tgw-0legacy000000001")]}))

    assert [r["exists"] for r in planned["routes"]] == [False] * 4


# --- reuse of a live peering -------------------------------------------------------------------


def test_active_peering_requested_by_the_database_is_reused() -> None:
    planned = plan(facts(peerings=(peering("active", tags={"nekt:connection-id": "orders"}),)))

    assert planned["peering"] == {"peeringConnectionId": PCX, "status": "active", "databaseSide": "requester",
                                  "dnsResolution": False, "connectionTag": "orders"}
    assert "CreateVpcPeeringConnection" not in actions(planned)
    assert "AcceptVpcPeeringConnection" not in actions(planned)
    assert actions(planned).count("CreateRoute") == 4


def test_active_peering_requested_by_nekt_is_reused_with_the_database_as_accepter() -> None:
    planned = plan(facts(peerings=(peering("active", requester="nekt", dns_on_database_side=True),)))

    assert planned["peering"]["databaseSide"] == "accepter"
    assert planned["peering"]["dnsResolution"] is True, "read from the database's (accepter) side"
    assert planned["peering"]["connectionTag"] is None
    assert actions(planned) == ["CreateRoute"] * 4 + ["AuthorizeSecurityGroupIngress"]


def test_pending_request_from_the_database_is_reused_and_only_needs_acceptance() -> None:
    planned = plan(facts(peerings=(peering("pending-acceptance"),)))

    assert planned["peering"]["peeringConnectionId"] == PCX
    assert planned["peering"]["status"] == "pending-acceptance"
    assert actions(planned)[:2] == ["AcceptVpcPeeringConnection", "CreateRoute"]
    assert "CreateVpcPeeringConnection" not in actions(planned)


@pytest.mark.parametrize("status", ["pending-acceptance", "initiating-request"])
def test_request_from_nekt_to_the_database_is_a_conflict(status: str) -> None:
    with pytest.raises(PeeringConflict) as raised:
        plan(facts(peerings=(peering(status, requester="nekt"),)))

    message = str(raised.value)
    assert PCX in message and status in message and DB_ACCOUNT in message


# --- what is already in place is not changed again ---------------------------------------------


def test_existing_identical_routes_and_rule_are_marked_and_left_out_of_changes() -> None:
    already = facts(
        peerings=(peering("active"),),
        db_routes={table: [route(NEKT_CIDR, PCX)] for table in DB_TABLES[:2]},
        nekt_routes=[route(DB_CIDR, PCX)],
        rules=(rule(5432, NEKT_CIDR, rule_id="sgr-0nekt00000000001"),),
    )

    planned = plan(already)
    public = plan({**already, "database": {**already["database"], "publiclyAccessible": True}})

    assert {r["routeTableId"]: r["exists"] for r in planned["routes"]} == {
        NEKT_TABLE: True, DB_TABLES[0]: True, DB_TABLES[1]: True, DB_TABLES[2]: False,
    }
    assert planned["ingress"]["exists"] is True and planned["ingress"]["ruleId"] == "sgr-0nekt00000000001"
    assert planned["changes"] == [
        {"action": "CreateRoute", "summary": f"route {NEKT_CIDR} via the peering in {DB_TABLES[2]} (database)"},
    ]
    assert public["changes"][1:] == [
        {"action": "ModifyVpcPeeringConnectionOptions",
         "summary": "let the Nekt VPC resolve orders-db.abc123.us-east-2.rds.amazonaws.com to its private address"},
    ]


def test_complete_connection_plans_no_changes() -> None:
    complete = facts(
        peerings=(peering("active", dns_on_database_side=True),),
        db_routes={table: [route(NEKT_CIDR, PCX)] for table in DB_TABLES},
        nekt_routes=[route(DB_CIDR, PCX)],
        rules=(rule(5432, NEKT_CIDR),),
    )

    assert plan(complete)["changes"] == []


@pytest.mark.parametrize("other", [
    pytest.param(rule(3306, NEKT_CIDR), id="other-port"),
    pytest.param(rule(5432, NEKT_CIDR, protocol="udp"), id="udp"),
    pytest.param(rule(5432, "10.100.0.0/24"), id="narrower-cidr"),
    pytest.param(rule(5432, f"{NEKT_PUBLIC_IP}/32"), id="public-ip-rule-in-peering-mode"),
])
def test_rule_that_is_not_the_planned_one_does_not_count_as_existing(other: dict[str, Any]) -> None:
    planned = plan(facts(rules=(other,)))

    assert planned["ingress"]["exists"] is False
    assert "AuthorizeSecurityGroupIngress" in actions(planned)


# --- public mode -------------------------------------------------------------------------------


def test_public_mode_only_allows_the_nekt_public_ip() -> None:
    planned = plan(facts(mode="public", port=3306))

    assert planned["mode"] == "public"
    assert planned["peering"] is None and planned["routes"] == []
    assert planned["ingress"] == {"groupId": GROUP, "port": 3306, "cidr": f"{NEKT_PUBLIC_IP}/32", "exists": False,
                                  "ruleId": None}
    assert planned["changes"] == [{"action": "AuthorizeSecurityGroupIngress",
                                   "summary": f"allow TCP 3306 from {NEKT_PUBLIC_IP}/32 on {GROUP}"}]


def test_public_mode_with_the_rule_in_place_plans_no_changes() -> None:
    planned = plan(facts(mode="public", rules=(rule(5432, f"{NEKT_PUBLIC_IP}/32"),)))

    assert planned["ingress"]["exists"] is True
    assert planned["changes"] == []


def test_public_mode_ignores_routes_and_cidrs_that_would_conflict_for_peering() -> None:
    overlapping = facts(mode="public", db_cidrs=("10.100.0.0/16",),
                        db_routes={DB_TABLES[0]: [route(NEKT_CIDR, "tgw-0legacy000000001")]})

    assert actions(plan(overlapping)) == ["AuthorizeSecurityGroupIngress"]


# --- routes that would take part of the traffic, and routes already ours --------------------------------


def test_blackhole_route_to_the_reused_pending_peering_is_not_a_conflict() -> None:
    pending = facts(peerings=(peering("pending-acceptance"),),
                    db_routes={DB_TABLES[0]: [route(NEKT_CIDR, PCX, "blackhole")]})

    planned = plan(pending)

    assert [r["exists"] for r in planned["routes"] if r["routeTableId"] == DB_TABLES[0]] == [True]


@pytest.mark.parametrize("changes", [
    pytest.param({"db_routes": {DB_TABLES[0]: [route("10.100.0.0/24", "tgw-0legacy000000001")]}},
                 id="database-table-more-specific-to-transit-gateway"),
    pytest.param({"nekt_routes": [route("10.0.1.0/24", "pcx-0othercustomer001")]},
                 id="nekt-table-more-specific-to-another-peering"),
])
def test_more_specific_route_through_another_target_is_a_conflict(changes: dict[str, Any]) -> None:
    with pytest.raises(RouteConflict):
        plan(facts(**changes))


# --- quotas: what AWS would refuse half way through, refused before any change -------------------------


@pytest.mark.parametrize(("quotas", "where", "code"), [
    ({"nektVpcActivePeerings": 50}, NEKT_VPC, "L-7E9ECCDB"),
    ({"databaseVpcActivePeerings": 50}, DB_VPC, "L-7E9ECCDB"),
    ({"outstandingRequests": 25}, DB_ACCOUNT, "L-DC9F7029"),
])
def test_a_peering_past_its_quota_is_refused_naming_the_quota_and_how_to_raise_it(
    quotas: dict[str, int], where: str, code: str
) -> None:
    with pytest.raises(QuotaExceeded) as raised:
        plan(facts(quotas=quotas))

    message = str(raised.value)
    assert where in message and code in message and "Service Quotas" in message and "Nothing was changed" in message


def test_a_raised_quota_read_by_discover_is_honoured() -> None:
    hub = facts(quotas={"nektVpcActivePeerings": 50, "limits": {"nekt": {"L-7E9ECCDB": 125}}})

    assert plan(hub)["changes"][0]["action"] == "CreateVpcPeeringConnection"
    with pytest.raises(QuotaExceeded, match="is 125 there"):
        plan(facts(quotas={"nektVpcActivePeerings": 125, "limits": {"nekt": {"L-7E9ECCDB": 125}}}))


def test_an_active_peering_reused_counts_against_no_peering_quota() -> None:
    planned = plan(facts(peerings=(peering("active"),), quotas={"nektVpcActivePeerings": 50,
                                                                "outstandingRequests": 25}))

    assert "CreateVpcPeeringConnection" not in actions(planned)


def test_routes_and_rules_past_their_quota_are_refused() -> None:
    full_table = [route(f"172.16.{n}.0/24", "tgw-0legacy000000001") for n in range(49)]
    full_group = tuple(rule(5432, f"172.16.{n}.0/24", rule_id=f"sgr-0{n:016x}") for n in range(60))

    with pytest.raises(QuotaExceeded, match=f"route table {NEKT_TABLE} .*49 routes.*needs 2 more.*L-93826ACB"):
        plan(facts(db_cidrs=(DB_CIDR, "10.1.0.0/16"), nekt_routes=full_table))
    assert plan(facts(nekt_routes=full_table))["routes"][0]["exists"] is False, "49 + 1 fits"
    with pytest.raises(QuotaExceeded, match=f"security group {GROUP} .*60 inbound rules.*L-0EA8095F"):
        plan(facts(rules=full_group))
    with pytest.raises(QuotaExceeded, match="L-0EA8095F"):
        plan(facts(mode="public", rules=full_group))


# --- network ACLs on the path (evaluated in rule order, both directions, both sides) ----------------


def test_default_network_acls_allow_the_path() -> None:
    assert plan(facts())["status"] == "PLANNED"


def test_a_lower_numbered_inbound_deny_on_the_database_side_is_named_with_the_rule_to_add() -> None:
    entries = [acl_entry(50, False, "deny", "10.100.0.0/16", (5432, 5432)), *DEFAULT_ACL_ENTRIES]

    with pytest.raises(NetworkAclDenies) as refused:
        plan(facts(database_acl_entries=entries))

    message = str(refused.value)
    assert "network ACL acl-0db0000000000000a (database side" in message
    assert "denies inbound TCP 5432 from 10.100.0.0/24, 10.100.1.0/24" in message
    assert "rule 50 (deny TCP 5432 from 10.100.0.0/16)" in message
    assert "Add an inbound allow rule numbered below 50 for TCP 5432 from 10.100.0.0/24" in message
    assert "Nothing was changed" in message


def test_a_deny_after_the_allow_does_not_matter_rules_are_evaluated_in_order() -> None:
    entries = [acl_entry(200, False, "deny", "0.0.0.0/0", (5432, 5432)), *DEFAULT_ACL_ENTRIES]

    assert plan(facts(database_acl_entries=entries))["status"] == "PLANNED"


def test_replies_to_ephemeral_ports_not_allowed_out_of_the_database_subnets() -> None:
    """A custom ACL that lets the database's port in but only 32768-65535 out: Lambda's 1024-32767 are lost."""
    entries = [acl_entry(100, False, "allow", "10.100.0.0/23", (5432, 5432)),
               acl_entry(100, True, "allow", "10.100.0.0/23", (32768, 65535))]

    with pytest.raises(NetworkAclDenies) as refused:
        plan(facts(database_acl_entries=entries))

    message = str(refused.value)
    assert "denies outbound TCP 1024-65535 to 10.100.0.0/24, 10.100.1.0/24 (the database's replies)" in message
    assert "no rule allows TCP 1024-32767 to 10.100.0.0/24" in message and "final * rule" in message


def test_nekt_side_is_evaluated_too_outbound_to_the_database_and_replies_inbound() -> None:
    entries = [acl_entry(100, True, "allow", "0.0.0.0/0"), acl_entry(90, False, "deny", "10.0.0.0/16")]

    with pytest.raises(NetworkAclDenies) as refused:
        plan(facts(nekt_acl_entries=entries))

    message = str(refused.value)
    assert "network ACL acl-0ec0000000000000a (nekt side" in message
    assert "denies inbound TCP 1024-65535 from 10.0.1.0/24, 10.0.2.0/24 (the database's replies)" in message
    assert "rule 90 (deny all traffic from 10.0.0.0/16)" in message


def test_an_allow_for_part_of_the_nekt_subnets_leaves_the_rest_to_the_final_deny() -> None:
    entries = [acl_entry(100, False, "allow", "10.100.0.0/24", (5432, 5432)),
               acl_entry(100, True, "allow", "0.0.0.0/0")]

    with pytest.raises(NetworkAclDenies, match=r"no rule allows TCP 5432 from 10.100.1.0/24"):
        plan(facts(database_acl_entries=entries))


def test_other_protocols_and_ports_do_not_match() -> None:
    entries = [acl_entry(10, False, "deny", "0.0.0.0/0", (5433, 6000)),
               acl_entry(20, False, "deny", "0.0.0.0/0", (5432, 5432), protocol="17"),
               *DEFAULT_ACL_ENTRIES]

    assert plan(facts(database_acl_entries=entries))["status"] == "PLANNED"


def test_public_path_checks_the_database_side_against_the_nekt_public_ip_only() -> None:
    entries = [acl_entry(100, False, "allow", "10.0.0.0/8"), acl_entry(100, True, "allow", "0.0.0.0/0")]
    nekt_denies_all: list[dict[str, Any]] = []

    with pytest.raises(NetworkAclDenies, match=f"inbound TCP 5432 from {NEKT_PUBLIC_IP}/32"):
        plan(facts(mode="public", database_acl_entries=entries, nekt_acl_entries=nekt_denies_all))


# --- auto: what makes peering impossible, and what does not ------------------------------------------------


@pytest.mark.parametrize(("changed", "refusal"), [
    ({"db_cidrs": (NEKT_CIDR,)}, "CidrOverlap"),
    ({"nekt_routes": [route(DB_CIDR, "pcx-0another000customer")]}, "RouteConflict"),
    ({"quotas": {"nektVpcActivePeerings": 50}}, "QuotaExceeded"),
], ids=["overlap", "another-customer-s-route", "peering-quota"])
def test_auto_weighs_what_makes_peering_impossible(changed: dict[str, Any], refusal: str) -> None:
    from nekt_peering.connect.path_choice import peering_refusal

    assert peering_refusal(facts()) is None
    found = peering_refusal(facts(**changed))
    assert found is not None and type(found).__name__ == refusal


def test_a_peering_in_a_state_to_settle_by_hand_is_not_a_reason_for_another_path() -> None:
    from nekt_peering.connect.path_choice import peering_refusal

    pending_from_nekt = peering("pending-acceptance", requester="nekt")
    with pytest.raises(PeeringConflict):  # a person must act on it: auto does not route around it
        peering_refusal(facts(peerings=(pending_from_nekt,)))
