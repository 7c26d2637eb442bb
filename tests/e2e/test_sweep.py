"""The health sweep (statemachine/sweep.asl.json), started as its schedule starts it, over connections of every
path: a sweep with nothing wrong changes nothing and publishes nothing but its metric; then each connection drifts
in its own way, made by hand in the emulated accounts, and one sweep marks each DEGRADED naming its drift by id, in
its registry item and in a `Connection Degraded` event, leaves the one with nothing wrong alone, and counts them.
The other drifts are made in turn on one connection of the peering path, one of the resource-endpoint path and one
the probe checks, each named, then repaired where a repair can put it back (HEALTHY, `Connection Restored`, both
accounts as the connect left them) or else undone by hand; docs/health.md lists what is proven where."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.ec2.models import ec2_backends
from moto.rds.models import rds_backends
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)

from emulator.accounts import set_peering_status, snapshot, wait_for_peering
from emulator.databases import MariaDbServer, PostgresServer
from emulator.stack import DEFAULT_ACCOUNT, Stack
from emulator.topology import NektNetwork, account_session, create_database
from emulator.wire_servers import LOOPBACK, _Server
from nekt_peering.handlers.record_sweep import METRIC, NAMESPACE
from nekt_peering.registry import bookkeeping, store
from nekt_peering.registry import sweep as sweep_module
from tests.e2e.test_path import CONNECT, DB_ADDRESS, make_world
from tests.e2e.test_resource_endpoint import overlapping_cluster
from tools.generate_statemachines import SWEEP_PAGES_PER_EXECUTION

PEERED = "us-east-2"  # the peering path's databases: cross-region


def connections(stack: Stack) -> dict[str, dict[str, Any]]:
    found = boto3.client("dynamodb", region_name=stack.region).scan(
        TableName=stack.tables["ConnectionsTable"], ConsistentRead=True)["Items"]
    return {values["connectionId"]: values for values in map(store.from_item, found) if values["sk"] == "connection"}


def without_health(items: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The items as a reader sees them, but for the health a check records (and the version its write counts)."""
    return {cid: {key: value for key, value in item.items() if key not in ("health", "version")}
            for cid, item in items.items()}


def health_events(stack: Stack) -> list[tuple[str, dict[str, Any]]]:
    return [(event["detail-type"], event["detail"]) for event in stack.published()
            if event["detail-type"] in ("Connection Degraded", "Connection Restored")]


def metric(stack: Stack, health: str) -> tuple[float, float]:
    """The sweeps' values for this health so far: how many were put, and their sum."""
    now = datetime.now(UTC)
    points = boto3.client("cloudwatch", region_name=stack.region).get_metric_statistics(
        Namespace=NAMESPACE, MetricName=METRIC, StartTime=now - timedelta(hours=1), EndTime=now + timedelta(hours=1),
        Period=7200, Statistics=["Sum", "SampleCount"],
        Dimensions=[{"Name": "Stack", "Value": stack.name}, {"Name": "Health", "Value": health}])["Datapoints"]
    return sum(point["SampleCount"] for point in points), sum(point["Sum"] for point in points)


def sweep(stack: Stack) -> dict[str, int]:
    swept = stack.wait(stack.fire_schedule())
    assert swept.status == "SUCCEEDED", swept.cause
    return dict(swept.output)


def acl_of(ec2: Any, subnet_id: str) -> str:
    return str(ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])[
        "NetworkAcls"][0]["NetworkAclId"])


def wait_until_gone(ec2: Any, endpoint_id: str) -> None:
    """AWS deletes an endpoint in its own time (the strict layer's Deleting, a few reads long)."""
    for _ in range(100):
        if all(found["State"] in ("Deleted", "deleted") for found in ec2.describe_vpc_endpoints()["VpcEndpoints"]
               if found["VpcEndpointId"] == endpoint_id):
            return
    raise AssertionError(f"{endpoint_id} still there")


