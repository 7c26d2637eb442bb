"""IAM on every call (emulator/strict/iam.py): each function runs with its own role from template.yaml, the
Nekt side with the accepter role from nekt-account/template.yaml, and each call is refused as AWS refuses it
when the role does not allow it.

The workflow is the proof: the full policies let every scenario pass; removing any single statement of any
role, or narrowing a condition, makes a scenario fail at the call that statement allowed. The state
machines' roles are not evaluated: moto's Step Functions invokes Lambda and puts events in process, not
through botocore, so the layer never sees those calls (docs/aws-fidelity.md, "Not emulated").
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from emulator.accounts import establish_peering, snapshot
from emulator.apigateway import rest_event
from emulator.aws import emulated_aws
from emulator.stack import DEFAULT_ACCOUNT, Execution, Stack
from emulator.strict import StrictAws, acting_as
from emulator.strict.iam import Iam, Request, Resource, evaluate, statement_matches
from emulator.strict.layer import Principal
from emulator.template import NEKT_TEMPLATE_PATH, Template, iam_roles, sam_transformed
from emulator.topology import (
    CustomerDatabase,
    NektNetwork,
    account_session,
    add_database,
    create_database,
    create_nekt_network,
)
from nekt_peering.core.errors import VerificationFailed
from nekt_peering.registry import store
from tests.conftest import FAST_WAITS, hold_until_both_tried_the_locks, start_together

DB_REGION = "us-east-2"
StatementKey = tuple[str, str, int]  # (role's logical id, policy name, statement index)
Tamper = Callable[["World"], None]


# --- every statement of every role the emulator evaluates -----------------------------------------------------


def _template_statements() -> dict[StatementKey, dict[str, Any]]:
    """Both templates' roles as CloudFormation creates them, both ways HasAccepterRole can go. The state
    machines' roles are left out: their calls never reach the layer."""
    main = Template()
    values = {**main.parameter_defaults(), "NektAccountId": "111111111111", "NektRegion": "us-east-1",
              "NektVpcId": "vpc-0123456789abcdef0", "NektExternalId": "x" * 16,
              "NektPlatformPrincipalArn": "arn:aws:iam::111111111111:role/platform", "AWS::AccountId": DEFAULT_ACCOUNT,
              "AWS::Region": "us-east-1", "AWS::Partition": "aws", "AWS::StackName": "nekt-peering",
              "AWS::URLSuffix": "amazonaws.com"}
    references = {key: f"arn:aws:lambda:us-east-1:{DEFAULT_ACCOUNT}:function:{logical_id}"
                  for logical_id in main.resources for key in (logical_id, f"{logical_id}.Arn", f"{logical_id}.Name")}
    found: dict[StatementKey, dict[str, Any]] = {}
    transformed = sam_transformed(main.body, "us-east-1")
    for accepter in ("arn:aws:iam::111111111111:role/nekt-peering-accepter-123456789012", ""):
        roles = iam_roles(transformed, {**values, "NektAccepterRoleArn": accepter}, references)
        for role_id, spec in roles.items():
            if "StateMachine" in role_id or role_id == "SweepScheduleRole":  # Scheduler starts it, not botocore
                continue
            for policy, document in spec.policies.items():
                for index, statement in enumerate(document["Statement"]):
                    found[(role_id, policy, index)] = statement
    nekt = Template(NEKT_TEMPLATE_PATH)
    nekt_values = {**nekt.parameter_defaults(), "DatabaseAccountId": DEFAULT_ACCOUNT, "ExternalId": "x" * 16,
                   "NektVpcId": "vpc-0123456789abcdef0", "NektRouteTableId": "rtb-0123456789abcdef0",
                   "AWS::AccountId": "111111111111", "AWS::Region": "us-east-1", "AWS::Partition": "aws"}
    for role_id, spec in iam_roles(nekt.body, nekt_values, {}).items():
        for policy, document in spec.policies.items():
            for index, statement in enumerate(document["Statement"]):
                found[(role_id, policy, index)] = statement
    return found


STATEMENTS = _template_statements()


def statement_id(key: StatementKey) -> str:
    actions = STATEMENTS[key]["Action"]
    actions = actions if isinstance(actions, list) else [actions]
    return f"{key[1]}[{key[2]}]:{'+'.join(action.split(':')[1] for action in actions)}"


# --- the scenarios: real workflows, each in its own emulated AWS ---------------------------------------------


@dataclass
class World:
    stack: Stack
    nekt: NektNetwork
    database: CustomerDatabase

    def role_arn(self, role_id: str) -> str:
        if role_id == "AccepterRole":
            return self.nekt.accepter_role_arn
        return self.stack.role_arns[role_id.removesuffix("Role")]

    def role_ids(self) -> dict[str, str]:
        return {**{arn: f"{owner}Role" for owner, arn in self.stack.role_arns.items()},
                self.nekt.accepter_role_arn: "AccepterRole"}


