"""What tests/e2e/test_convergence_*.py share. Every stage converges: a stage whose changes went through and
whose answer was then lost ends as if nothing had been lost.

Two ways Lambda loses an answer after the function made its AWS calls (emulator/lambda_runtime.py's
fail_after_running): `Lambda.ServiceException`, which the ASL's Retry answers by running the stage again, and
`Sandbox.Timedout`, which it does not retry, so the stage's Catch rolls back. For every mutating stage of every
path, connect and disconnect, both accounts are asserted after the connect and after a later disconnect:

- lost and retried: the connect ends CONNECTED with both accounts and the registry as a plain connect leaves them
  (the resources' ids aside), and the disconnect then leaves both accounts exactly as before the connect. A
  retry that took what its lost attempt made for the customer's own would keep it here, in the customer's
  account;
- timed out: the connect is rolled back, both accounts as before, and a later disconnect changes nothing.

One world per path serves every stage of it, one connect and disconnect after another: each cycle must end with
both accounts as before, so a leak is caught by the cycle that made it. A cycle loses one answer of the connect
and one of the disconnect (or of the rollback) at once, so the matrix costs one connect and one disconnect per
stage of the longer list.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3

from emulator.accounts import establish_peering, snapshot
from emulator.stack import DEFAULT_ACCOUNT, Execution, Stack
from emulator.topology import (
    CustomerDatabase,
    NektNetwork,
    account_session,
    create_database,
    create_nekt_network,
)
from nekt_peering.registry import store

LOST = "Lambda.ServiceException"
TIMED_OUT = "Sandbox.Timedout"


@dataclass(frozen=True)
class Path:
    """A path in one topology, and its stages that change AWS or the registry, in the order they run."""

    connect: tuple[str, ...]
    disconnect: tuple[str, ...]
    mode: str = "auto"


PEERING_REMOVALS = ("RevokeIngressFunction", "DeleteRoutesFunction", "RestoreDnsResolutionFunction",
                    "DeletePeeringFunction")
PATHS = {
    # A new peering, across accounts and Regions.
    "peering": Path(
        connect=("TakeLocksFunction", "RequestPeeringFunction", "AcceptPeeringFunction", "UpdateRoutesFunction",
                 "AuthorizeIngressFunction", "RecordConnectionFunction"),
        disconnect=("TakeLocksFunction", *PEERING_REMOVALS, "RecordDisconnectFunction")),
    # The customer's own active peering reused, with one of the routes: a publicly accessible database reached
    # through it, so the DNS option is turned on, and off again by the disconnect.
    "reused-peering": Path(
        connect=("RequestPeeringFunction", "UpdateRoutesFunction", "AuthorizeIngressFunction",
                 "EnableDnsResolutionFunction"),
        disconnect=PEERING_REMOVALS, mode="peering"),
    "public": Path(connect=("AuthorizeIngressFunction",),
                   disconnect=("RevokeIngressFunction", "RecordDisconnectFunction")),
    "resource-endpoint": Path(
        connect=("ShareDatabaseFunction", "CreateResourceEndpointFunction", "RecordConnectionFunction"),
        disconnect=("RemoveResourceEndpointFunction", "UnshareDatabaseFunction", "RecordDisconnectFunction")),
}
REMOVALS = {*PEERING_REMOVALS, "RemoveResourceEndpointFunction", "UnshareDatabaseFunction"}
# What a timed-out connect stage's rollback runs, first to last: a lost answer of each is retried.
ROLLBACK = {"resource-endpoint": ("RemoveResourceEndpointFunction", "UnshareDatabaseFunction")}


@dataclass
class World:
    nekt: NektNetwork
    database: CustomerDatabase
    stack: Stack
    path: Path
    before: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def input(self) -> dict[str, Any]:
        return {"database": {"identifier": "orders-db", "region": self.database.region}, "mode": self.path.mode}

    def snapshot(self) -> dict[str, Any]:
        return snapshot(sorted({(DEFAULT_ACCOUNT, self.database.region), (self.nekt.account_id, self.nekt.region)}))

    def connect(self) -> Execution:
        return self.stack.run(self.input)

    def disconnect(self) -> Execution:
        return self.stack.run({"connectionId": "orders-db", "region": self.database.region},
                              state_machine="DisconnectStateMachine")

    def lose(self, function: str, error: str) -> list[dict[str, Any]]:
        return self.stack.runtime.fail_after_running(function, error)

    def clear_faults(self) -> None:
        self.stack.runtime.after.clear()


def build_world(path: str, deploy: Any) -> World:
    if path == "resource-endpoint":  # a VPC overlapping Nekt's: auto takes the resource-endpoint path
        nekt = create_nekt_network()
        database = create_database(region=nekt.region, cidr="10.100.0.0/16", kind="cluster", engine="postgresql")
    else:
        nekt = create_nekt_network()
        database = create_database(region="us-east-2", publicly_accessible=path in ("public", "reused-peering"))
    if path == "reused-peering":
        ec2 = account_session(DEFAULT_ACCOUNT, database.region).client("ec2")
        nekt_ec2 = account_session(nekt.account_id, nekt.region).client("ec2")
        peering_id = establish_peering(
            ec2, nekt_ec2,
            VpcId=database.vpc_id, PeerVpcId=nekt.vpc_id, PeerOwnerId=nekt.account_id, PeerRegion=nekt.region)
        ec2.create_route(RouteTableId=database.route_table_ids[0], DestinationCidrBlock=nekt.cidr,
                         VpcPeeringConnectionId=peering_id)
        for vpc_id, vpc_ec2 in ((database.vpc_id, ec2), (nekt.vpc_id, nekt_ec2)):  # the DNS option needs them
            vpc_ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    world = World(nekt, database, deploy(nekt), PATHS[path])
    world.before = world.snapshot()
    # The references: what a plain connect leaves, then a plain disconnect, then a connect that fails before
    # any change.
    connected = world.connect()
    assert connected.status == "SUCCEEDED", connected.cause
    world.reference["connected"] = normalized(world, world.snapshot())
    world.reference["registry connected"] = registry_shape(world)
    assert world.disconnect().status == "SUCCEEDED"
    assert world.snapshot() == world.before
    world.reference["registry disconnected"] = registry_shape(world)
    world.stack.runtime.before_invoke("PreflightFunction", refuse)
    assert world.connect().error == "InjectedFault"
    world.stack.runtime.before.clear()
    world.reference["registry failed"] = registry_shape(world)
    return world


class InjectedFault(Exception):
    pass


def refuse(event: dict[str, Any]) -> None:
    raise InjectedFault("injected: refused before any change")


# Ids AWS makes (pcx-, sgr-, sg-, vpce-, rgw-, rcfg-...) and the RAM shares' ARNs end in a UUID.
_ID = re.compile(r"\b[a-z]{2,5}-[0-9a-f]{8,17}\b|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalized(world: World, state: Any) -> Counter[str]:
    """`state` as a multiset of its leaves, each with its path, every id made since the world was built masked:
    two runs that made the same things compare equal, and one that made a thing twice does not."""
    known = set(_ID.findall(json.dumps(world.before)))

    def mask(text: str) -> str:
        return _ID.sub(lambda match: match.group(0) if match.group(0) in known else "<made>", text)

    def leaves(node: Any, path: tuple[str, ...]) -> list[str]:
        if isinstance(node, dict):
            return [leaf for key, value in node.items() for leaf in leaves(value, (*path, mask(str(key))))]
        if isinstance(node, list) and node and all(isinstance(item, (dict, list, tuple)) for item in node):
            return [leaf for item in node for leaf in leaves(item, path)]  # a list of entries: a multiset
        return [mask(json.dumps([*path, node], default=str, sort_keys=True))]

    return Counter(leaves(state, ()))


def registry_shape(world: World) -> Counter[str]:
    """The registry's resource items (origin, users) and the connection's state and what it relies on."""
    items = boto3.client("dynamodb", region_name=world.stack.region).scan(
        TableName=world.stack.tables["ConnectionsTable"])["Items"]
    kept: dict[str, Any] = {}
    for item in map(store.from_item, items):
        if item["pk"].startswith("network#"):
            kept[f"{item['pk']}/{item['sk']}"] = {key: item.get(key) for key in ("origin", "createdFor", "users")}
        elif item["pk"].startswith("connection#"):
            kept[item["pk"]] = {key: item.get(key) for key in ("state", "relies", "network", "mode")}
    return normalized(world, kept)


def assert_as_before(world: World, when: str) -> None:
    after = world.snapshot()
    assert after == world.before, f"{when}: {sorted(normalized(world, after) - normalized(world, world.before))}"