def test_a_sweep_names_each_connection_s_drift_and_leaves_the_rest_as_it_was(deploy: Any, nekt: NektNetwork) -> None:
    databases = {name: create_database(name, region=PEERED, cidr=f"10.{index}.0.0/16") for index, name in enumerate(
        ("orders-healthy", "orders-route", "orders-peering", "orders-acl", "orders-stopped"))}
    databases["orders-public"] = create_database("orders-public", region=PEERED, cidr="10.5.0.0/16",
                                                 publicly_accessible=True)
    databases["orders-resource"] = create_database("orders-resource", region=nekt.region, cidr="10.6.0.0/16")
    stack = deploy(nekt)
    for name, database in databases.items():
        mode = {"mode": "resource-endpoint"} if name == "orders-resource" else {}
        connected = stack.run(database.connect_input(**mode))
        assert connected.status == "SUCCEEDED", (name, connected.cause)
    places = [(DEFAULT_ACCOUNT, PEERED), (DEFAULT_ACCOUNT, nekt.region), (nekt.account_id, nekt.region)]
    before, registry = snapshot(places), connections(stack)

    assert sweep(stack) == {"HEALTHY": 7, "DEGRADED": 0}

    assert snapshot(places) == before, "a sweep changes nothing in either account"
    swept = connections(stack)
    assert without_health(swept) == without_health(registry), "nor anything but each connection's health"
    assert {cid: item["health"]["state"] for cid, item in swept.items()} == dict.fromkeys(databases, "HEALTHY")
    assert health_events(stack) == [], "and publishes nothing"
    assert (metric(stack, "HEALTHY"), metric(stack, "DEGRADED")) == ((1, 7), (1, 0)), "but its metric"

    database_ec2 = account_session(DEFAULT_ACCOUNT, PEERED).client("ec2")
    # Someone tidies a route table, deletes "an unused peering", adds a network ACL, stops a database.
    database_ec2.delete_route(RouteTableId=databases["orders-route"].route_table_ids[0], DestinationCidrBlock=nekt.cidr)
    database_ec2.delete_vpc_peering_connection(
        VpcPeeringConnectionId=registry["orders-peering"]["result"]["peeringConnectionId"])
    database_ec2.create_network_acl_entry(
        NetworkAclId=acl_of(database_ec2, databases["orders-acl"].subnet_ids[0]), RuleNumber=50, Protocol="6",
        RuleAction="deny", Egress=False, CidrBlock=nekt.cidr, PortRange={"From": 5432, "To": 5432})
    account_session(DEFAULT_ACCOUNT, PEERED).client("rds").stop_db_instance(DBInstanceIdentifier="orders-stopped")
    # Tightens the public database's security group; deletes the resource endpoint in the Nekt VPC.
    public_group = databases["orders-public"].security_group_id
    rules = database_ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [public_group]}])["SecurityGroupRules"]
    database_ec2.revoke_security_group_ingress(GroupId=public_group, SecurityGroupRuleIds=[
        rule["SecurityGroupRuleId"] for rule in rules if not rule["IsEgress"]])
    nekt_ec2 = account_session(nekt.account_id, nekt.region).client("ec2")
    endpoint = registry["orders-resource"]["result"]["resourcePath"]["vpcEndpointId"]
    nekt_ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint])
    wait_until_gone(nekt_ec2, endpoint)
    drifted, registry = snapshot(places), connections(stack)

    assert sweep(stack) == {"HEALTHY": 1, "DEGRADED": 6}

    swept = connections(stack)
    drift = {cid: (item["health"]["state"], item["health"].get("drift")) for cid, item in swept.items()}
    assert drift == {
        "orders-healthy": ("HEALTHY", None),
        "orders-route": ("DEGRADED", ["route-missing"]),
        "orders-peering": ("DEGRADED", ["peering-gone"]),
        "orders-acl": ("DEGRADED", ["network-acl-denies"]),
        "orders-stopped": ("DEGRADED", ["database-stopped"]),
        "orders-public": ("DEGRADED", ["ingress-rule-missing"]),
        "orders-resource": ("DEGRADED", ["resource-endpoint-gone"]),
    }
    assert sorted(health_events(stack), key=lambda event: event[1]["connectionId"]) == sorted(
        (("Connection Degraded", {"connectionId": cid, "health": swept[cid]["health"]})
         for cid in databases if cid != "orders-healthy"), key=lambda event: event[1]["connectionId"])
    assert swept["orders-healthy"]["health"]["since"] == registry["orders-healthy"]["health"]["since"]
    assert without_health(swept) == without_health(registry)
    assert snapshot(places) == drifted, "a sweep repairs nothing: repair is a run of its own"
    assert (metric(stack, "HEALTHY"), metric(stack, "DEGRADED")) == ((2, 7 + 1), (2, 0 + 6))


