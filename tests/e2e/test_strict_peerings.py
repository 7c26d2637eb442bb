"""The peering's lifecycle as AWS leads it (emulator/strict/peerings.py), and what the workflow does
about it. Each rule's test shows plain moto's answer (the rule relaxed) next to AWS's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.accounts import establish_peering, snapshot, wait_for_peering
from emulator.stack import DEFAULT_ACCOUNT
from emulator.strict import StrictAws
from emulator.strict.peerings import PeeringBook, Timing
from emulator.topology import NektNetwork, account_session, create_database

NEKT_ACCOUNT = "111111111111"


def ec2(account_id: str = DEFAULT_ACCOUNT, region: str = "us-east-1") -> Any:
    return account_session(account_id, region).client("ec2")


@dataclass
class Pair:
    requester: Any
    accepter: Any
    request: dict[str, str]

    def create(self) -> str:
        return str(self.requester.create_vpc_peering_connection(**self.request)["VpcPeeringConnection"][
            "VpcPeeringConnectionId"])


def pair(accepter_region: str = "us-east-1", accepter_cidr: str = "10.100.0.0/16") -> Pair:
    """A VPC of the default account in us-east-1 and one of the Nekt account, for a peering."""
    requester, accepter = ec2(), ec2(NEKT_ACCOUNT, accepter_region)
    vpc = requester.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    peer = accepter.create_vpc(CidrBlock=accepter_cidr)["Vpc"]["VpcId"]
    return Pair(requester, accepter, {"VpcId": vpc, "PeerVpcId": peer, "PeerOwnerId": NEKT_ACCOUNT,
                                      "PeerRegion": accepter_region})


def status(client: Any, peering_id: str) -> str:
    return str(client.describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])[
        "VpcPeeringConnections"][0]["Status"]["Code"])


def error_code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return str(raised.value.response["Error"]["Code"])


def book(strict: StrictAws) -> PeeringBook:
    return strict.rule("peering-clock").book  # type: ignore[attr-defined, no-any-return]


# --- the rules ----------------------------------------------------------------------------------


def test_a_peering_is_initiating_then_pending_then_provisioning_then_active(strict: StrictAws) -> None:
    peers = pair()
    peering_id = peers.create()

    with pytest.raises(ClientError):  # the first describe: not visible yet (its own rule, below)
        status(peers.requester, peering_id)
    assert status(peers.requester, peering_id) == "initiating-request"
    assert status(peers.requester, peering_id) == "pending-acceptance"
    accepted = peers.accepter.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert accepted["VpcPeeringConnection"]["Status"]["Code"] == "provisioning"
    assert status(peers.requester, peering_id) == "provisioning"
    assert status(peers.accepter, peering_id) == "active"

    with strict.relax("peering-lifecycle", "peering-visibility"):  # moto: pending at once, active on accept
        again = pair()
        other = again.create()
        assert status(again.requester, other) == "pending-acceptance"
        again.accepter.accept_vpc_peering_connection(VpcPeeringConnectionId=other)
        assert status(again.requester, other) == "active"


def test_a_slower_lifecycle_takes_more_describes(strict: StrictAws) -> None:
    book(strict).timing = Timing(initiating=5, provisioning=3)
    peers = pair()

    peering_id = establish_peering(peers.requester, peers.accepter, **peers.request)

    assert book(strict).peerings[peering_id].ticks >= 5 + 3


def test_a_request_between_overlapping_cidrs_fails(strict: StrictAws) -> None:
    peers = pair(accepter_cidr="10.0.128.0/17")
    peering_id = peers.create()

    assert wait_for_peering(peers.requester, peering_id, "failed", "pending-acceptance") == "failed"
    described = peers.requester.describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])
    assert "overlapping CIDR range" in described["VpcPeeringConnections"][0]["Status"]["Message"]
    with pytest.raises(ClientError) as refused:
        peers.requester.delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert error_code(refused) == "InvalidStateTransition"

    with strict.relax("peering-lifecycle", "peering-visibility"):
        moto = pair(accepter_cidr="10.0.128.0/17")
        assert status(moto.requester, moto.create()) == "pending-acceptance"


def test_one_live_peering_per_vpc_pair(strict: StrictAws) -> None:
    peers = pair()
    first = peers.create()

    with pytest.raises(ClientError) as refused:
        peers.create()
    assert error_code(refused) == "VpcPeeringConnectionAlreadyExists" and first in str(refused.value)

    with strict.relax("one-peering-per-vpc-pair"):
        assert peers.create() != first


def test_only_the_accepter_accepts_a_pending_request_in_its_region(strict: StrictAws) -> None:
    peers = pair()
    peering_id = peers.create()
    wait_for_peering(peers.requester, peering_id, "initiating-request")

    with pytest.raises(ClientError) as too_early:
        peers.accepter.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert error_code(too_early) == "InvalidStateTransition"
    wait_for_peering(peers.accepter, peering_id, "pending-acceptance")
    with pytest.raises(ClientError) as requester:
        peers.requester.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert error_code(requester) == "OperationNotPermitted"
    peers.accepter.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    with pytest.raises(ClientError) as twice:
        peers.accepter.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert error_code(twice) == "InvalidStateTransition"

    across = pair(accepter_region="us-west-2")
    inter_region = across.create()
    wait_for_peering(across.accepter, inter_region, "pending-acceptance")
    with pytest.raises(ClientError) as wrong_region:
        ec2(NEKT_ACCOUNT, "us-east-1").accept_vpc_peering_connection(VpcPeeringConnectionId=inter_region)
    assert error_code(wrong_region) == "OperationNotPermitted"

    with strict.relax("peering-acceptance", "peering-lifecycle", "peering-visibility"):
        moto = pair()  # moto's stored status is pending-acceptance from the start
        moto.accepter.accept_vpc_peering_connection(VpcPeeringConnectionId=moto.create())


def test_a_peering_is_deleted_only_when_active_or_pending_by_its_requester(strict: StrictAws) -> None:
    peers = pair()
    peering_id = peers.create()
    wait_for_peering(peers.requester, peering_id, "initiating-request")

    with pytest.raises(ClientError) as initiating:
        peers.requester.delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert error_code(initiating) == "InvalidStateTransition"
    wait_for_peering(peers.requester, peering_id, "pending-acceptance")
    with pytest.raises(ClientError) as by_the_accepter:
        peers.accepter.delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert error_code(by_the_accepter) == "OperationNotPermitted"
    peers.requester.delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert status(peers.requester, peering_id) == "deleted"
    with pytest.raises(ClientError) as deleted:
        peers.requester.delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert error_code(deleted) == "InvalidStateTransition"

    active = establish_peering(peers.requester, peers.accepter, **peers.request)
    peers.accepter.delete_vpc_peering_connection(VpcPeeringConnectionId=active)  # either owner, once active

    with strict.relax("peering-deletion", "peering-visibility"):
        moto = pair()
        moto.requester.delete_vpc_peering_connection(VpcPeeringConnectionId=moto.create())


def test_an_inter_region_peering_is_deleting_before_deleted(strict: StrictAws) -> None:
    peers = pair(accepter_region="us-west-2")
    peering_id = establish_peering(peers.requester, peers.accepter, **peers.request)

    peers.requester.delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)

    assert status(peers.requester, peering_id) == "deleting"
    assert wait_for_peering(peers.requester, peering_id, "deleted") == "deleted"


def test_a_request_nobody_accepts_expires_after_seven_days(strict: StrictAws) -> None:
    peers = pair()
    peering_id = peers.create()
    wait_for_peering(peers.requester, peering_id, "pending-acceptance")

    book(strict).age(peering_id, timedelta(days=7))

    assert status(peers.requester, peering_id) == "expired"
    with pytest.raises(ClientError) as refused:
        peers.accepter.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert error_code(refused) == "InvalidStateTransition"
    with strict.relax("peering-lifecycle"):
        moto = pair()
        moto_id = moto.create()
        wait_for_peering(moto.requester, moto_id, "pending-acceptance")
        book(strict).age(moto_id, timedelta(days=8))
        assert status(moto.requester, moto_id) == "pending-acceptance"


def test_a_route_to_a_peering_that_is_not_active_is_a_blackhole(strict: StrictAws) -> None:
    peers = pair()
    vpc = peers.request["VpcId"]
    table = peers.requester.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    peering_id = peers.create()
    wait_for_peering(peers.requester, peering_id, "pending-acceptance")

    def route_state() -> str:
        routes = peers.requester.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
        return str(next(route for route in routes if route.get("VpcPeeringConnectionId") == peering_id)["State"])

    peers.requester.create_route(RouteTableId=table, DestinationCidrBlock="10.100.0.0/16",
                                 VpcPeeringConnectionId=peering_id)
    assert route_state() == "blackhole"
    with strict.relax("blackhole-routes"):
        assert route_state() == "active"
    peers.accepter.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    wait_for_peering(peers.requester, peering_id, "active")
    assert route_state() == "active"
    peers.accepter.delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
    assert route_state() == "blackhole"  # the route stays, carrying nothing


def test_no_route_is_made_or_replaced_to_a_gone_peering(strict: StrictAws) -> None:
    peers = pair()
    table = peers.requester.create_route_table(VpcId=peers.request["VpcId"])["RouteTable"]["RouteTableId"]
    peering_id = peers.create()
    wait_for_peering(peers.requester, peering_id, "pending-acceptance")
    route = {"RouteTableId": table, "DestinationCidrBlock": "10.100.0.0/16", "VpcPeeringConnectionId": peering_id}
    peers.requester.create_route(**route)
    peers.requester.delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)

    for call in (peers.requester.replace_route, peers.requester.create_route):
        with pytest.raises(ClientError) as refused:
            call(**route)
        assert error_code(refused) == "InvalidStateTransition"
    peers.requester.delete_route(RouteTableId=table, DestinationCidrBlock="10.100.0.0/16")
    with strict.relax("routes-to-live-peerings"):
        peers.requester.create_route(**route)


def test_a_new_peering_is_briefly_invisible_longer_to_an_inter_region_accepter(strict: StrictAws) -> None:
    peers = pair(accepter_region="us-west-2")
    peering_id = peers.create()

    with pytest.raises(ClientError) as by_id:
        status(peers.requester, peering_id)
    assert error_code(by_id) == "InvalidVpcPeeringConnectionID.NotFound"
    listed = [p["VpcPeeringConnectionId"] for p in
              peers.accepter.describe_vpc_peering_connections()["VpcPeeringConnections"]]
    assert peering_id not in listed, "absent from lists too"
    assert status(peers.requester, peering_id)  # the requester sees it now ...
    with pytest.raises(ClientError):
        status(peers.accepter, peering_id)  # ... the accepter in another Region not yet

    with strict.relax("peering-visibility"):
        moto = pair(accepter_region="us-west-2")
        moto_id = moto.create()
        assert moto_id in [p["VpcPeeringConnectionId"] for p in
                           moto.accepter.describe_vpc_peering_connections()["VpcPeeringConnections"]]


def test_describing_an_unknown_peering_id_is_not_found(strict: StrictAws) -> None:
    with pytest.raises(ClientError) as unknown:
        ec2().describe_vpc_peering_connections(VpcPeeringConnectionIds=["pcx-0123456789abcdef0"])
    assert error_code(unknown) == "InvalidVpcPeeringConnectionID.NotFound"

    with strict.relax("peering-unknown-id"):
        assert ec2().describe_vpc_peering_connections(
            VpcPeeringConnectionIds=["pcx-0123456789abcdef0"])["VpcPeeringConnections"] == []


# --- the workflow on them -----------------------------------------------------------------------


def places(nekt: NektNetwork) -> list[tuple[str, str]]:
    return [(DEFAULT_ACCOUNT, "us-east-2"), (nekt.account_id, nekt.region)]


def test_a_new_peering_not_yet_visible_is_polled_again_not_failed(
    strict: StrictAws, deploy: Any, nekt: NektNetwork
) -> None:
    create_database()
    stack = deploy(nekt)

    execution = stack.run({"database": {"identifier": "orders-db", "region": "us-east-2"}})

    assert execution.status == "SUCCEEDED", execution.cause
    not_found = [refusal for refusal in strict.refusals if refusal[1] == "InvalidVpcPeeringConnectionID.NotFound"]
    assert not_found, "the first poll met AWS's eventual consistency"
    entered = execution.states_entered()
    assert entered.count("Accept peering") == 2, "the Nekt account (another Region) saw it a poll later"
    assert entered.count("Check request status") <= 5, "within the tests' MaxPolls"


def test_a_slow_lifecycle_is_polled_longer_within_max_polls(
    strict: StrictAws, deploy: Any, nekt: NektNetwork
) -> None:
    create_database()
    stack = deploy(nekt, MaxPolls="10")
    fast = stack.run({"database": {"identifier": "orders-db", "region": "us-east-2"}, "connectionId": "fast"})
    assert fast.status == "SUCCEEDED", fast.cause
    create_database("billing-db", cidr="10.30.0.0/16")
    book(strict).timing = Timing(initiating=6, provisioning=4)

    slow = stack.run({"database": {"identifier": "billing-db", "region": "us-east-2"}})

    assert slow.status == "SUCCEEDED", slow.cause
    for state in ("Check request status", "Check active status"):
        assert slow.states_entered().count(state) > fast.states_entered().count(state), state


def test_a_lifecycle_slower_than_max_polls_times_out_and_is_withdrawn(
    strict: StrictAws, deploy: Any, nekt: NektNetwork
) -> None:
    create_database()
    stack = deploy(nekt)  # MaxPolls 5
    book(strict).timing = Timing(initiating=8)

    execution = stack.run({"database": {"identifier": "orders-db", "region": "us-east-2"}})

    assert execution.status == "FAILED" and execution.error == "PeeringTimeout", execution.cause
    entered = execution.states_entered()
    assert "Wait before deleting the peering" in entered, "initiating-request cannot be deleted yet: waited"
    assert "Rolled back: peering pcx-" in (execution.cause or "")
    live = [p for p in snapshot(places(nekt))[f"{DEFAULT_ACCOUNT}/us-east-2"]["peerings"].values()]
    assert live == []


def test_the_rollback_of_a_request_whose_answer_was_lost_waits_then_deletes_it(
    strict: StrictAws, deploy: Any, nekt: NektNetwork, fault_matrix: list[int]
) -> None:
    create_database()
    stack = deploy(nekt)
    before = snapshot(places(nekt))

    def lost(event: dict[str, Any], result: Any) -> None:
        raise RuntimeError("injected: the request was made, its answer lost")

    stack.runtime.after_invoke("RequestPeeringFunction", lost)

    execution = stack.run({"database": {"identifier": "orders-db", "region": "us-east-2"}})

    assert execution.status == "FAILED" and execution.error == "RuntimeError", execution.cause
    assert "Rolled back: peering pcx-" in (execution.cause or "")
    assert execution.states_entered().count("Wait before deleting the peering") >= 1
    assert not [refusal for refusal in strict.refusals if refusal[0] == "DeleteVpcPeeringConnection"], (
        "never asked AWS to delete it before it could be")
    after = snapshot(places(nekt))
    fault_matrix.append(0 if after == before else 1)
    assert after == before


def test_routes_to_a_peering_that_died_are_removed_by_the_rollback_not_left_as_blackholes(
    strict: StrictAws, deploy: Any, nekt: NektNetwork
) -> None:
    create_database()
    stack = deploy(nekt)
    before = snapshot(places(nekt))

    def nekt_deletes_the_peering(event: dict[str, Any]) -> None:
        ec2(nekt.account_id, nekt.region).delete_vpc_peering_connection(
            VpcPeeringConnectionId=event["peering"]["peeringConnectionId"])

    stack.runtime.before_invoke("VerifyFunction", nekt_deletes_the_peering)

    execution = stack.run({"database": {"identifier": "orders-db", "region": "us-east-2"}})

    assert execution.status == "FAILED" and execution.error == "VerificationFailed", execution.cause
    after = snapshot(places(nekt))
    blackholes = [route for place in after.values() for routes in place["routes"].values() for route in routes
                  if route[2] == "blackhole"]
    assert blackholes == []
    assert {place: state["routes"] for place, state in after.items()} == {
        place: state["routes"] for place, state in before.items()}


def test_a_disconnect_after_the_peering_died_removes_the_blackhole_routes_to_it(
    strict: StrictAws, deploy: Any, nekt: NektNetwork
) -> None:
    create_database()
    stack = deploy(nekt)
    before = snapshot(places(nekt))
    connected = stack.run({"database": {"identifier": "orders-db", "region": "us-east-2"}})
    assert connected.status == "SUCCEEDED", connected.cause
    peering_id = connected.output["peeringConnectionId"]
    ec2(nekt.account_id, nekt.region).delete_vpc_peering_connection(VpcPeeringConnectionId=peering_id)

    disconnected = stack.run({"connectionId": "orders-db", "region": "us-east-2"},
                             state_machine="DisconnectStateMachine")

    assert disconnected.status == "SUCCEEDED", disconnected.cause
    after = snapshot(places(nekt))
    assert {place: state["routes"] for place, state in after.items()} == {
        place: state["routes"] for place, state in before.items()}, "no blackhole route left"
    reconnected = stack.run({"database": {"identifier": "orders-db", "region": "us-east-2"}})
    assert reconnected.status == "SUCCEEDED", reconnected.cause
