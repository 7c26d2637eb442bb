"""The rest of the network (emulator/strict/network.py): each rule refuses or corrects what AWS would, and
relaxed shows the plain moto behaviour it guards against; then the workflow on those rules, with the
product fixes they called for (docs/aws-fidelity.md, "The rest of the network")."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.rds.models import rds_backends

from emulator.accounts import snapshot
from emulator.stack import DEFAULT_ACCOUNT, Stack
from emulator.strict import AwsError, Call, Rule, StrictAws
from emulator.strict.network import NewExecutionsInvisible, Quotas, share_vpc
from emulator.topology import NektNetwork, account_session, create_database
from nekt_peering.core.compensation import Rollback
from nekt_peering.peering.undo import restore_dns_resolution
from tests.conftest import hold_until_both_tried_the_locks

REGION = "us-east-2"
NEKT_ACCOUNT = "111111111111"
OWNER_ACCOUNT = "222222222222"  # shares its VPC with the database account (AWS RAM)
INPUT = {"database": {"identifier": "orders-db", "region": REGION}}
DNS_ON = {"AllowDnsResolutionFromRemoteVpc": True}


def ec2(account_id: str = DEFAULT_ACCOUNT, region: str = REGION) -> Any:
    return account_session(account_id, region).client("ec2")


def code_of(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def vpc(account_id: str = DEFAULT_ACCOUNT, region: str = REGION, cidr: str = "10.0.0.0/16",
        dns_hostnames: bool = False) -> str:
    """A VPC made by API: DNS support on, DNS hostnames off, as AWS makes it (unless `dns_hostnames`)."""
    client = ec2(account_id, region)
    vpc_id = str(client.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"])
    if dns_hostnames:
        client.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    return vpc_id


def database_and_nekt_vpcs() -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    database = (DEFAULT_ACCOUNT, REGION, vpc())
    return database, (NEKT_ACCOUNT, "us-east-1", vpc(NEKT_ACCOUNT, "us-east-1", "10.100.0.0/16"))


def peering_between(requester: tuple[str, str, str], accepter: tuple[str, str, str], accept: bool = True,
                    tags: dict[str, str] | None = None) -> str:
    """(account, region, vpc) -> (account, region, vpc); accepted by the accepter unless `accept` is False,
    each once AWS reports the peering ready for it (the lifecycle takes some describes)."""
    spec = [{"ResourceType": "vpc-peering-connection",
             "Tags": [{"Key": key, "Value": value} for key, value in (tags or {}).items()]}]
    pcx = str(ec2(requester[0], requester[1]).create_vpc_peering_connection(
        VpcId=requester[2], PeerVpcId=accepter[2], PeerOwnerId=accepter[0], PeerRegion=accepter[1],
        **({"TagSpecifications": spec} if tags else {}))["VpcPeeringConnection"]["VpcPeeringConnectionId"])
    await_status(accepter, pcx, "pending-acceptance")
    if accept:
        ec2(accepter[0], accepter[1]).accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
        await_status(accepter, pcx, "active")
    return pcx


def await_status(side: tuple[str, str, str], pcx: str, status: str, polls: int = 50) -> None:
    client = ec2(side[0], side[1])
    for _ in range(polls):
        try:
            found = client.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])["VpcPeeringConnections"]
        except ClientError as error:
            if "NotFound" not in str(error.response["Error"]["Code"]):
                raise
            found = []
        if found and found[0]["Status"]["Code"] == status:
            return
    raise AssertionError(f"{pcx} never reached {status}")


def turn_on_dns_hostnames(*vpcs: tuple[str, str, str]) -> None:
    for account_id, region, vpc_id in vpcs:
        ec2(account_id, region).modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})


def dns_option(account_id: str, region: str, pcx: str, side: str = "RequesterVpcInfo") -> bool:
    described = ec2(account_id, region).describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx])
    return bool(described["VpcPeeringConnections"][0][side]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"])


# --- peering options -----------------------------------------------------------------------------


def test_peering_options_only_on_an_active_peering(strict: StrictAws) -> None:
    requester, accepter = database_and_nekt_vpcs()
    turn_on_dns_hostnames(requester, accepter)
    pcx = peering_between(requester, accepter, accept=False)
    option = {"VpcPeeringConnectionId": pcx, "RequesterPeeringConnectionOptions": DNS_ON}

    with pytest.raises(ClientError) as refused:
        ec2().modify_vpc_peering_connection_options(**option)
    assert code_of(refused) == "InvalidStateTransition" and "pending-acceptance" in str(refused.value)
    with strict.relax("peering-options"):
        ec2().modify_vpc_peering_connection_options(**option)  # moto: any state
    assert dns_option(DEFAULT_ACCOUNT, REGION, pcx)


def test_each_side_s_options_only_by_its_owner_in_its_region(strict: StrictAws) -> None:
    requester, accepter = database_and_nekt_vpcs()
    turn_on_dns_hostnames(requester, accepter)
    pcx = peering_between(requester, accepter)
    accepter_option = {"VpcPeeringConnectionId": pcx,
                       "AccepterPeeringConnectionOptions": DNS_ON}

    with pytest.raises(ClientError) as refused:
        ec2().modify_vpc_peering_connection_options(**accepter_option)  # the requester changing Nekt's side
    assert code_of(refused) == "OperationNotPermitted" and NEKT_ACCOUNT in str(refused.value)
    ec2(NEKT_ACCOUNT, "us-east-1").modify_vpc_peering_connection_options(**accepter_option)  # its owner may
    with strict.relax("peering-options"):
        ec2().modify_vpc_peering_connection_options(  # moto: anyone, any side
            VpcPeeringConnectionId=pcx, AccepterPeeringConnectionOptions={"AllowDnsResolutionFromRemoteVpc": False})


def test_dns_resolution_option_only_with_dns_hostnames_and_support_in_both_vpcs(strict: StrictAws) -> None:
    requester, accepter = database_and_nekt_vpcs()
    pcx = peering_between(requester, accepter)
    option = {"VpcPeeringConnectionId": pcx, "RequesterPeeringConnectionOptions": DNS_ON}

    with pytest.raises(ClientError) as refused:
        ec2().modify_vpc_peering_connection_options(**option)
    assert code_of(refused) == "InvalidVpcPeeringConnectionState.DnsHostnamesDisabled"
    assert requester[2] in str(refused.value) and accepter[2] in str(refused.value)
    turn_on_dns_hostnames(requester)
    with pytest.raises(ClientError):  # both VPCs, not only one's own
        ec2().modify_vpc_peering_connection_options(**option)
    turn_on_dns_hostnames(accepter)
    ec2().modify_vpc_peering_connection_options(**option)
    assert dns_option(DEFAULT_ACCOUNT, REGION, pcx)
    ec2(NEKT_ACCOUNT, "us-east-1").modify_vpc_attribute(VpcId=accepter[2], EnableDnsSupport={"Value": False})
    with pytest.raises(ClientError):
        ec2().modify_vpc_peering_connection_options(**option)
    with strict.relax("peering-options"):  # moto: whatever the VPCs' DNS attributes
        ec2().modify_vpc_peering_connection_options(**option)


# --- tags per account and region, and DescribeVpcPeeringConnections' filters ----------------------


def test_a_peering_s_tags_are_seen_only_by_the_account_and_region_that_made_them(strict: StrictAws) -> None:
    requester, accepter = database_and_nekt_vpcs()
    pcx = peering_between(requester, accepter, tags={"nekt:connection-id": "orders-db"})
    ec2(NEKT_ACCOUNT, "us-east-1").create_tags(Resources=[pcx], Tags=[{"Key": "Name", "Value": "orders-db <> Nekt"}])

    def tags(account_id: str, region: str) -> dict[str, str]:
        [found] = ec2(account_id, region).describe_vpc_peering_connections(
            VpcPeeringConnectionIds=[pcx])["VpcPeeringConnections"]
        return {tag["Key"]: tag["Value"] for tag in found.get("Tags", [])}

    assert tags(DEFAULT_ACCOUNT, REGION) == {"nekt:connection-id": "orders-db"}
    assert tags(NEKT_ACCOUNT, "us-east-1") == {"Name": "orders-db <> Nekt"}
    ec2().delete_tags(Resources=[pcx], Tags=[{"Key": "nekt:connection-id"}])
    assert tags(DEFAULT_ACCOUNT, REGION) == {}
    with strict.relax("tags-per-account"):  # moto: the requester's tags, for everyone
        ec2().create_tags(Resources=[pcx], Tags=[{"Key": "nekt:connection-id", "Value": "orders-db"}])
        assert tags(NEKT_ACCOUNT, "us-east-1") == {"nekt:connection-id": "orders-db"}


def test_describe_peerings_applies_its_filters_with_the_caller_s_own_tags(strict: StrictAws) -> None:
    database, nekt = database_and_nekt_vpcs()
    other = (DEFAULT_ACCOUNT, REGION, vpc(cidr="10.50.0.0/16"))
    ours = peering_between(database, nekt, tags={"nekt:connection-id": "orders-db"})
    theirs = peering_between(other, nekt, accept=False)

    def ids(account_id: str, region: str, *filters: tuple[str, list[str]]) -> set[str]:
        described = ec2(account_id, region).describe_vpc_peering_connections(
            Filters=[{"Name": name, "Values": values} for name, values in filters])["VpcPeeringConnections"]
        return {pcx["VpcPeeringConnectionId"] for pcx in described}

    assert ids(DEFAULT_ACCOUNT, REGION, ("status-code", ["active"])) == {ours}
    assert ids(DEFAULT_ACCOUNT, REGION, ("requester-vpc-info.vpc-id", [other[2]])) == {theirs}
    assert ids(DEFAULT_ACCOUNT, REGION, ("tag:nekt:connection-id", ["orders-*"])) == {ours}
    assert ids(NEKT_ACCOUNT, "us-east-1", ("tag:nekt:connection-id", ["orders-db"])) == set(), "not Nekt's tag"
    with pytest.raises(ClientError) as refused:
        ids(DEFAULT_ACCOUNT, REGION, ("no-such-filter", ["x"]))
    assert code_of(refused) == "InvalidParameterValue"
    with strict.relax("peering-filters"):  # moto: every peering, whatever the filters
        assert ids(DEFAULT_ACCOUNT, REGION, ("status-code", ["active"])) == {ours, theirs}


# --- quotas ----------------------------------------------------------------------------------------


def test_quotas_refuse_what_goes_past_them(strict: StrictAws) -> None:
    quotas = strict.rule("quotas")
    assert isinstance(quotas, Quotas) and quotas.limits == {
        "active-peerings-per-vpc": 50, "outstanding-requests": 25, "routes-per-table": 50,
        "inbound-rules-per-group": 60}
    quotas.limits.update({"active-peerings-per-vpc": 1, "outstanding-requests": 1, "routes-per-table": 1,
                          "inbound-rules-per-group": 1})
    hub = (NEKT_ACCOUNT, "us-east-1", vpc(NEKT_ACCOUNT, "us-east-1", "10.100.0.0/16"))
    first, second, third = [(DEFAULT_ACCOUNT, REGION, vpc(cidr=f"10.{n}.0.0/16")) for n in (1, 2, 3)]
    peering_between(first, hub)
    pending = peering_between(second, hub, accept=False)
    client = ec2()

    refusals = {}
    for what, call in {
        "accept": lambda: ec2(NEKT_ACCOUNT, "us-east-1").accept_vpc_peering_connection(VpcPeeringConnectionId=pending),
        "request": lambda: peering_between(third, hub, accept=False),
    }.items():
        with pytest.raises(ClientError) as refused:
            call()
        refusals[what] = code_of(refused)
    table = client.create_route_table(VpcId=first[2])["RouteTable"]["RouteTableId"]
    gateway = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    client.attach_internet_gateway(InternetGatewayId=gateway, VpcId=first[2])
    client.create_route(RouteTableId=table, DestinationCidrBlock="172.16.0.0/16", GatewayId=gateway)
    with pytest.raises(ClientError) as refused:
        client.create_route(RouteTableId=table, DestinationCidrBlock="172.17.0.0/16", GatewayId=gateway)
    refusals["route"] = code_of(refused)
    group = client.create_security_group(GroupName="db", Description="db", VpcId=first[2])["GroupId"]
    rule = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432}
    client.authorize_security_group_ingress(GroupId=group,
                                            IpPermissions=[{**rule, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}])
    with pytest.raises(ClientError) as refused:
        client.authorize_security_group_ingress(GroupId=group,
                                                IpPermissions=[{**rule, "IpRanges": [{"CidrIp": "10.8.0.0/16"}]}])
    refusals["rule"] = code_of(refused)

    assert refusals == {"accept": "ActiveVpcPeeringConnectionPerVpcLimitExceeded",
                        "request": "OutstandingVpcPeeringConnectionLimitExceeded",
                        "route": "RouteLimitExceeded", "rule": "RulesPerSecurityGroupLimitExceeded"}
    with strict.relax("quotas"):  # moto: no quota at all
        ec2(NEKT_ACCOUNT, "us-east-1").accept_vpc_peering_connection(VpcPeeringConnectionId=pending)
        client.create_route(RouteTableId=table, DestinationCidrBlock="172.17.0.0/16", GatewayId=gateway)


# --- shared VPCs (AWS RAM) ------------------------------------------------------------------------


def shared_database(identifier: str = "orders-db") -> str:
    """A VPC of OWNER_ACCOUNT shared with the database account, where that account runs its database."""
    owner = create_database(identifier="owner-db", account_id=OWNER_ACCOUNT, region=REGION)
    share_vpc(OWNER_ACCOUNT, REGION, owner.vpc_id, DEFAULT_ACCOUNT)
    session = account_session(DEFAULT_ACCOUNT, REGION)
    group = session.client("ec2").create_security_group(GroupName=f"{identifier}-sg", Description=identifier,
                                                        VpcId=owner.vpc_id)["GroupId"]
    rds = session.client("rds")
    rds.create_db_subnet_group(DBSubnetGroupName=f"{identifier}-subnets", DBSubnetGroupDescription=identifier,
                               SubnetIds=owner.subnet_ids)
    rds.create_db_instance(DBInstanceIdentifier=identifier, Engine="postgres", DBInstanceClass="db.t4g.micro",
                           AllocatedStorage=20, DBSubnetGroupName=f"{identifier}-subnets",
                           VpcSecurityGroupIds=[group], MasterUsername="admin_user",
                           MasterUserPassword="not-a-real-password")
    return owner.vpc_id


def test_only_the_owner_of_a_shared_vpc_peers_it_or_changes_its_routes(strict: StrictAws) -> None:
    owner = create_database(identifier="owner-db", account_id=OWNER_ACCOUNT, region=REGION)
    share_vpc(OWNER_ACCOUNT, REGION, owner.vpc_id, DEFAULT_ACCOUNT)
    hub = vpc(NEKT_ACCOUNT, "us-east-1", "10.100.0.0/16")
    participant = ec2()
    [seen] = participant.describe_vpcs(VpcIds=[owner.vpc_id])["Vpcs"]
    assert seen["OwnerId"] == OWNER_ACCOUNT

    with pytest.raises(ClientError) as refused_peering:
        participant.create_vpc_peering_connection(VpcId=owner.vpc_id, PeerVpcId=hub, PeerOwnerId=NEKT_ACCOUNT,
                                                  PeerRegion="us-east-1")
    with pytest.raises(ClientError) as refused_route:
        participant.create_route(RouteTableId=owner.route_table_ids[0], DestinationCidrBlock="10.100.0.0/16",
                                 GatewayId="igw-0123456789abcdef0")
    assert code_of(refused_peering) == code_of(refused_route) == "UnauthorizedOperation"
    with strict.relax("shared-vpc-owner"):  # moto: a participant peers the owner's VPC
        participant.create_vpc_peering_connection(VpcId=owner.vpc_id, PeerVpcId=hub, PeerOwnerId=NEKT_ACCOUNT,
                                                  PeerRegion="us-east-1")


# --- executions briefly unlisted ------------------------------------------------------------------


def test_a_new_execution_is_missing_from_its_first_listing(strict: StrictAws) -> None:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.create_state_machine(
        name="waits", roleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/sfn",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]

    def listed() -> list[str]:
        return [e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]]

    first = sfn.start_execution(stateMachineArn=machine, name="first")["executionArn"]
    assert listed() == []
    assert listed() == [first]
    with strict.relax("new-executions-invisible"):  # moto: listed at once
        second = sfn.start_execution(stateMachineArn=machine, name="second")["executionArn"]
        assert set(listed()) == {first, second}


# --- the product on these rules --------------------------------------------------------------------


def test_a_private_database_connects_without_the_dns_option(deploy: Any, nekt: NektNetwork) -> None:
    create_database()
    stack = deploy(nekt)

    execution = stack.run(INPUT)

    assert execution.status == "SUCCEEDED", execution.error_message
    result = execution.output
    assert result["dnsResolution"] == {"needed": False, "enabled": False, "changed": False,
                                       "reason": result["dnsResolution"]["reason"]}
    assert "already resolves to its private address" in result["dnsResolution"]["reason"]
    assert not dns_option(DEFAULT_ACCOUNT, REGION, result["peeringConnectionId"])
    assert not any("DNS" in check["check"] for check in result["checks"])


def test_a_public_database_through_the_peering_needs_dns_hostnames_in_both_vpcs_and_says_so_first(
    deploy: Any, nekt: NektNetwork
) -> None:
    database = create_database(publicly_accessible=True)
    stack = deploy(nekt)
    places = [(DEFAULT_ACCOUNT, REGION), (nekt.account_id, nekt.region)]
    before = snapshot(places)

    execution = stack.run({**INPUT, "mode": "peering"})

    assert (execution.status, execution.error) == ("FAILED", "VpcDnsDisabled")
    message = execution.error_message or ""
    assert f"{database.vpc_id} (database VPC" in message and f"{nekt.vpc_id} (Nekt VPC" in message
    assert "enableDnsHostnames" in message and "enableDnsSupport" not in message
    assert "Request peering" not in execution.states_entered()
    assert snapshot(places) == before
    assert stack.published()[0]["detail"]["error"] == "VpcDnsDisabled"


def test_a_public_database_through_the_peering_gets_the_dns_option_when_both_vpcs_allow_it(
    deploy: Any, nekt: NektNetwork
) -> None:
    database = create_database(publicly_accessible=True)
    turn_on_dns_hostnames((DEFAULT_ACCOUNT, REGION, database.vpc_id), (nekt.account_id, nekt.region, nekt.vpc_id))
    stack = deploy(nekt)

    execution = stack.run({**INPUT, "mode": "peering"})

    assert execution.status == "SUCCEEDED", execution.error_message
    result = execution.output
    assert result["dnsResolution"]["needed"] is True and result["dnsResolution"]["changed"] is True
    assert dns_option(DEFAULT_ACCOUNT, REGION, result["peeringConnectionId"])
    assert any(check["check"].startswith("DNS resolution") and check["ok"] for check in result["checks"])


@pytest.mark.parametrize("status", ["backing-up", "modifying", "storage-optimization",
                                    "configuring-enhanced-monitoring"])
def test_a_database_that_serves_traffic_connects_whatever_its_maintenance(
    deploy: Any, nekt: NektNetwork, status: str
) -> None:
    create_database()
    rds_backends[DEFAULT_ACCOUNT][REGION].databases["orders-db"].status = status
    stack = deploy(nekt)

    execution = stack.run(INPUT)

    assert execution.status == "SUCCEEDED", execution.error_message


def test_a_stopped_database_is_not_available(deploy: Any, nekt: NektNetwork) -> None:
    create_database()
    rds_backends[DEFAULT_ACCOUNT][REGION].databases["orders-db"].status = "stopped"
    stack = deploy(nekt)

    execution = stack.run(INPUT)

    assert (execution.status, execution.error) == ("FAILED", "DatabaseNotAvailable")
    assert "'stopped'" in (execution.error_message or "")


def test_a_database_in_a_shared_vpc_is_refused_by_name_with_the_owner_s_account(
    deploy: Any, nekt: NektNetwork
) -> None:
    vpc_id = shared_database()
    stack = deploy(nekt)
    places = [(DEFAULT_ACCOUNT, REGION), (OWNER_ACCOUNT, REGION), (nekt.account_id, nekt.region)]
    before = snapshot(places)

    execution = stack.run(INPUT)

    assert (execution.status, execution.error) == ("FAILED", "SharedVpcNotSupported")
    assert OWNER_ACCOUNT in (execution.error_message or "") and vpc_id in (execution.error_message or "")
    assert snapshot(places) == before


def test_the_fiftieth_customer_of_the_nekt_hub_is_refused_before_any_change(
    deploy: Any, nekt: NektNetwork
) -> None:
    create_database()
    hub = (nekt.account_id, nekt.region, nekt.vpc_id)
    for n in range(50):
        peering_between((NEKT_ACCOUNT, nekt.region, vpc(NEKT_ACCOUNT, nekt.region, f"10.{n + 1}.0.0/16")), hub)
    stack = deploy(nekt)
    places = [(DEFAULT_ACCOUNT, REGION), (nekt.account_id, nekt.region)]
    before = snapshot(places)

    execution = stack.run(INPUT)

    assert (execution.status, execution.error) == ("FAILED", "QuotaExceeded")
    message = execution.error_message or ""
    assert nekt.vpc_id in message and "L-7E9ECCDB" in message and "Service Quotas" in message
    assert "Request peering" not in execution.states_entered()
    assert snapshot(places) == before


def test_a_full_route_table_is_refused_before_any_change(deploy: Any, nekt: NektNetwork) -> None:
    database = create_database()
    client = ec2()
    gateway = client.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    client.attach_internet_gateway(InternetGatewayId=gateway, VpcId=database.vpc_id)
    for n in range(50):
        client.create_route(RouteTableId=database.route_table_ids[0], DestinationCidrBlock=f"172.16.{n}.0/24",
                            GatewayId=gateway)
    stack = deploy(nekt)

    execution = stack.run(INPUT)

    assert (execution.status, execution.error) == ("FAILED", "QuotaExceeded")
    assert database.route_table_ids[0] in (execution.error_message or "")
    assert "L-93826ACB" in (execution.error_message or "")


class Refuse(Rule):
    """AWS refusing one operation with a given error (what the rollback and Discover must not hide)."""

    name = "refuse"

    def __init__(self, operation: str, code: str, status: int = 400) -> None:
        self.operation, self.code, self.status = operation, code, status

    def before(self, call: Call) -> None:
        if call.operation == self.operation:
            raise AwsError(self.code, f"refused {self.operation}", self.status)


def test_restoring_the_dns_option_reports_what_it_could_not_read(strict: StrictAws) -> None:
    pcx = peering_between(*database_and_nekt_vpcs())
    state = {"error": {"Error": "VerificationFailed", "Cause": "the connection is incomplete"},
             "discovery": {"mode": "peering", "database": {"identifier": "orders-db", "publiclyAccessible": True}},
             "plan": {"peering": {"peeringConnectionId": pcx, "databaseSide": "requester", "dnsResolution": False}}}
    strict.rules.insert(0, Refuse("DescribeVpcPeeringConnections", "UnauthorizedOperation", 403))
    progress = Rollback(state)

    restore_dns_resolution(ec2(), state, progress)

    assert progress.result()["complete"] is False
    assert progress.left == [f"DNS resolution option turned back off on {pcx} (requester side) (could not read it: "
                             "UnauthorizedOperation: refused DescribeVpcPeeringConnections)"]


def test_discover_failing_with_any_exception_publishes_the_failure(
    strict: StrictAws, deploy: Any, nekt: NektNetwork
) -> None:
    create_database(kind="cluster", identifier="billing", engine="mysql", port=3306)
    strict.rules.insert(0, Refuse("DescribeDBSubnetGroups", "DBSubnetGroupNotFoundFault", 404))
    stack = deploy(nekt)

    execution = stack.run({"database": {"identifier": "billing", "region": REGION}})

    assert (execution.status, execution.error) == ("FAILED", "DBSubnetGroupNotFoundFault")
    [event] = stack.published()
    assert event["detail-type"] == "Connection Failed" and event["detail"]["error"] == "DBSubnetGroupNotFoundFault"


@pytest.mark.parametrize("machine", ["connect", "disconnect"])
def test_every_catcher_of_every_state_catches_data_limit_exceeded_which_states_all_does_not(machine: str) -> None:
    from emulator.template import ROOT

    states = json.loads((ROOT / "statemachine" / f"{machine}.asl.json").read_text())["States"]
    for name, state in states.items():
        catchers = [catcher["ErrorEquals"] for catcher in state.get("Catch", [])]
        if catchers:
            assert catchers[-1] == ["States.ALL"], name
            assert ["States.DataLimitExceeded"] in catchers, name
    first = "Discover" if machine == "connect" else "Find what to remove"
    silent = states[first]["Catch"][0]
    assert "InvalidInput" in silent["ErrorEquals"] and states[silent["Next"]]["Type"] == "Fail"


def test_two_runs_of_one_connection_are_kept_apart_however_late_listings_show_them(
    strict: StrictAws, deploy: Any, nekt: NektNetwork
) -> None:
    """The locks are conditional writes in the registry: ListExecutions' delay plays no part."""
    create_database()
    invisible = strict.rule("new-executions-invisible")
    assert isinstance(invisible, NewExecutionsInvisible)
    invisible.hidden_lists, invisible.seconds = 3, 60
    stack: Stack = deploy(nekt)
    hold_until_both_tried_the_locks(stack, "PreflightFunction")  # a busy machine may finish the first first

    first, second = stack.start(INPUT), stack.start(INPUT)
    outcomes = sorted((stack.wait(arn).status, stack.wait(arn).error or "") for arn in (first, second))

    assert outcomes == [("FAILED", "ConnectionBusy"), ("SUCCEEDED", "")]


def test_a_security_group_referenced_or_in_use_is_not_deleted(strict: StrictAws) -> None:
    client = ec2()
    vpc_id = vpc()
    database = client.create_security_group(GroupName="db", Description="db", VpcId=vpc_id)["GroupId"]
    gateway = client.create_security_group(GroupName="gateway", Description="gateway", VpcId=vpc_id)["GroupId"]
    client.authorize_security_group_ingress(GroupId=database, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": gateway}]}])

    with pytest.raises(ClientError) as referenced:
        client.delete_security_group(GroupId=gateway)
    assert code_of(referenced) == "DependencyViolation" and database in str(referenced.value)

    with strict.relax("security-group-in-use"):  # plain moto: deleted, the rule left pointing at nothing
        client.delete_security_group(GroupId=gateway)
    assert gateway not in {g["GroupId"] for g in client.describe_security_groups()["SecurityGroups"]}
    rules = client.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [database]}])
    assert any(r.get("ReferencedGroupInfo", {}).get("GroupId") == gateway for r in rules["SecurityGroupRules"])
