"""Least privilege, read from both templates: what each role may do is what its stage calls, and no more.

template.yaml (the database account: one role per function, one per state machine) and
nekt-account/template.yaml (the Nekt account: the accepter role) are read as CloudFormation reads
them (cfn-lint's decoder, as the emulator does). Both branches of an `Fn::If` count: a role must be
right whichever way the stack is deployed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from nekt_peering.core.model import CONNECTION_TAG_KEY, MANAGED_BY_TAG

ROOT = Path(__file__).resolve().parents[2]
MAIN = cfn_yaml.load(str(ROOT / "template.yaml"))
NEKT = cfn_yaml.load(str(ROOT / "nekt-account" / "template.yaml"))
PACKAGE = ROOT / "functions" / "nekt_peering"

# Write actions that AWS authorizes only on Resource "*" (no resource-level permissions), and why we need them.
UNSCOPABLE_WRITES = {
    # Step Functions log delivery to CloudWatch Logs (the state machines' Logging): AWS documents this set
    # with Resource "*"; none of these actions takes a resource ARN.
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    # RAM authorizes CreateResourceShare on "*" (the share does not exist yet); the template narrows it by
    # its conditions: resource configurations only (ram:RequestedResourceType), the Nekt account only
    # (ram:Principal), tagged as the product's.
    "ram:CreateResourceShare",
    # CloudWatch authorizes PutMetricData on "*" only; the template narrows it to the product's namespace
    # (cloudwatch:namespace).
    "cloudwatch:PutMetricData",
}

NEKT_SIDE = {"sts:AssumeRole"}  # the functions that work in the Nekt account through the accepter role

# What VPC Lattice does with the caller's permissions when it makes a gateway and a configuration ("Amazon VPC
# Lattice API permissions"; the account's first Lattice resource creates the service-linked role).
LATTICE_ON_OUR_BEHALF = {
    "ec2:DescribeNetworkInterfaces", "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
    "ec2:AssignPrivateIpAddresses", "ec2:AssignIpv6Addresses", "ec2:DeleteNetworkInterface",
    "rds:DescribeDBInstances", "rds:DescribeDBClusters", "iam:CreateServiceLinkedRole"}

# Discover's reading of the database, one module per database.kind (nekt_peering.databases), and what the kinds
# beyond RDS read.
DATABASE_KINDS = ("databases/rds", "databases/redshift", "databases/redshift_serverless", "databases/docdb",
                  "databases/ec2_instance", "databases/address")
DATABASE_KIND_READS = {"ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "redshift:DescribeClusters",
                       "redshift:DescribeClusterSubnetGroups", "redshift-serverless:GetWorkgroup",
                       "route53:ListHostedZonesByVPC", "route53:ListResourceRecordSets"}

# Function -> (the modules its handler runs, under functions/nekt_peering, the actions those modules call). An
# action must be called by name in one of the modules (ec2:CreateTags: through TagSpecifications on create, or
# create_tags).
FUNCTIONS: dict[str, tuple[tuple[str, ...], set[str]]] = {
    "DiscoverFunction": (("connect/discover", "connect/path_choice", "core/ec2", "core/network_acls", "core/aws",
                          "resource_endpoint/discover", "resource_endpoint/find", "resource_endpoint/names",
                          "registry/store", *DATABASE_KINDS), {
        "rds:DescribeDBInstances", "rds:DescribeDBClusters", "rds:DescribeDBSubnetGroups",
        "ec2:DescribeVpcs", "ec2:DescribeVpcAttribute", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroupRules",
        "ec2:DescribeNetworkAcls",
        "ec2:DescribeVpcPeeringConnections", "ec2:DescribeSubnets", "ec2:DescribeVpcEndpoints",
        "ec2:DescribeVpcEndpointAssociations",
        "vpc-lattice:ListResourceGateways", "vpc-lattice:ListResourceConfigurations", "vpc-lattice:ListTagsForResource",
        "servicequotas:GetServiceQuota", "dynamodb:GetItem", *DATABASE_KIND_READS, *NEKT_SIDE}),
    "PreflightFunction": (("connect/preflight",), set()),
    "RequestPeeringFunction": (("peering/request", "core/ec2", "connect/discover"), {
        "ec2:DescribeVpcPeeringConnections", "ec2:CreateVpcPeeringConnection", "ec2:CreateTags"}),
    "PeeringStatusFunction": (("peering/request", "core/ec2"), {"ec2:DescribeVpcPeeringConnections"}),
    "AcceptPeeringFunction": (("peering/request", "core/ec2", "core/aws"), {
        "ec2:DescribeVpcPeeringConnections", "ec2:AcceptVpcPeeringConnection", *NEKT_SIDE}),
    "UpdateRoutesFunction": (("peering/routes", "core/aws"
), {"ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DescribeRouteTables", *NEKT_SIDE}),
    "AuthorizeIngressFunction": (("ingress/authorize",), {
        "ec2:AuthorizeSecurityGroupIngress", "ec2:DescribeSecurityGroupRules", "ec2:CreateTags"}),
    "EnableDnsResolutionFunction": (("peering/dns", "peering/request", "core/ec2"), {
        "ec2:DescribeVpcPeeringConnections", "ec2:ModifyVpcPeeringConnectionOptions"}),
    # lambda:InvokeFunction: the probe, with the function's own role when Nekt is this account.
    "VerifyFunction": (("connect/verify", "core/network_acls", "ingress/authorize", "peering/request", "core/ec2",
                        "core/aws", "resource_endpoint/find"), {
        "ec2:DescribeVpcPeeringConnections", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroupRules",
        "ec2:DescribeNetworkAcls", "ec2:DescribeVpcEndpoints", "ec2:DescribeVpcEndpointAssociations",
        "lambda:InvokeFunction", *NEKT_SIDE}),
    "RevokeIngressFunction": (("ingress/revoke", "ingress/authorize"), {
        "ec2:DescribeSecurityGroupRules", "ec2:RevokeSecurityGroupIngress"}),
    "DeleteRoutesFunction": (("peering/undo", "connect/discover", "core/ec2", "core/aws"), {
        "ec2:DescribeRouteTables", "ec2:DescribeVpcPeeringConnections", "ec2:DeleteRoute", *NEKT_SIDE}),
    "RestoreDnsResolutionFunction": (("peering/undo", "peering/request", "core/ec2"), {
        "ec2:DescribeVpcPeeringConnections", "ec2:ModifyVpcPeeringConnectionOptions"}),
    "DeletePeeringFunction": (("peering/undo", "connect/discover", "core/ec2", "peering/request"), {
        "ec2:DescribeVpcPeeringConnections", "ec2:DeleteVpcPeeringConnection"}),
    "FindConnectionFunction": (("disconnect/plan", "peering/undo", "registry/bookkeeping", "registry/store",
                                "core/aws"), {
        "ec2:DescribeVpcPeeringConnections", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroupRules",
        "dynamodb:GetItem", "dynamodb:Query", *NEKT_SIDE}),
    # The registry (dynamodb: the table's items, often through one TransactWriteItems).
    "TakeLocksFunction": (("registry/bookkeeping", "registry/store"), {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "states:DescribeExecution"}),
    # DeleteItem: a repair forgets the gone peering it replaced.
    "RecordConnectionFunction": (("registry/bookkeeping", "registry/store"), {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}),
    # DeleteItem: a connect whose record went through before its answer was lost forgets what it counted.
    "RecordFailureFunction": (("registry/bookkeeping", "registry/store"), {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}),
    "RecordDisconnectFunction": (("registry/bookkeeping", "registry/store", "disconnect/others_intact",
                                  "peering/request", "core/ec2", "ingress/authorize", "connect/discover", "core/aws"), {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query",
        "ec2:DescribeVpcPeeringConnections", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroupRules",
        "vpc-lattice:GetResourceGateway", *NEKT_SIDE}),
    # The resource-endpoint path: the database's account, then the Nekt account (own role when Nekt is this
    # account: nothing to share or accept then).
    "ShareDatabaseFunction": (("resource_endpoint/share", "resource_endpoint/find", "resource_endpoint/names"), {
        "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules",
        "ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateTags",
        "vpc-lattice:ListResourceGateways", "vpc-lattice:ListResourceConfigurations",
        "vpc-lattice:ListTagsForResource", "vpc-lattice:GetResourceGateway", "vpc-lattice:GetResourceConfiguration",
        "vpc-lattice:CreateResourceGateway",
        "vpc-lattice:CreateResourceConfiguration", "vpc-lattice:TagResource", "vpc-lattice:PutResourcePolicy",
        "ram:GetResourceShares", "ram:GetResourceShareAssociations", "ram:CreateResourceShare",
        "ram:AssociateResourceShare", "ram:TagResource", *LATTICE_ON_OUR_BEHALF}),
    "CreateResourceEndpointFunction": (("resource_endpoint/endpoint", "resource_endpoint/find",
                                        "resource_endpoint/names", "core/aws"), {
        "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules",
        "ec2:DescribeVpcEndpoints", "ec2:DescribeVpcEndpointAssociations", "ec2:CreateSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateVpcEndpoint", "ec2:CreateTags",
        "route53:AssociateVPCWithHostedZone", *NEKT_SIDE}),
    "RemoveResourceEndpointFunction": (("resource_endpoint/undo", "resource_endpoint/find",
                                        "resource_endpoint/names", "core/aws"), {
        "ec2:DescribeVpcEndpoints", "ec2:DescribeSecurityGroups", "ec2:DeleteVpcEndpoints", "ec2:DeleteSecurityGroup",
        *NEKT_SIDE}),
    "UnshareDatabaseFunction": (("resource_endpoint/undo", "resource_endpoint/find", "resource_endpoint/names"), {
        "ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules", "ec2:RevokeSecurityGroupIngress",
        "ec2:DeleteSecurityGroup", "vpc-lattice:ListResourceGateways", "vpc-lattice:ListResourceConfigurations",
        "vpc-lattice:ListTagsForResource", "vpc-lattice:GetResourceGateway", "vpc-lattice:DeleteResourceConfiguration",
        "vpc-lattice:DeleteResourceGateway", "ram:GetResourceShares", "ram:DeleteResourceShare",
        "ec2:DeleteNetworkInterface"}),
    # The probe's re-check: Discover's reads, the ACLs, and the probe (own role when Nekt is this account).
    "CheckPathFunction": (("connect/discover", "core/ec2", "core/network_acls", "connect/verify", "core/aws",
                           "resource_endpoint/discover", "resource_endpoint/find", "resource_endpoint/names",
                           "registry/store", "registry/bookkeeping", *DATABASE_KINDS), {
        "rds:DescribeDBInstances", "rds:DescribeDBClusters", "rds:DescribeDBSubnetGroups",
        "ec2:DescribeVpcs", "ec2:DescribeVpcAttribute", "ec2:DescribeSubnets", "ec2:DescribeRouteTables",
        "ec2:DescribeNetworkAcls", "ec2:DescribeSecurityGroupRules", "ec2:DescribeVpcPeeringConnections",
        "ec2:DescribeVpcEndpoints", "ec2:DescribeVpcEndpointAssociations", "vpc-lattice:ListResourceGateways",
        "vpc-lattice:ListResourceConfigurations", "vpc-lattice:ListTagsForResource", "dynamodb:GetItem",
        "dynamodb:PutItem", "lambda:InvokeFunction", *DATABASE_KIND_READS,
        *NEKT_SIDE}),
    # The health sweep's page of the registry, and its count by health into CloudWatch.
    "ListConnectedFunction": (("registry/sweep",), {"dynamodb:Query"}),
    "RecordSweepFunction": (("registry/sweep", "handlers/record_sweep"),
                            {"dynamodb:Query", "cloudwatch:PutMetricData"}),
    "ApiFunction": (("api/app", "api/connections", "registry/store"), {
        "states:StartExecution", "states:ListExecutions", "states:DescribeExecution", "states:GetExecutionHistory",
        "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"}),
    # This account's default bus only (test_the_announcement_may_only_put_events_on_the_default_bus...).
    "AnnounceStackFunction": (("installation/announce",), {"events:PutEvents"}),
}

# The Nekt-side calls of the stages above (through nekt_session), all the accepter role may do.
ACCEPTER_ROLE = (("connect/discover", "core/ec2", "core/network_acls", "peering/request", "peering/routes",
                  "connect/verify", "core/compensation", "ingress/revoke", "peering/undo", "disconnect/plan",
                  "resource_endpoint/discover", "resource_endpoint/plan", "resource_endpoint/find",
                  "resource_endpoint/endpoint", "resource_endpoint/undo", "resource_endpoint/names"), {
    "ec2:DescribeVpcs", "ec2:DescribeVpcAttribute", "ec2:DescribeSubnets", "ec2:DescribeRouteTables",
    "ec2:DescribeVpcPeeringConnections", "ec2:DescribeNetworkAcls", "ec2:AcceptVpcPeeringConnection",
    "ec2:CreateTags", "ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute", "servicequotas:GetServiceQuota",
    "lambda:InvokeFunction",
    # The resource-endpoint path's Nekt side.
    "ram:GetResourceShareInvitations", "ram:GetResourceShares", "ram:AcceptResourceShareInvitation",
    "ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules", "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcEndpointAssociations", "ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateVpcEndpoint", "ec2:DeleteSecurityGroup", "ec2:DeleteVpcEndpoints", "iam:CreateServiceLinkedRole",
    "route53:AssociateVPCWithHostedZone"})

STATE_MACHINE_ACTIONS = {"lambda:InvokeFunction", "events:PutEvents", "states:StartExecution", *UNSCOPABLE_WRITES}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def text(value: Any) -> str:
    """A string, or the template of an Fn::Sub."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return str(value["Fn::Sub"])
    return value if isinstance(value, str) else repr(value)