def seed(stack: Stack, count: int) -> None:
    """`count` connected connections, as a connect records them, of databases that are gone: each check runs the
    real code to Discover's DatabaseNotFound. Already DEGRADED by it, as an earlier sweep left them: no event, and
    the checks' `lastCheckedAt` tell them apart."""
    dynamodb = boto3.client("dynamodb", region_name=stack.region)
    table = stack.tables["ConnectionsTable"]
    health = {"state": "DEGRADED", "since": store.now(), "lastCheckedAt": "", "error": "DatabaseNotFound",
              "cause": "gone", "drift": ["database-deleted"]}
    puts = [bookkeeping.put_connection(table, f"ghost-{n:04}", None, {
        "state": "CONNECTED", "request": {"database": {"identifier": f"ghost-{n:04}", "region": PEERED}},
        "mode": "peering", "relies": [], "executions": [], "currentExecutionArn": "", "currentWorkflow": "connect",
        "health": health})["Put"] for n in range(count)]
    for start in range(0, count, 25):
        dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": put["Item"]}}
                                                        for put in puts[start:start + 25]]})


def full_history(stack: Stack, execution_arn: str) -> list[dict[str, Any]]:
    events, token = [], None
    while True:
        page = stack.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000,
                                               **({"nextToken": token} if token else {}))
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


# An execution's quotas (docs/health.md quotes them): events in its history, and the size of any state's input,
# output or result. An execution checks at most PAGE_SIZE * SWEEP_PAGES_PER_EXECUTION connections.
HISTORY_EVENTS = 25_000
PAYLOAD_BYTES = 256 * 1024
PER_EXECUTION = sweep_module.PAGE_SIZE * SWEEP_PAGES_PER_EXECUTION


def limits(stack: Stack, execution_arn: str) -> tuple[int, int, int]:
    """An execution's history: its events, its largest payload (bytes), the connections it checked."""
    history = full_history(stack, execution_arn)
    payloads = [len(json.dumps(details).encode()) for event in history for key, details in event.items()
                if key.endswith("EventDetails")]
    checked = sum(event.get("lambdaFunctionScheduledEventDetails", {}).get("resource", "").endswith(
        "-CheckPathFunction") for event in history)
    return len(history), max(payloads), checked


def assert_within_limits(stack: Stack, execution_arn: str, connections: int) -> None:
    """This execution, and one that checks a full PER_EXECUTION connections (its history grows by the same events
    per connection, and its payloads are a page's at most), stay within the quotas with room to spare."""
    events, largest, checked = limits(stack, execution_arn)
    assert checked == connections
    assert events < HISTORY_EVENTS and largest < PAYLOAD_BYTES
    per_connection = events / connections
    assert per_connection * PER_EXECUTION < HISTORY_EVENTS * 0.6, f"{per_connection:.1f} events per connection"


def test_a_long_sweep_goes_on_in_a_new_execution_each_within_its_limits(
        deploy: Any, nekt: NektNetwork, monkeypatch: Any) -> None:
    """Pages of 5 instead of 100 (ListConnected runs in process): 60 connections are 12 pages, one more than an
    execution reads, so the sweep goes on in a second execution from the first's page token. `make bench` sweeps
    1,000 connections with the real page size and asserts the same limits."""
    monkeypatch.setattr(sweep_module, "PAGE_SIZE", 5)
    stack = deploy(nekt)
    seed(stack, 60)

    first = stack.wait(stack.fire_schedule(), timeout=300)

    assert first.status == "SUCCEEDED", first.cause
    second = stack.wait(first.output["executionArn"], timeout=300)
    assert second.status == "SUCCEEDED" and second.output == {"HEALTHY": 0, "DEGRADED": 60}, second.cause
    monkeypatch.setattr(sweep_module, "PAGE_SIZE", 100)
    assert_within_limits(stack, first.arn, 50)
    assert_within_limits(stack, second.arn, 10)
    degraded = connections(stack)
    assert {item["health"]["drift"][0] for item in degraded.values()} == {"database-deleted"}
    assert len({item["health"]["lastCheckedAt"] for item in degraded.values()}) == 60, "each checked once"
    assert health_events(stack) == [], "their health did not change"