@dataclass
class Outcome:
    ok: bool  # the scenario ended as it does with the full policies
    detail: str
    refusals: list[tuple[str, str, str]]  # (operation, code, message)
    decisive: set[StatementKey] = field(default_factory=set)  # statements that alone allowed some call


def _connect_input(**extra: Any) -> dict[str, Any]:
    return {"database": {"identifier": "orders-db", "region": DB_REGION}, **extra}


def _disconnect(stack: Stack) -> Execution:
    return stack.run({"connectionId": "orders-db", "region": DB_REGION}, state_machine="DisconnectStateMachine")


def _fail_verify(stack: Stack) -> None:
    def fault(event: dict[str, Any]) -> None:
        raise VerificationFailed("the connection is incomplete: (test) a route went missing")

    stack.runtime.before_invoke("VerifyFunction", fault)


def _rolled_back(world: World, connect: Callable[[], Execution]) -> tuple[bool, str]:
    """The connect fails at Verify and leaves both accounts as they were."""
    places = [(DEFAULT_ACCOUNT, DB_REGION), (world.nekt.account_id, world.nekt.region)]
    before = snapshot(places)
    execution = connect()
    undone = snapshot(places) == before
    recorded = _registry_says_failed_and_unlocked(world.stack)
    return (execution.error == "VerificationFailed" and "Rolled back:" in (execution.cause or "") and undone
            and recorded, f"{execution.error}: {execution.error_message} (accounts as before: {undone}; registry "
                          f"FAILED, locks released: {recorded})")


def _registry_says_failed_and_unlocked(stack: Stack) -> bool:
    items = [store.from_item(item) for item in boto3.client("dynamodb", region_name=stack.region).scan(
        TableName=stack.tables["ConnectionsTable"])["Items"]]
    connection = next((item for item in items if item["pk"] == "connection#orders-db"), {})
    return connection.get("state") == "FAILED" and not any(
        "holder" in item for item in items if item["pk"].startswith("lock#"))


def connect_and_disconnect(world: World) -> tuple[bool, str]:
    """A publicly accessible database reached through the peering (so the DNS option too), then removed."""
    connected = world.stack.run(_connect_input(mode="peering"))
    if connected.status != "SUCCEEDED":
        return False, f"connect {connected.error}: {connected.error_message}"
    disconnected = _disconnect(world.stack)
    return disconnected.status == "SUCCEEDED", f"disconnect {disconnected.error}: {disconnected.error_message}"


def check_path(world: World) -> tuple[bool, str]:
    """The path of a connected connection checked again later (the check-path state machine), changing nothing."""
    connected = world.stack.run(_connect_input(mode="peering"))
    if connected.status != "SUCCEEDED":
        return False, f"connect {connected.error}: {connected.error_message}"
    places = [(DEFAULT_ACCOUNT, DB_REGION), (world.nekt.account_id, world.nekt.region)]
    before = snapshot(places)
    checked = world.stack.run({**_connect_input(mode="peering"), "connectionId": "orders-db"},
                              state_machine="CheckPathStateMachine")
    unchanged = snapshot(places) == before
    return (checked.status == "SUCCEEDED" and unchanged,
            f"check path {checked.error}: {checked.error_message} (accounts as before: {unchanged})")


def sweep(world: World) -> tuple[bool, str]:
    """The health sweep over a connected connection, started as its schedule starts it: it pages the registry,
    checks the connection (the check-path role), and counts the connections by health into CloudWatch."""
    connected = world.stack.run(_connect_input(mode="peering"))
    if connected.status != "SUCCEEDED":
        return False, f"connect {connected.error}: {connected.error_message}"
    swept = world.stack.wait(world.stack.fire_schedule())
    return (swept.status == "SUCCEEDED" and swept.output == {"HEALTHY": 1, "DEGRADED": 0},
            f"sweep {swept.error}: {swept.error_message} ({swept.output})")


def repair_gone_peering(world: World) -> tuple[bool, str]:
    """The connection's peering deleted by hand, then repaired (a connect of the connection): a new peering, its
    DNS option, and the connection's routes to the gone one replaced on both sides."""
    connected = world.stack.run(_connect_input(mode="peering"))
    if connected.status != "SUCCEEDED":
        return False, f"connect {connected.error}: {connected.error_message}"
    gone = connected.output["peeringConnectionId"]
    account_session(DEFAULT_ACCOUNT, DB_REGION).client("ec2").delete_vpc_peering_connection(
        VpcPeeringConnectionId=gone)
    repaired = world.stack.run({**_connect_input(mode="peering"), "connectionId": "orders-db"})
    new = (repaired.output or {}).get("peeringConnectionId")
    return (repaired.status == "SUCCEEDED" and new not in (None, gone),
            f"repair {repaired.error}: {repaired.error_message} (peering {gone} -> {new})")


def rollback(world: World) -> tuple[bool, str]:
    """Verify fails after every change: each compensation runs."""
    _fail_verify(world.stack)
    return _rolled_back(world, lambda: world.stack.run(_connect_input(mode="peering")))