def sam_statements(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The statements of a SAM function's or state machine's Policies, both branches of each Fn::If."""
    for policy in resource["Properties"].get("Policies", []):
        branches = policy["Fn::If"][1:] if isinstance(policy, dict) and "Fn::If" in policy else [policy]
        for branch in branches:
            if branch == {"Ref": "AWS::NoValue"}:
                continue
            assert isinstance(branch, dict) and set(branch) == {"Statement"}, (
                f"policy {branch!r}: write statements, not SAM policy templates or managed policies, so this "
                "test can read what the role may do")
            yield from branch["Statement"]


def role_statements(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A role's inline policies, and the AWS::IAM::RolePolicy resources of the same template attached to it."""
    for policy in resource["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]
    for attached in NEKT["Resources"].values():
        if attached["Type"] == "AWS::IAM::RolePolicy" and attached["Properties"]["RoleName"] == {
                "Ref": next(logical_id for logical_id, r in NEKT["Resources"].items() if r is resource)}:
            yield from attached["Properties"]["PolicyDocument"]["Statement"]


def all_roles() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for logical_id, resource in MAIN["Resources"].items():
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            yield f"template.yaml {logical_id}", list(sam_statements(resource))
        if resource["Type"] == "AWS::IAM::Role":
            yield f"template.yaml {logical_id}", [statement for policy in resource["Properties"]["Policies"]
                                                  for statement in policy["PolicyDocument"]["Statement"]]
    for logical_id, resource in NEKT["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            yield f"nekt-account/template.yaml {logical_id}", list(role_statements(resource))


def allowed_actions(statements: list[dict[str, Any]]) -> set[str]:
    return {action for statement in statements if statement["Effect"] == "Allow"
            for action in as_list(statement["Action"])}


def is_read(action: str) -> bool:
    return action.split(":", 1)[1].startswith(("Describe", "List", "Get"))


def snake(action: str) -> str:
    name = action.split(":", 1)[1]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


# What AWS authorizes for a call besides its own action (the Service Authorization Reference's dependent
# actions; tags on create; the resource policy RAM attaches to a configuration it shares; what VPC Lattice does
# with the caller's permissions, and its service-linked role, which a resource endpoint may create too).
IMPLIED_BY = {
    "ec2:DescribeVpcs": ("create_resource_gateway(", "create_vpc_endpoint("),
    "ec2:DescribeSubnets": ("create_resource_gateway(", "create_vpc_endpoint(", "create_resource_configuration("),
    "ec2:DescribeSecurityGroups": ("create_resource_gateway(", "create_vpc_endpoint("),
    "vpc-lattice:TagResource": ("create_resource_gateway(", "create_resource_configuration("),
    "ram:TagResource": ("create_resource_share(",),
    "vpc-lattice:PutResourcePolicy": ("create_resource_share(",),
    **dict.fromkeys(("ec2:DescribeNetworkInterfaces", "ec2:CreateNetworkInterface",
                     "ec2:CreateNetworkInterfacePermission", "ec2:AssignPrivateIpAddresses",
                     "ec2:AssignIpv6Addresses"), ("create_resource_gateway(",)),
    "ec2:DeleteNetworkInterface": ("create_resource_gateway(", ".delete_resource_gateway"),
    "rds:DescribeDBInstances": ("create_resource_configuration(",),
    "rds:DescribeDBClusters": ("create_resource_configuration(",),
    "iam:CreateServiceLinkedRole": ("create_resource_gateway(", "create_resource_configuration(",
                                    "create_vpc_endpoint("),
    "route53:AssociateVPCWithHostedZone": ("PrivateDnsEnabled",),  # private DNS's hosted zone, on create
}


def called_in(action: str, modules: tuple[str, ...]) -> bool:
    source = "\n".join((PACKAGE / f"{module}.py").read_text() for module in modules)
    if any(call in source for call in IMPLIED_BY.get(action, ())):
        return True
    if action == "ec2:CreateTags" and "TagSpecifications" in source:
        return True
    if action == "lambda:InvokeFunction":
        return ".invoke(FunctionName=" in source
    if TRANSACTION_ITEMS.get(action, "\0") in source:  # a write inside TransactWriteItems
        return True
    return snake(action) in source


# TransactWriteItems is authorized as the writes it carries ("Using IAM with DynamoDB transactions").
TRANSACTION_ITEMS = {"dynamodb:PutItem": '{"Put":', "dynamodb:UpdateItem": '{"Update":',
                     "dynamodb:DeleteItem": '{"Delete":'}

ROLES = dict(all_roles())


@pytest.mark.parametrize("role", sorted(ROLES))
def test_no_wildcard_actions_and_no_unscoped_writes(role: str) -> None:
    for statement in ROLES[role]:
        assert "NotAction" not in statement and "NotResource" not in statement, f"{role}: {statement}"
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{role}: action {action!r} is a wildcard"
            if "*" in as_list(statement["Resource"]) and not is_read(action):
                assert action in UNSCOPABLE_WRITES, (
                    f"{role}: {action} on Resource '*'; scope it, or add it to UNSCOPABLE_WRITES with the reason")


def test_every_role_of_the_main_template_is_known() -> None:
    """A role of its own in template.yaml (not a function's or a state machine's, which SAM makes) has a test here."""
    assert sorted(logical_id for logical_id, resource in MAIN["Resources"].items()
                  if resource["Type"] == "AWS::IAM::Role") == ["ResultsToNektRole", "SweepScheduleRole"]


def test_the_results_role_may_only_put_events_on_nekts_bus_and_only_eventbridge_of_this_account_assumes_it() -> None:
    role = MAIN["Resources"]["ResultsToNektRole"]
    assert ROLES["template.yaml ResultsToNektRole"] == [
        {"Effect": "Allow", "Action": "events:PutEvents", "Resource": {"Ref": "NektEventBusArn"}}]
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert role["Condition"] == MAIN["Resources"]["ResultsToNektRule"]["Condition"] == "HasNektEventBus"


def test_the_announcement_may_only_put_events_on_the_default_bus_and_exists_only_with_nekts_bus() -> None:
    function = MAIN["Resources"]["AnnounceStackFunction"]
    assert list(sam_statements(function)) == [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": {
        "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"}}]
    assert function["Condition"] == MAIN["Resources"]["StackAnnouncement"]["Condition"] == "HasNektEventBus"


def test_no_role_may_redrive_an_execution() -> None:
    """Redrive is refused by design (docs/rollback-and-concurrency.md): a resumed execution would run stages
    without the locks its failure path released; a new run is the recovery. No wildcard can allow it either
    (test_no_wildcard_actions_and_no_unscoped_writes)."""
    redriving = sorted(role for role, statements in ROLES.items()
                       if "states:RedriveExecution" in allowed_actions(statements))
    assert redriving == []


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_may_do_what_its_stage_calls_and_nothing_else(function: str) -> None:
    modules, expected = FUNCTIONS[function]
    actions = allowed_actions(list(sam_statements(MAIN["Resources"][function])))
    assert actions - expected == set(), f"{function} is allowed what its stage never calls"
    assert expected - actions == set(), f"{function} is not allowed what its stage calls"
    assert [action for action in expected if not called_in(action, modules)] == [], (
        f"FUNCTIONS[{function!r}] names actions that {', '.join(modules)} never call")


def test_every_function_is_in_the_mapping() -> None:
    functions = {logical_id for logical_id, resource in MAIN["Resources"].items()
                 if resource["Type"] == "AWS::Serverless::Function"}
    assert functions == set(FUNCTIONS)


def accepter_role() -> dict[str, Any]:
    roles = [resource for resource in NEKT["Resources"].values() if resource["Type"] == "AWS::IAM::Role"]
    assert len(roles) == 1
    return roles[0]


def test_accepter_role_may_do_the_nekt_side_calls_and_nothing_else() -> None:
    modules, expected = ACCEPTER_ROLE
    assert allowed_actions(list(role_statements(accepter_role()))) == expected
    assert [action for action in expected if not called_in(action, modules)] == []


def test_accepter_role_trusts_only_the_main_stacks_function_roles_with_the_external_id() -> None:
    trust = accepter_role()["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust, "the accepter role trusts no one"
    role_path = text(MAIN["Globals"]["Function"]["RolePath"]).replace("${AWS::StackName}", "${DatabaseStackName}")
    for statement in trust:
        assert statement["Effect"] == "Allow" and as_list(statement["Action"]) == ["sts:AssumeRole"]
        assert text(statement["Principal"]["AWS"]).endswith(":iam::${DatabaseAccountId}:root")
        condition = statement["Condition"]
        assert "sts:ExternalId" in condition["StringEquals"], "the trust must require the ExternalId"
        assert text(condition["ArnLike"]["aws:PrincipalArn"]).endswith(f":role{role_path}*"), (
            "the trust must admit exactly the roles under the main stack's RolePath")


def accept_statements(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [statement for statement in statements
            if "ec2:AcceptVpcPeeringConnection" in as_list(statement["Action"]) and statement["Effect"] == "Allow"]


@pytest.mark.parametrize("statements", [
    pytest.param(list(role_statements(accepter_role())), id="nekt-account accepter role"),
    pytest.param(list(sam_statements(MAIN["Resources"]["AcceptPeeringFunction"])), id="AcceptPeeringFunction"),
])
def test_accept_only_into_the_nekt_vpc(statements: list[dict[str, Any]]) -> None:
    accepts = accept_statements(statements)
    assert accepts
    for statement in accepts:
        resources = [text(resource) for resource in as_list(statement["Resource"])]
        if all(resource.endswith(":vpc/${NektVpcId}") for resource in resources):
            continue  # the Nekt VPC itself, as the accept's VPC resource
        assert all(":vpc-peering-connection/" in resource for resource in resources), resources
        accepter = statement.get("Condition", {}).get("ArnEquals", {}).get("ec2:AccepterVpc")
        assert accepter is not None, "accepting a peering must be conditioned on ec2:AccepterVpc"
        assert text(accepter).endswith(":vpc/${NektVpcId}")


def test_state_machines_invoke_only_their_own_functions_and_put_only_their_events() -> None:
    for logical_id, resource in MAIN["Resources"].items():
        if resource["Type"] != "AWS::Serverless::StateMachine":
            continue
        statements = list(sam_statements(resource))
        assert allowed_actions(statements) <= STATE_MACHINE_ACTIONS, logical_id
        own = {expression["Fn::GetAtt"][0] if isinstance(expression["Fn::GetAtt"], list)
               else expression["Fn::GetAtt"].split(".")[0]
               for name, expression in resource["Properties"]["DefinitionSubstitutions"].items()
               # NektProbeFunctionArn is a setting the stages read (a Ref), not a task of the machine
               if name.endswith("FunctionArn") and "Fn::GetAtt" in expression}
        for statement in statements:
            if "lambda:InvokeFunction" in as_list(statement["Action"]):
                invoked = {resource_arn["Fn::GetAtt"][0] if isinstance(resource_arn["Fn::GetAtt"], list)
                           else resource_arn["Fn::GetAtt"].split(".")[0] for resource_arn in statement["Resource"]}
                assert invoked == own, f"{logical_id} may invoke {sorted(invoked ^ own)}"
            if "events:PutEvents" in as_list(statement["Action"]):
                assert statement["Condition"]["StringEquals"]["events:source"] == "nekt.peering"
                assert text(statement["Resource"]).endswith(":event-bus/default")
            if "states:StartExecution" in as_list(statement["Action"]):  # the sweep's continuation, of itself only
                assert text(statement["Resource"]).endswith(f":stateMachine:{text(resource['Properties']['Name'])}")
        assert resource["Properties"]["Tracing"] == {"Enabled": True}
        assert resource["Properties"]["Logging"]["Destinations"], f"{logical_id} logs nowhere"


PRODUCT_TAG_KEYS = {"Name", CONNECTION_TAG_KEY, MANAGED_BY_TAG[0]}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_tags_only_with_the_products_keys(role: str) -> None:
    for statement in ROLES[role]:
        if "ec2:CreateTags" in as_list(statement["Action"]):
            keys = statement.get("Condition", {}).get("ForAllValues:StringEquals", {}).get("aws:TagKeys")
            assert keys is not None and set(as_list(keys)) <= PRODUCT_TAG_KEYS, f"{role}: {statement}"


def test_the_probe_may_do_nothing_but_run_in_the_nekt_vpc_and_reach_database_ports() -> None:
    """No policy of its own (SAM's VPC and log permissions only); its security group lets TCP out to the
    database ports only, and only the accepter role may invoke it."""
    probe = NEKT["Resources"]["ProbeFunction"]
    assert "Policies" not in probe["Properties"] and "Role" not in probe["Properties"]
    assert probe["Properties"]["Handler"] == "nekt_peering.probe.handler"
    egress = NEKT["Resources"]["ProbeSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert {(rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) for rule in egress} == {
        ("tcp", 5432, 5432), ("tcp", 3306, 3306), ("tcp", 1433, 1433), ("tcp", 1521, 1521), ("tcp", 5439, 5439),
        ("tcp", 27017, 27017)}
    assert all(rule["CidrIp"] == {"Ref": "ProbeDatabaseCidr"} for rule in egress)
    other = NEKT["Resources"]["ProbeOtherPortEgress"]["Properties"]
    assert (other["IpProtocol"], other["FromPort"], other["ToPort"], other["CidrIp"]) == (
        "tcp", {"Ref": "ProbeOtherPort"}, {"Ref": "ProbeOtherPort"}, {"Ref": "ProbeDatabaseCidr"})
    invokes = [statement for statement in role_statements(accepter_role())
               if "lambda:InvokeFunction" in as_list(statement["Action"])]
    assert [statement["Resource"] for statement in invokes] == [{"Fn::GetAtt": ["ProbeFunction", "Arn"]}]
    verify = [statement for statement in sam_statements(MAIN["Resources"]["VerifyFunction"])
              if "lambda:InvokeFunction" in as_list(statement["Action"])]
    assert [statement["Resource"] for statement in verify] == [{"Ref": "NektProbeFunctionArn"}]


def test_the_sweeps_schedule_may_start_the_sweep_and_nothing_else() -> None:
    role = MAIN["Resources"]["SweepScheduleRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert [(s["Principal"], s["Action"]) for s in trust] == [
        ({"Service": "scheduler.amazonaws.com"}, "sts:AssumeRole")]
    assert trust[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    statements = [statement for policy in role["Policies"] for statement in policy["PolicyDocument"]["Statement"]]
    assert [(s["Effect"], s["Action"], s["Resource"]) for s in statements] == [
        ("Allow", "states:StartExecution", {"Ref": "SweepStateMachine"})]
    target = MAIN["Resources"]["SweepSchedule"]["Properties"]["Target"]
    assert (target["Arn"], target["RoleArn"]) == (
        {"Ref": "SweepStateMachine"}, {"Fn::GetAtt": ["SweepScheduleRole", "Arn"]})