def test_a_hand_off_retried_after_the_new_execution_ended_still_succeeds(
        deploy: Any, nekt: NektNetwork, monkeypatch: Any) -> None:
    """The start of the next execution starts it, but its answer is lost; the retry comes once that execution has
    ended, and Step Functions answers ExecutionAlreadyExists: the first ends as handed off, and no third starts."""
    monkeypatch.setattr(sweep_module, "PAGE_SIZE", 1)
    stack = deploy(nekt)
    seed(stack, SWEEP_PAGES_PER_EXECUTION + 1)
    start = StateTaskServiceSfn._eval_service_task
    started: list[str] = []

    def answer_lost_once(task: Any, **arguments: Any) -> None:
        start(task, **arguments)
        if not started:
            started.append(arguments["env"].stack.pop()["executionArn"])
            assert stack.wait(started[0]).status == "SUCCEEDED"
            lost: Any = {"Error": {"Code": "ServiceUnavailable", "Message": "answer lost"},
                         "ResponseMetadata": {"HTTPStatusCode": 503, "RequestId": "lost"}}
            raise ClientError(lost, "StartExecution")

    monkeypatch.setattr(StateTaskServiceSfn, "_eval_service_task", answer_lost_once)

    first = stack.wait(stack.fire_schedule(), timeout=300)

    assert first.status == "SUCCEEDED", first.cause
    assert started and started[0].endswith(":" + first.output["executionName"])
    failures = [event["taskFailedEventDetails"]["error"] for event in first.history if event["type"] == "TaskFailed"]
    assert failures == ["StepFunctions.ServiceUnavailableException", "StepFunctions.ExecutionAlreadyExistsException"]
    time.sleep(0.6)  # ListExecutions is eventually consistent: the emulator hides a new execution for 0.5 s
    sweeps = stack.sfn.list_executions(stateMachineArn=stack.sfn.describe_execution(executionArn=first.arn)[
        "stateMachineArn"])["executions"]
    assert sorted(execution["executionArn"] for execution in sweeps) == sorted([first.arn, started[0]])
    assert json.loads(stack.sfn.describe_execution(executionArn=started[0])["output"]) == {
        "HEALTHY": 0, "DEGRADED": SWEEP_PAGES_PER_EXECUTION + 1}
    assert len({item["health"]["lastCheckedAt"] for item in connections(stack).values()}) == \
        SWEEP_PAGES_PER_EXECUTION + 1, "each checked once"


def checked_drift(stack: Stack, connection_id: str, database: Any) -> list[str] | None:
    """The check-path machine's check of one connection (the sweep's per-connection stage): the drift it records."""
    stack.run({**database.connect_input(), "connectionId": connection_id}, state_machine="CheckPathStateMachine")
    return connections(stack)[connection_id]["health"].get("drift")


def repair(stack: Stack, connection_id: str) -> None:
    """A repair as POST /connections/{id}/repair starts it (the connect of the connection's recorded request):
    the connection is HEALTHY again and `Connection Restored` is published with that health."""
    repaired = stack.run({**connections(stack)[connection_id]["request"], "connectionId": connection_id})
    assert repaired.status == "SUCCEEDED", repaired.cause
    health = connections(stack)[connection_id]["health"]
    assert health["state"] == "HEALTHY" and "drift" not in health
    assert health_events(stack)[-1] == ("Connection Restored", {
        "connectionId": connection_id, "health": health, "version": health_events(stack)[-1][1]["version"]})