def full_route_tables(world: World) -> tuple[bool, str]:
    """Both sides' route tables one route short of AWS's default quota: Discover reads the accounts' actual
    quota values on both sides (a raised one would let the connect go on), and Preflight refuses before any
    change."""
    places = [(DEFAULT_ACCOUNT, DB_REGION), (world.nekt.account_id, world.nekt.region)]
    tables = [(DEFAULT_ACCOUNT, DB_REGION, world.database.vpc_id, world.database.route_table_ids[0]),
              (world.nekt.account_id, world.nekt.region, world.nekt.vpc_id, world.nekt.private_route_table_id)]
    for account_id, region, vpc_id, table_id in tables:
        ec2 = account_session(account_id, region).client("ec2")
        gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
        for n in range(50):
            ec2.create_route(RouteTableId=table_id, DestinationCidrBlock=f"172.16.{n}.0/24", GatewayId=gateway)
    before = snapshot(places)
    execution = world.stack.run(_connect_input(mode="peering"))
    unchanged = snapshot(places) == before
    return (execution.error == "QuotaExceeded" and unchanged,
            f"{execution.error}: {execution.error_message} (accounts as before: {unchanged})")


def same_account(world: World) -> tuple[bool, str]:
    return connect_and_disconnect(world)


def api(world: World) -> tuple[bool, str]:
    """The Nekt platform's calls: start, follow, list, then remove."""
    stack = world.stack

    def call(method: str, path: str, body: Any = None) -> dict[str, Any]:
        return dict(stack.invoke("ApiFunction", rest_event(method, path, json.dumps(body) if body else None)))

    def settle(answer: dict[str, Any]) -> None:
        arn = json.loads(answer["body"]).get("executionArn")
        if arn:
            stack.wait(arn)

    try:
        answers = [call("POST", "/connections", {"database": {"identifier": "orders-db", "region": DB_REGION},
                                                 "mode": "peering"})]
        settle(answers[-1])
        answers += [call("GET", "/connections/orders-db"), call("GET", "/connections")]
        answers.append(call("DELETE", "/connections/orders-db"))
        settle(answers[-1])
        answers.append(call("GET", "/connections/orders-db"))
    except RuntimeError as error:
        return False, str(error)
    statuses = [answer["statusCode"] for answer in answers]
    final = json.loads(answers[-1]["body"]).get("status")
    return statuses == [202, 200, 200, 202, 200] and final == "DISCONNECTED", f"{statuses} {final}"


def reused(world: World) -> tuple[bool, str]:
    """An active peering the customer or Nekt made, reused: the DNS option is turned on on the database's
    side, then turned back off by the rollback."""
    _fail_verify(world.stack)
    return _rolled_back(world, lambda: world.stack.run(_connect_input(mode="peering")))


def retried(world: World) -> tuple[bool, str]:
    """Step Functions may run a task twice: each stage finds its first attempt's work and reads it back."""
    world.stack.runtime.repeat = 2
    connected = world.stack.run(_connect_input(mode="peering"))
    return connected.status == "SUCCEEDED", f"{connected.error}: {connected.error_message}"


def concurrent(world: World) -> tuple[bool, str]:
    """The same connection started twice at once: the second reads the first's input and stands down."""
    hold_until_both_tried_the_locks(world.stack, "PreflightFunction")
    executions = start_together(world.stack, [(_connect_input(mode="peering"), "ConnectStateMachine")] * 2)
    outcome = sorted((execution.status, execution.error) for execution in executions)
    return outcome == [("FAILED", "ConnectionBusy"), ("SUCCEEDED", None)], str(outcome)


def shared(world: World) -> tuple[bool, str]:
    """Two databases of one VPC, each on its own group: the first is disconnected, and the disconnect reads
    again, on both sides, everything the second relies on."""
    add_database(world.database, "billing-db", same_security_group=False)  # private: through the peering
    for identifier in ("orders-db", "billing-db"):
        connected = world.stack.run({"database": {"identifier": identifier, "region": DB_REGION}, "mode": "peering"})
        if connected.status != "SUCCEEDED":
            return False, f"connect {identifier} {connected.error}: {connected.error_message}"
    disconnected = _disconnect(world.stack)
    return disconnected.status == "SUCCEEDED", f"disconnect {disconnected.error}: {disconnected.error_message}"


def _existing_peering(nekt: NektNetwork, vpc_id: str, requested_by: str) -> None:
    """An active peering between the two VPCs, requested from the Nekt side or the database's."""
    nekt_ec2 = account_session(nekt.account_id, nekt.region).client("ec2")
    database_ec2 = account_session(DEFAULT_ACCOUNT, DB_REGION).client("ec2")
    if requested_by == "nekt":
        establish_peering(nekt_ec2, database_ec2, VpcId=nekt.vpc_id, PeerVpcId=vpc_id, PeerOwnerId=DEFAULT_ACCOUNT,
                          PeerRegion=DB_REGION)
    else:
        establish_peering(database_ec2, nekt_ec2, VpcId=vpc_id, PeerVpcId=nekt.vpc_id, PeerOwnerId=nekt.account_id,
                          PeerRegion=nekt.region)


def resource_endpoint_once(world: World) -> tuple[bool, str]:
    """The resource-endpoint path (the database VPC overlaps Nekt's): one connect, then its disconnect."""
    region = world.database.region
    connected = world.stack.run({"database": {"identifier": "orders-db", "region": region}})
    if connected.status != "SUCCEEDED" or connected.output["mode"] != "resource-endpoint":
        return False, f"connect {connected.error}: {connected.error_message}"
    disconnected = world.stack.run({"connectionId": "orders-db", "region": region},
                                   state_machine="DisconnectStateMachine")
    return disconnected.status == "SUCCEEDED", f"disconnect {disconnected.error}: {disconnected.error_message}"


def resource_endpoint(world: World) -> tuple[bool, str]:
    """The resource-endpoint path (the database VPC overlaps Nekt's) for two databases of one VPC; the first's
    share loses its configuration (an operator's slip) and a connect again repairs it; then the first is
    disconnected while the second keeps the gateway, which the disconnect reads again; then the second, and the
    gateway with it."""
    region = world.database.region
    add_database(world.database, "billing-db", same_security_group=False)
    results = {}
    for identifier in ("orders-db", "billing-db"):
        connected = world.stack.run({"database": {"identifier": identifier, "region": region}})
        if connected.status != "SUCCEEDED" or connected.output["mode"] != "resource-endpoint":
            return False, f"connect {identifier} {connected.error}: {connected.error_message}"
        results[identifier] = connected.output["resourcePath"]
    share_arn = results["orders-db"]["resourceShareArn"]
    if share_arn:  # another account's Nekt: a share
        account_session(DEFAULT_ACCOUNT, region).client("ram").disassociate_resource_share(
            resourceShareArn=share_arn, resourceArns=[results["orders-db"]["resourceConfigurationArn"]])
    repaired = world.stack.run({"database": {"identifier": "orders-db", "region": region}})
    if repaired.status != "SUCCEEDED":
        return False, f"connect again {repaired.error}: {repaired.error_message}"
    for identifier in ("orders-db", "billing-db"):  # the gateway stays for billing-db, then goes with it
        disconnected = world.stack.run({"connectionId": identifier, "region": region},
                                       state_machine="DisconnectStateMachine")
        if disconnected.status != "SUCCEEDED":
            return False, f"disconnect {identifier} {disconnected.error}: {disconnected.error_message}"
    return True, ""


def database_kinds(world: World) -> tuple[bool, str]:
    """A database on EC2 named by its private DNS name (a Route 53 private hosted zone's record), a Redshift cluster
    and a Serverless workgroup (database.kind), each connected by peering, its path checked again (Discover's reads,
    in the check-path role too), then disconnected."""
    warehouse = create_database(identifier="warehouse", region=DB_REGION, cidr="10.30.0.0/16", kind="ec2")
    analytics = create_database(identifier="analytics", region=DB_REGION, cidr="10.40.0.0/16", kind="redshift",
                                port=5439)
    serverless = create_database(identifier="serverless", region=DB_REGION, cidr="10.50.0.0/16",
                                 kind="redshift-serverless", port=5439)
    route53 = account_session(DEFAULT_ACCOUNT, DB_REGION).client("route53")
    zone_id = route53.create_hosted_zone(
        Name="corp.internal", CallerReference=warehouse.vpc_id, HostedZoneConfig={"Comment": "", "PrivateZone": True},
        VPC={"VPCRegion": DB_REGION, "VPCId": warehouse.vpc_id})["HostedZone"]["Id"]
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "CREATE",
        "ResourceRecordSet": {"Name": "warehouse.corp.internal", "Type": "A", "TTL": 60,
                              "ResourceRecords": [{"Value": warehouse.private_ip}]}}]})
    for database, kind in ((warehouse, "address"), (analytics, "redshift"), (serverless, "redshift-serverless")):
        request = database.connect_input(kind, mode="peering")
        if kind == "address":
            request["database"]["host"] = "warehouse.corp.internal"
        connected = world.stack.run(request)
        if connected.status != "SUCCEEDED":
            return False, f"connect {kind} {connected.error}: {connected.error_message}"
        connection_id = connected.output["connectionId"]
        checked = world.stack.run({**request, "connectionId": connection_id}, state_machine="CheckPathStateMachine")
        if checked.status != "SUCCEEDED":
            return False, f"check path {kind} {checked.error}: {checked.error_message}"
        disconnected = world.stack.run({"connectionId": connection_id, "region": DB_REGION},
                                       state_machine="DisconnectStateMachine")
        if disconnected.status != "SUCCEEDED":
            return False, f"disconnect {kind} {disconnected.error}: {disconnected.error_message}"
    return True, ""