def test_each_other_drift_made_and_undone_in_turn_on_one_connection_is_named(deploy: Any, nekt: NektNetwork) -> None:
    """The drifts the sweep above does not make, one at a time on one connected connection (and the DNS option on
    a public database peered on purpose), each named by the check, then repaired where a repair can put it back
    (HEALTHY, `Connection Restored`, both accounts as the connect left them), else undone by hand: the next check
    is HEALTHY again."""
    database = create_database("orders-db", region=PEERED)
    public = create_database("orders-dns", region=PEERED, cidr="10.1.0.0/16", publicly_accessible=True)
    for session, vpc in ((account_session(DEFAULT_ACCOUNT, PEERED), public.vpc_id),
                         (account_session(DEFAULT_ACCOUNT, PEERED), database.vpc_id),
                         (account_session(nekt.account_id, nekt.region), nekt.vpc_id)):
        # The DNS option, which a public database's peering needs, requires DNS hostnames in both VPCs.
        session.client("ec2").modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    ec2 = account_session(DEFAULT_ACCOUNT, PEERED).client("ec2")
    rds = account_session(DEFAULT_ACCOUNT, PEERED).client("rds")
    # The customer's own VPC, subnets and gateway, which the drifts below route to or move the database into.
    other_vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    moved_to = [ec2.create_subnet(VpcId=database.vpc_id, CidrBlock=f"10.0.{20 + index}.0/24",
                                  AvailabilityZone=f"{PEERED}{zone}")["Subnet"]["SubnetId"]
                for index, zone in enumerate("ab")]
    moved_table = ec2.create_route_table(VpcId=database.vpc_id)["RouteTable"]["RouteTableId"]
    for subnet_id in moved_to:
        ec2.associate_route_table(RouteTableId=moved_table, SubnetId=subnet_id)
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=database.vpc_id)
    stack = deploy(nekt)
    for connect in (database.connect_input(), public.connect_input(mode="peering")):
        assert stack.run(connect).status == "SUCCEEDED"
    registry = connections(stack)
    places = [(DEFAULT_ACCOUNT, PEERED), (nekt.account_id, nekt.region)]
    as_connected = snapshot(places)
    table, peering = database.route_table_ids[0], registry["orders-db"]["result"]["peeringConnectionId"]
    rule = next(rule for rule in ec2.describe_security_group_rules(Filters=[
        {"Name": "group-id", "Values": [database.security_group_id]}])["SecurityGroupRules"] if not rule["IsEgress"])
    narrowed: Any = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.100.0.10/32"}]}
    instance = rds_backends[DEFAULT_ACCOUNT][PEERED].databases["orders-db"]

    def blackhole() -> None:
        """The route to Nekt pointed at another peering of the customer's, which is then deleted."""
        theirs = ec2.create_vpc_peering_connection(VpcId=database.vpc_id, PeerVpcId=other_vpc)[
            "VpcPeeringConnection"]["VpcPeeringConnectionId"]
        wait_for_peering(ec2, theirs, "pending-acceptance")
        ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=theirs)
        wait_for_peering(ec2, theirs, "active")
        ec2.replace_route(RouteTableId=table, DestinationCidrBlock=nekt.cidr, VpcPeeringConnectionId=theirs)
        ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=theirs)

    def narrow() -> None:
        ec2.revoke_security_group_ingress(GroupId=database.security_group_id,
                                          SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]])
        ec2.authorize_security_group_ingress(GroupId=database.security_group_id, IpPermissions=[narrowed])

    # moto's ModifyDBSubnetGroup drops the group from its backend: the instance's group is given the new subnets
    # as AWS would apply them.
    subnet_group, subnet = instance.db_subnet_group, ec2_backends[DEFAULT_ACCOUNT][PEERED].get_subnet
    in_its_subnets = [subnet(subnet_id) for subnet_id in database.subnet_ids]
    in_moved_subnets = [subnet(subnet_id) for subnet_id in moved_to]

    def repaired() -> None:
        repair(stack, "orders-db")

    def delete_route_then_repair() -> None:
        ec2.delete_route(RouteTableId=table, DestinationCidrBlock=nekt.cidr)
        repaired()

    def repair_then_revoke_narrowed() -> None:
        repaired()
        ec2.revoke_security_group_ingress(GroupId=database.security_group_id, IpPermissions=[narrowed])

    drifts = {
        "route-elsewhere": (
            lambda: ec2.replace_route(RouteTableId=table, DestinationCidrBlock=nekt.cidr, GatewayId=gateway),
            lambda: ec2.replace_route(RouteTableId=table, DestinationCidrBlock=nekt.cidr,
                                      VpcPeeringConnectionId=peering)),
        # What the id says to do: delete the route to the dead peering, then repair the connection.
        "route-blackholed": (blackhole, delete_route_then_repair),
        "route-missing": (lambda: ec2.delete_route(RouteTableId=table, DestinationCidrBlock=nekt.cidr), repaired),
        # Narrowed: one address of Nekt's range instead of the range. The repair authorizes the range again and
        # leaves the customer's narrower rule alone, which the customer then revokes.
        "ingress-rule-missing": (narrow, repair_then_revoke_narrowed),
        # moto's ModifyDBInstance ignores DBPortNumber: the instance is given the new port as AWS would apply it.
        "database-port-changed": (lambda: setattr(instance, "port", 5433), lambda: setattr(instance, "port", 5432)),
        "database-made-public": (
            lambda: rds.modify_db_instance(DBInstanceIdentifier="orders-db", PubliclyAccessible=True),
            lambda: rds.modify_db_instance(DBInstanceIdentifier="orders-db", PubliclyAccessible=False)),
        "database-subnets-changed": (lambda: setattr(subnet_group, "subnets", in_moved_subnets),
                                     lambda: setattr(subnet_group, "subnets", in_its_subnets)),
        # No call turns an active peering back: the status AWS would report for one whose acceptance is pending,
        # which the repair accepts.
        "peering-not-active": (
            lambda: set_peering_status(DEFAULT_ACCOUNT, PEERED, peering, "pending-acceptance"), repaired),
    }
    for drift, (make, undo) in drifts.items():
        make()
        assert checked_drift(stack, "orders-db", database) == [drift], connections(stack)["orders-db"]["health"]
        undo()
        assert snapshot(places) == as_connected, f"{drift} undone: both accounts as the connect left them"
        assert checked_drift(stack, "orders-db", database) is None, f"{drift} undone"

    ec2.modify_vpc_peering_connection_options(
        VpcPeeringConnectionId=registry["orders-dns"]["result"]["peeringConnectionId"],
        RequesterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": False})
    assert checked_drift(stack, "orders-dns", public) == ["dns-option-off"]
    repair(stack, "orders-dns")
    assert snapshot(places) == as_connected, "dns-option-off repaired: both accounts as the connect left them"
    rds.delete_db_instance(DBInstanceIdentifier="orders-db", SkipFinalSnapshot=True)
    assert checked_drift(stack, "orders-db", database) == ["database-deleted"]


def until(done: Any) -> None:
    """AWS deletes Lattice resources in its own time (the strict layer's DELETE_IN_PROGRESS, a few reads long)."""
    for _ in range(100):
        if done():
            return
    raise AssertionError("still there")


def gateway_there(lattice: Any, gateway_id: str) -> bool:
    try:
        lattice.get_resource_gateway(resourceGatewayIdentifier=gateway_id)
    except lattice.exceptions.ResourceNotFoundException:
        return False
    return True


def named(state: dict[str, Any], made: dict[str, str]) -> Any:
    """A state with the ids of the connection's resource path (and the ids in its ARNs) spelt by what they are, and
    the configurations counted: a repair that makes one again (a cluster's, with its members') gives it a new id."""
    text = json.dumps(state)
    for what, resource_id in made.items():
        if isinstance(resource_id, str):
            text = text.replace(resource_id, what).replace(resource_id.rpartition("/")[2], what)
    named_state = json.loads(text)
    for place in named_state.values():
        place["resourcePath"]["configurations"] = len(place["resourcePath"]["configurations"])
    return named_state


def test_each_resource_path_drift_made_in_turn_on_one_connection_is_named(deploy: Any, nekt: NektNetwork) -> None:
    """The resource-endpoint path's drifts on one connected connection, each made by hand, named by the check and
    repaired (HEALTHY, `Connection Restored`, both accounts as the connect left them but for the ids of what the
    repair made again): the share and the endpoint; then the configuration, which AWS deletes only once no
    endpoint uses it, and the gateway, only once no configuration does."""
    database = overlapping_cluster(nekt)
    stack = deploy(nekt)
    connect = {"database": {"identifier": "orders-db", "region": nekt.region}}
    assert stack.run(connect).status == "SUCCEEDED"
    made = connections(stack)["orders-db"]["result"]["resourcePath"]
    places = [(DEFAULT_ACCOUNT, nekt.region), (nekt.account_id, nekt.region)]
    as_connected = named(snapshot(places), made)
    customer = account_session(DEFAULT_ACCOUNT, nekt.region)
    lattice, nekt_ec2 = customer.client("vpc-lattice"), account_session(nekt.account_id, nekt.region).client("ec2")

    def delete_endpoint() -> None:
        nekt_ec2.delete_vpc_endpoints(VpcEndpointIds=[made["vpcEndpointId"]])
        wait_until_gone(nekt_ec2, made["vpcEndpointId"])

    def unshare() -> None:
        customer.client("ram").disassociate_resource_share(resourceShareArn=made["resourceShareArn"],
                                                           resourceArns=[made["resourceConfigurationArn"]])

    for drift, make in (("resource-share-gone", unshare), ("resource-endpoint-gone", delete_endpoint)):
        make()
        assert checked_drift(stack, "orders-db", database) == [drift], connections(stack)["orders-db"]["health"]
        repair(stack, "orders-db")
        made = connections(stack)["orders-db"]["result"]["resourcePath"]
        assert named(snapshot(places), made) == as_connected, f"{drift} repaired"
        assert checked_drift(stack, "orders-db", database) is None, f"{drift} repaired"

    delete_endpoint()
    lattice.delete_resource_configuration(resourceConfigurationIdentifier=made["resourceConfigurationArn"])
    until(lambda: not lattice.list_resource_configurations()["items"])
    assert checked_drift(stack, "orders-db", database) == ["resource-endpoint-gone", "resource-share-gone"]
    lattice.delete_resource_gateway(resourceGatewayIdentifier=made["resourceGatewayId"])
    until(lambda: not gateway_there(lattice, made["resourceGatewayId"]))
    # Without the gateway, no group of its is admitted either.
    assert checked_drift(stack, "orders-db", database) == [
        "resource-gateway-gone", "gateway-rule-missing", "resource-endpoint-gone", "resource-share-gone"]
    repair(stack, "orders-db")
    made = connections(stack)["orders-db"]["result"]["resourcePath"]
    assert named(snapshot(places), made) == as_connected, "the whole path made again, as the connect made it"


class Relay(_Server):
    """What listens on the database's port: each connection relayed to the real server on `target`'s port."""

    def __init__(self, target: int) -> None:
        super().__init__()
        self.target = target

    def serve(self, connection: socket.socket) -> None:
        with socket.create_connection((LOOPBACK, self.target)) as server:
            pump = threading.Thread(target=self._pump, args=(server, connection), daemon=True)
            pump.start()
            self._pump(connection, server)
            pump.join(timeout=10)

    def stop(self) -> None:
        """Stops listening at once: a close alone leaves the socket listening while the accepting thread holds it."""
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
        super().stop()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def test_each_probe_stage_failed_by_hand_on_one_connection_is_named(
        deploy: Any, nekt: NektNetwork, postgres: PostgresServer, mariadb: MariaDbServer) -> None:
    """With the probe deployed, the network the probe sees from the Nekt VPC drifts in turn after the connect: the
    name resolves outside the database VPC, the address drops TCP, another engine answers on the port, nothing
    listens; the check names the probe's failed stage, and HEALTHY again once undone."""
    relay = Relay(postgres.port).start()
    try:
        world = make_world(deploy, nekt, relay.port)
        world.stack.network.place(world.endpoint, DB_ADDRESS)
        assert world.stack.run(CONNECT).status == "SUCCEEDED"

        def reachable() -> None:
            world.stack.network.place(world.endpoint, DB_ADDRESS)

        drifts = {
            "probe-dns": (lambda: world.stack.network.place(world.endpoint, "198.51.100.7", served=False), reachable),
            "probe-tcp-timeout": (lambda: world.stack.network.place(world.endpoint, DB_ADDRESS, served=False),
                                  reachable),
            "probe-handshake": (lambda: setattr(relay, "target", mariadb.port),
                                lambda: setattr(relay, "target", postgres.port)),
        }
        for drift, (make, undo) in drifts.items():
            make()
            assert checked_drift(world.stack, "orders-db", world.database) == [drift], drift
            undo()
            assert checked_drift(world.stack, "orders-db", world.database) is None, f"{drift} undone"
        relay.stop()
        assert checked_drift(world.stack, "orders-db", world.database) == ["probe-tcp-refused"]
    finally:
        relay.stop()