# Cheapest first: a statement is removed in the first scenario that needs it.
SCENARIOS: dict[str, Callable[[World], tuple[bool, str]]] = {
    "same-account": same_account, "retried": retried, "reused-from-database": reused, "rollback": rollback,
    "reused-from-nekt": reused, "connect-and-disconnect": connect_and_disconnect, "api": api,
    "concurrent": concurrent, "full-route-tables": full_route_tables, "check-path": check_path, "sweep": sweep,
    "repair-gone-peering": repair_gone_peering, "shared": shared,
    "resource-endpoint-same-account": resource_endpoint_once, "resource-endpoint-once": resource_endpoint_once,
    "resource-endpoint": resource_endpoint, "database-kinds": database_kinds,
}


def build_world(scenario: str, stack_name: str = "nekt-peering", **parameters: str) -> World:
    if scenario.startswith("resource-endpoint"):  # an Aurora cluster in Nekt's Region, its VPC overlapping Nekt's
        nekt = create_nekt_network(account_id=DEFAULT_ACCOUNT) if scenario.endswith("same-account") else \
            create_nekt_network()
        database = create_database(region=nekt.region, cidr="10.100.0.0/16", kind="cluster", engine="postgresql")
        # DNS hostnames on in the Nekt VPC: the endpoint gets private DNS for the cluster's names (every statement).
        account_session(nekt.account_id, nekt.region).client("ec2").modify_vpc_attribute(
            VpcId=nekt.vpc_id, EnableDnsHostnames={"Value": True})
        stack = Stack({**nekt.stack_parameters(), **FAST_WAITS, **parameters}, name=stack_name).deploy()
        return World(stack, nekt, database)
    if scenario == "same-account":
        nekt = create_nekt_network(account_id=DEFAULT_ACCOUNT, region="us-east-1")
        database = create_database(region=DB_REGION, cidr="10.20.0.0/16", publicly_accessible=True)
    else:
        nekt = create_nekt_network()
        database = create_database(region=DB_REGION, publicly_accessible=True)
        if scenario.startswith("reused-from-"):
            _existing_peering(nekt, database.vpc_id, requested_by=scenario.removeprefix("reused-from-"))
    # A public database through the peering needs the DNS option (every statement is exercised), which
    # AWS allows only with DNS hostnames on in both VPCs (off by default for a VPC made by API).
    for account_id, region, vpc_id in ((nekt.account_id, nekt.region, nekt.vpc_id),
                                       (DEFAULT_ACCOUNT, DB_REGION, database.vpc_id)):
        account_session(account_id, region).client("ec2").modify_vpc_attribute(
            VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    stack = Stack({**nekt.stack_parameters(), **FAST_WAITS, **parameters}, name=stack_name).deploy()
    return World(stack, nekt, database)


# What IAM answers; the other strict rules refuse too (a peering not visible yet is NotFound), and the
# workflow copes with those.
IAM_REFUSAL_CODES = {"UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "NotEmulated"}


def run_scenario(scenario: str, strict: StrictAws, tamper: Tamper | None = None, **parameters: str) -> Outcome:
    """The scenario in the current emulated AWS, `tamper` applied to the deployed roles first."""
    world = build_world(scenario, **parameters)
    try:
        if tamper is not None:
            tamper(world)
        iam: Iam = strict.rule("iam")  # type: ignore[assignment]
        seen, refused = len(iam.decisions), len(strict.refusals)
        ok, detail = SCENARIOS[scenario](world)
        role_ids = world.role_ids()
        decisive = {(role_ids[role], policy, index) for role, _, verdict in iam.decisions[seen:] if verdict.allowed
                    for allows in verdict.allowed_by if len(allows) == 1 for policy, index in allows
                    if role in role_ids}
        iam_refusals = [refusal for refusal in strict.refusals[refused:] if refusal[1] in IAM_REFUSAL_CODES]
        return Outcome(ok, detail, iam_refusals, decisive)
    finally:
        world.stack.close()


@pytest.fixture(scope="module")
def baseline() -> dict[str, Outcome]:
    """Each scenario once with the full policies: what it needs, statement by statement."""
    return _baseline()


# Once per process, even if pytest sets the module's fixtures up again. `make test` (--dist loadfile) runs
# this whole file on one pytest-xdist worker, so the scenarios run once per test run.
@functools.cache
def _baseline() -> dict[str, Outcome]:
    outcomes = {}
    with pytest.MonkeyPatch.context() as env:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1", "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}.items():
            env.setenv(name, value)
        for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            env.delenv(key, raising=False)
        for scenario in SCENARIOS:
            with emulated_aws() as strict:
                outcomes[scenario] = run_scenario(scenario, strict)
    return outcomes


# --- changing the deployed roles as an operator would --------------------------------------------------------


def _iam_of(role_arn: str) -> Any:
    return account_session(role_arn.split(":")[4], "us-east-1").client("iam")


def edit_statement(world: World, key: StatementKey, change: Callable[[list[dict[str, Any]]], None]) -> None:
    role_id, policy, _ = key
    role_arn = world.role_arn(role_id)
    iam, role_name = _iam_of(role_arn), role_arn.rsplit("/", 1)[1]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else copy.deepcopy(document)
    change(document["Statement"])
    if document["Statement"]:
        iam.put_role_policy(RoleName=role_name, PolicyName=policy, PolicyDocument=json.dumps(document))
    else:
        iam.delete_role_policy(RoleName=role_name, PolicyName=policy)


def without(key: StatementKey) -> Tamper:
    return lambda world: edit_statement(world, key, lambda statements: statements.pop(key[2]))


def narrowed(key: StatementKey, operator: str, condition_key: str, value: Any) -> Tamper:
    def change(statements: list[dict[str, Any]]) -> None:
        statements[key[2]]["Condition"][operator][condition_key] = value

    return lambda world: edit_statement(world, key, change)


def _key(role_id: str, action: str, needle: str = "") -> StatementKey:
    """The statement of `role_id` that allows `action` (and whose JSON contains `needle`)."""
    [key] = [key for key, statement in STATEMENTS.items() if key[0] == role_id
             and action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
             and needle in json.dumps(statement)]
    return key


# --- the full policies let every scenario pass ----------------------------------------------------------------


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_full_policies_let_every_scenario_pass(baseline: dict[str, Outcome], scenario: str) -> None:
    outcome = baseline[scenario]
    assert outcome.ok, outcome.detail
    assert outcome.refusals == []


def test_every_statement_of_every_role_is_needed_by_some_scenario(baseline: dict[str, Outcome]) -> None:
    needed = set().union(*(outcome.decisive for outcome in baseline.values()))
    unneeded = set(STATEMENTS) - needed
    assert sorted(unneeded) == [], "statements no scenario needs: add a scenario, or remove them"


# --- removing any single statement fails the workflow where AWS would ----------------------------------------


@pytest.mark.parametrize("key", sorted(STATEMENTS), ids=statement_id)
def test_removing_any_statement_fails_the_workflow_where_aws_would(
    baseline: dict[str, Outcome], key: StatementKey
) -> None:
    scenarios = [name for name, outcome in baseline.items() if key in outcome.decisive]
    assert scenarios, f"no scenario needs {key}"
    statement = STATEMENTS[key]
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]

    # Cheapest first. A statement some scenarios need only on one timing (DescribeExecution of its own
    # execution, when ListExecutions does not show it yet) is shown needed by the next scenario that needs it.
    # Each in an emulated AWS of its own, as in the baseline: a scenario's world is made anew.
    for scenario in scenarios:
        with emulated_aws() as strict:
            outcome = run_scenario(scenario, strict, without(key))
        if not outcome.ok:
            break
    assert not outcome.ok, f"{', '.join(scenarios)} still pass without {key}"
    refused = [message for _, code, message in outcome.refusals
               if code in ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException")]
    assert any(f"perform: {action} on resource" in message for message in refused for action in actions), refused


def test_plain_moto_would_not_notice_a_missing_statement(strict: StrictAws) -> None:
    world = build_world("rollback")
    without(_key("RequestPeeringFunctionRole", "ec2:CreateVpcPeeringConnection", "ec2:AccepterVpc"))(world)
    try:
        refused, detail = rollback(world)
        with strict.relax("iam"):
            relaxed, _ = rollback(world)
    finally:
        world.stack.close()
    assert not refused and "not authorized to perform: ec2:CreateVpcPeeringConnection" in detail, detail
    assert relaxed, "moto ignores IAM: the same roles let the workflow through"


# --- narrowing a condition fails where AWS would ------------------------------------------------------------


OTHER_VPC = "arn:aws:ec2:us-east-1:111111111111:vpc/vpc-0fffffffffffffff0"
NARROWED = {
    "accepter VPC of the request": ("rollback", _key(
        "RequestPeeringFunctionRole", "ec2:CreateVpcPeeringConnection", "ec2:AccepterVpc"),
        "ArnEquals", "ec2:AccepterVpc", OTHER_VPC, "ec2:CreateVpcPeeringConnection"),
    "tag of the new ingress rule": ("rollback", _key(
        "AuthorizeIngressFunctionRole", "ec2:AuthorizeSecurityGroupIngress", "aws:RequestTag"),
        "StringEquals", "aws:RequestTag/nekt:managed-by", "someone-else", "ec2:AuthorizeSecurityGroupIngress"),
    "tag of the peering to delete": ("rollback", _key("DeletePeeringFunctionRole", "ec2:DeleteVpcPeeringConnection"),
                                     "StringEquals", "aws:ResourceTag/nekt:managed-by", "someone-else",
                                     "ec2:DeleteVpcPeeringConnection"),
    "requester account of an accepted peering": ("rollback", _key("AccepterRole", "ec2:AcceptVpcPeeringConnection",
                                                                  "RequesterVpc"),
                                                 "ArnLike", "ec2:RequesterVpc", "arn:aws:ec2:*:222222222222:vpc/*",
                                                 "ec2:AcceptVpcPeeringConnection"),
    "tag keys on create": ("rollback", _key("RequestPeeringFunctionRole", "ec2:CreateTags"),
                           "ForAllValues:StringEquals", "aws:TagKeys", ["Name"], "ec2:CreateTags"),
    "namespace of the sweep's metric": ("sweep", _key("RecordSweepFunctionRole", "cloudwatch:PutMetricData"),
                                        "StringEquals", "cloudwatch:namespace", "SomeoneElse",
                                        "cloudwatch:PutMetricData"),
}


@pytest.mark.parametrize("case", list(NARROWED))
def test_narrowing_a_condition_fails_where_aws_would(strict: StrictAws, case: str) -> None:
    scenario, key, operator, condition_key, value, action = NARROWED[case]

    outcome = run_scenario(scenario, strict, narrowed(key, operator, condition_key, value))

    assert not outcome.ok, outcome.detail
    assert any(f"perform: {action} on resource" in message for _, _, message in outcome.refusals), outcome.refusals


# --- the accepter role's trust policy -----------------------------------------------------------------------


@pytest.mark.parametrize(("case", "stack_name", "parameters"), [
    ("wrong external id", "nekt-peering", {"NektExternalId": "not-the-external-id"}),
    ("a role outside the stack's path", "another-stack", {}),
])
def test_the_trust_policy_refuses_a_wrong_external_id_or_a_role_outside_the_path(
    strict: StrictAws, case: str, stack_name: str, parameters: dict[str, str]
) -> None:
    outcome = run_scenario("rollback", strict, **parameters, stack_name=stack_name)

    assert not outcome.ok
    assert "AccessDenied" in outcome.detail and "could not assume" in outcome.detail, outcome.detail
    [(operation, code, message), *_] = outcome.refusals
    assert (operation, code) == ("AssumeRole", "AccessDenied")
    assert f"assumed-role/{stack_name}-DiscoverFunctionRole-" in message
    assert ("is not authorized to perform: sts:AssumeRole on resource: "
            "arn:aws:iam::111111111111:role/nekt-peering-accepter-123456789012") in message


# --- refusals as AWS words them, and nothing allowed by accident -------------------------------------------


@pytest.fixture
def deployed(strict: StrictAws) -> Iterator[World]:
    world = build_world("rollback")
    yield world
    world.stack.close()


def test_refusals_are_worded_as_each_service_words_them(deployed: World) -> None:
    role = deployed.stack.role_arns["PeeringStatusFunction"]
    session = f"arn:aws:sts::{DEFAULT_ACCOUNT}:assumed-role/{role.rsplit('/', 1)[1]}/"
    with acting_as(role):
        calls: list[tuple[Callable[[], Any], str, int, str]] = [
            (lambda: boto3.client("ec2", region_name=DB_REGION).create_route(
                RouteTableId="rtb-0123456789abcdef0", DestinationCidrBlock="10.9.0.0/16",
                VpcPeeringConnectionId="pcx-0123456789abcdef0"), "UnauthorizedOperation", 403,
             "You are not authorized to perform this operation. User: " + session),
            (lambda: boto3.client("sts", region_name="us-east-1").assume_role(
                RoleArn=deployed.nekt.accepter_role_arn, RoleSessionName="session", ExternalId="x" * 16),
             "AccessDenied", 403, "User: " + session),
            (lambda: boto3.client("stepfunctions", region_name="us-east-1").list_executions(
                stateMachineArn=deployed.stack.state_machine_arns["ConnectStateMachine"]),
             "AccessDeniedException", 400, "User: " + session),
            (lambda: boto3.client("rds", region_name=DB_REGION).describe_db_instances(),
             "AccessDenied", 403, "User: " + session),
        ]
        for call, code, status, start in calls:
            with pytest.raises(ClientError) as refused:
                call()
            error = refused.value.response
            assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
            assert error["Error"]["Message"].startswith(start)
            assert "because no identity-based policy allows the" in error["Error"]["Message"]


def test_an_operation_without_a_request_context_is_refused_loudly(deployed: World) -> None:
    with acting_as(deployed.stack.role_arns["DiscoverFunction"]), pytest.raises(ClientError) as refused:
        boto3.client("ec2", region_name=DB_REGION).describe_key_pairs()
    assert refused.value.response["Error"]["Code"] == "NotEmulated"
    assert "ec2:DescribeKeyPairs" in str(refused.value) and "emulator/strict/iam.py" in str(refused.value)


def test_a_condition_key_the_emulator_does_not_set_is_refused_loudly(deployed: World) -> None:
    key = _key("EnableDnsResolutionFunctionRole", "ec2:ModifyVpcPeeringConnectionOptions", "ec2:AccepterVpc")
    edit_statement(deployed, key, lambda statements: statements[key[2]]["Condition"].update(
        {"StringEquals": {"ec2:Attribute/AllowDnsResolutionFromRemoteVpc": "true"}}))
    with acting_as(deployed.stack.role_arns["EnableDnsResolutionFunction"]), pytest.raises(ClientError) as refused:
        boto3.client("ec2", region_name=DB_REGION).modify_vpc_peering_connection_options(
            VpcPeeringConnectionId="pcx-0123456789abcdef0",
            RequesterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": True})
    assert refused.value.response["Error"]["Code"] == "NotEmulated"
    assert "ec2:Attribute/AllowDnsResolutionFromRemoteVpc" in str(refused.value)


def test_the_harness_is_not_evaluated(deployed: World) -> None:
    boto3.client("ec2", region_name=DB_REGION).describe_instances()  # no role: the test itself


# --- the policy language ----------------------------------------------------------------------------------


ROLE = "arn:aws:iam::123456789012:role/nekt-peering/stack/FunctionRole"
PEERING = Resource("vpc-peering-connection", "arn:aws:ec2:us-east-2:123456789012:vpc-peering-connection/pcx-1",
                   {"ec2:AccepterVpc": ["arn:aws:ec2:us-east-1:111111111111:vpc/vpc-1"],
                    "aws:ResourceTag/nekt:managed-by": ["nekt-peering"]},
                   known={"ec2:AccepterVpc", "ec2:RequesterVpc", "aws:ResourceTag/${TagKey}", "aws:TagKeys",
                          "aws:RequestTag/${TagKey}"})


def _allows(statement: dict[str, Any], action: str = "ec2:DeleteVpcPeeringConnection") -> bool:
    full = {"Effect": "Allow", "Action": action, "Resource": "*", **statement}
    return statement_matches(full, action, PEERING, {"ec2:AccepterVpc", "ec2:RequesterVpc",
                                                      "aws:ResourceTag/${TagKey}"})


@pytest.mark.parametrize(("statement", "allowed"), [
    ({"Resource": "arn:aws:ec2:*:123456789012:vpc-peering-connection/*"}, True),
    ({"Resource": "arn:aws:ec2:*:222222222222:vpc-peering-connection/*"}, False),
    ({"Action": "ec2:Delete*"}, True),
    ({"Action": "EC2:deletevpcpeeringconnection"}, True),  # actions match case-insensitively
    ({"Condition": {"ArnLike": {"ec2:AccepterVpc": "arn:aws:ec2:*:111111111111:vpc/*"}}}, True),
    ({"Condition": {"ArnEquals": {"ec2:AccepterVpc": "arn:aws:ec2:us-east-1:111111111111:vpc/vpc-2"}}}, False),
    ({"Condition": {"ArnEquals": {"ec2:RequesterVpc": "arn:aws:ec2:*:*:vpc/*"}}}, False),  # absent key
    ({"Condition": {"ArnEqualsIfExists": {"ec2:RequesterVpc": "arn:aws:ec2:*:*:vpc/vpc-9"}}}, True),
    ({"Condition": {"Null": {"ec2:RequesterVpc": "true"}}}, True),
    ({"Condition": {"Null": {"aws:TagKeys": "false"}}}, False),
    ({"Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["Name"]}}}, True),  # no keys: vacuously true
    ({"Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["Name"]}}}, False),
    ({"Condition": {"StringEquals": {"aws:ResourceTag/nekt:managed-by": ["other", "nekt-peering"]}}}, True),
    ({"Condition": {"StringLike": {"aws:ResourceTag/nekt:managed-by": "nekt-*"}}}, True),
    ({"Condition": {"StringNotEquals": {"aws:ResourceTag/nekt:managed-by": "nekt-peering"}}}, False),
    ({"Condition": {"StringEquals": {"aws:ResourceTag/nekt:managed-by": "nekt-peering"},
                    "ArnEquals": {"ec2:AccepterVpc": OTHER_VPC}}}, False),  # every operator must hold
], ids=lambda value: json.dumps(value) if isinstance(value, dict) else str(value))
def test_the_policy_language(statement: dict[str, Any], allowed: bool) -> None:
    assert _allows(statement) is allowed


def test_not_action_and_not_resource_allow_everything_else() -> None:
    def matches(statement: dict[str, Any]) -> bool:
        return statement_matches({"Effect": "Allow", **statement}, "ec2:DeleteVpcPeeringConnection", PEERING, set())

    assert not matches({"NotAction": "ec2:Delete*", "Resource": "*"})
    assert matches({"NotAction": "ec2:Create*", "Resource": "*"})
    assert not matches({"Action": "ec2:*", "NotResource": "arn:aws:ec2:*:*:vpc-peering-connection/*"})


def test_an_explicit_deny_wins_over_any_allow() -> None:
    request = Request([("ec2:DeleteVpcPeeringConnection", [PEERING])])
    allow = {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "ec2:DeleteVpcPeeringConnection", "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/nekt:managed-by": "nekt-peering"}}}
    principal = Principal(DEFAULT_ACCOUNT, ROLE)
    assert evaluate({"allow": [allow]}, request, principal).allowed
    verdict = evaluate({"allow": [allow], "deny": [deny]}, request, principal)
    assert not verdict.allowed and verdict.reason == "with an explicit deny in an identity-based policy"
