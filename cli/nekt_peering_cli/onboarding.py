"""Nekt's side of one customer database account: `nekt-peering onboard` and `offboard`.

Onboard, in the Nekt account (the credentials'), in the Nekt VPC's Region: the customer's ExternalId (made once,
kept in an SSM SecureString parameter), the Nekt-account stack from the release's template (created or updated
through CloudFormation, waited for), the customer's account admitted on Nekt's event bus; then the customer's
quick-create link, for the release's template in the database's Region. Every step converges: onboarding again
changes nothing, or updates the stack to another release.

Offboard undoes it, and refuses while Nekt's account holds a connection of the customer's (a peering from their
account into the Nekt VPC, or a resource endpoint to their database): what the Nekt-account stack's role made,
that removing the role would strand.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import boto3
from botocore.exceptions import ClientError

from nekt_peering_cli.release import Location, OperatorError, released

ACCOUNT_ID = re.compile(r"^\d{12}$")
# CloudFormation's stack names (and the Nekt-account template's DatabaseStackName): a letter, then letters, digits
# and hyphens, 128 characters at most.
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
# The main stack: roles without names (SAM's), and SAM's transform and the API's AWS::Include.
CUSTOMER_CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND")
# The Nekt-account stack: a role with a name (nekt-peering-accepter-<account>), and SAM's transform (the probe).
NEKT_ACCOUNT_CAPABILITIES = ["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# The Nekt-account stack's tag: what onboard last made it (a release is immutable, so its template URL names it).
ONBOARDED_AS = "nekt-peering:onboarded-as"
POLL_SECONDS = 5.0  # between two DescribeStacks while CloudFormation works
LIVE_PEERING_STATES = ["initiating-request", "pending-acceptance", "provisioning", "active"]


class InvalidAccountId(OperatorError):
    """The customer's account id is not 12 digits."""


class InvalidStackName(OperatorError):
    """The customer's stack name is not one CloudFormation takes."""


class UnknownRegion(OperatorError):
    """The customer's Region is none AWS has (botocore's endpoint data)."""


class StackFailed(OperatorError):
    """CloudFormation could not create, update or delete the Nekt-account stack; its own reasons follow."""


class CustomerHasConnections(OperatorError):
    """Offboard: Nekt's account still holds a connection of the customer's."""


@dataclass(frozen=True)
class Nekt:
    """Nekt's side, the same for every customer: where the Nekt VPC is, who the platform is, where releases are."""

    region: str
    vpc_id: str
    route_table_id: str
    platform_principal_arn: str
    bucket_prefix: str
    event_bus: str = "default"
    probe_subnet_ids: tuple[str, ...] = ()
    probe_database_cidr: str = "10.0.0.0/8"


@dataclass(frozen=True)
class Customer:
    account_id: str
    region: str  # the database's, where the main stack runs
    stack_name: str = "nekt-peering"

    @property
    def nekt_stack_name(self) -> str:
        return f"nekt-peering-accepter-{self.account_id}"

    @property
    def external_id_parameter(self) -> str:
        return f"/nekt-peering/customers/{self.account_id}/external-id"

    @property
    def bus_statement_id(self) -> str:
        return f"nekt-peering-{self.account_id}"


@dataclass
class Onboarded:
    link: str
    template_url: str
    stack_name: str
    region: str
    parameters: dict[str, str]
    nekt_stack: str
    stack_action: str  # created, updated, unchanged
    capabilities: tuple[str, ...] = CUSTOMER_CAPABILITIES


@dataclass
class Aws:
    """The Nekt account's clients: client(service, region)."""

    client: Callable[[str, str], Any]
    poll_seconds: float = field(default_factory=lambda: POLL_SECONDS)
    timeout_seconds: float = 1800.0
    _made: dict[tuple[str, str], Any] = field(default_factory=dict)

    def __call__(self, service: str, region: str) -> Any:
        if (service, region) not in self._made:
            self._made[service, region] = self.client(service, region)
        return self._made[service, region]


def known_regions() -> set[str]:
    session = boto3.session.Session()
    return {region for partition in session.get_available_partitions()
            for region in session.get_available_regions("cloudformation", partition_name=partition)}


def check_account(account_id: str) -> None:
    if not ACCOUNT_ID.fullmatch(account_id):
        raise InvalidAccountId(f"account id {account_id!r} is not 12 digits: the customer's AWS account id, "
                               "as the console's account menu shows it (without dashes)")


def onboard(customer: Customer, nekt: Nekt, version: str, aws: Aws) -> Onboarded:
    check_account(customer.account_id)
    if not STACK_NAME.fullmatch(customer.stack_name):
        raise InvalidStackName(f"stack name {customer.stack_name!r} is not one CloudFormation takes: a letter, then "
                               "letters, digits and hyphens, 128 characters at most")
    if customer.region not in known_regions():
        raise UnknownRegion(f"Region {customer.region!r} is none AWS has: the database's Region, e.g. eu-west-1")
    customer_release = released(aws("s3", customer.region), Location(nekt.bucket_prefix, version, customer.region))
    nekt_release = released(aws("s3", nekt.region), Location(nekt.bucket_prefix, version, nekt.region))

    external_id = _external_id(aws("ssm", nekt.region), customer)
    parameters = {"DatabaseAccountId": customer.account_id, "DatabaseStackName": customer.stack_name,
                  "ExternalId": external_id, "NektVpcId": nekt.vpc_id, "NektRouteTableId": nekt.route_table_id,
                  "ProbeSubnetIds": ",".join(nekt.probe_subnet_ids), "ProbeDatabaseCidr": nekt.probe_database_cidr}
    action, outputs = _converge_stack(aws, nekt.region, customer.nekt_stack_name,
                                      nekt_release["nektAccountTemplateUrl"], parameters)
    bus_arn = _admit(aws("events", nekt.region), nekt.event_bus, customer)

    filled = {"NektAccountId": outputs["NektAccountId"], "NektRegion": outputs["NektRegion"],
              "NektVpcId": outputs["NektVpcId"], "NektRouteTableId": outputs["NektRouteTableId"],
              "NektAccepterRoleArn": outputs["NektAccepterRoleArn"], "NektExternalId": external_id,
              "NektPlatformPrincipalArn": nekt.platform_principal_arn, "NektEventBusArn": bus_arn}
    if "ProbeFunctionArn" in outputs:
        filled["NektProbeFunctionArn"] = outputs["ProbeFunctionArn"]
    template_url = customer_release["templateUrl"]
    return Onboarded(quick_create_link(customer.region, template_url, customer.stack_name, filled), template_url,
                     customer.stack_name, customer.region, filled, nekt_stack=customer.nekt_stack_name,
                     stack_action=action)


def quick_create_link(region: str, template_url: str, stack_name: str, parameters: dict[str, str]) -> str:
    """CloudFormation's quick-create link: the console's create page with the template, the stack's name and
    each parameter (`param_<Name>`) filled in (docs/deploying.md, "Onboarding a customer")."""
    query = urlencode({"templateURL": template_url, "stackName": stack_name,
                       **{f"param_{name}": value for name, value in parameters.items()}}, quote_via=quote)
    return (f"https://{region}.console.aws.amazon.com/cloudformation/home?region={region}"
            f"#/stacks/quickcreate?{query}")


def offboard(customer: Customer, nekt: Nekt, aws: Aws) -> list[str]:
    """Removes what onboard made; refuses while Nekt's account holds a connection of the customer's. Returns what
    it removed (nothing when the customer was not onboarded)."""
    check_account(customer.account_id)
    held = connections_held(aws("ec2", nekt.region), nekt.vpc_id, customer.account_id)
    if held:
        raise CustomerHasConnections(
            f"account {customer.account_id} still has connections through the Nekt VPC ({', '.join(held)}): "
            "disconnect them from the customer's stack first (nekt-peering disconnect, or DELETE "
            "/connections/{id}), then offboard")
    removed = []
    if _delete_stack(aws, nekt.region, customer.nekt_stack_name):
        removed.append(f"stack {customer.nekt_stack_name}")
    if _dismiss(aws("events", nekt.region), nekt.event_bus, customer):
        removed.append(f"event bus {nekt.event_bus}'s statement {customer.bus_statement_id}")
    try:
        aws("ssm", nekt.region).delete_parameter(Name=customer.external_id_parameter)
        removed.append(f"parameter {customer.external_id_parameter}")
    except ClientError as error:
        if _code(error) != "ParameterNotFound":
            raise
    return removed


def connections_held(ec2: Any, vpc_id: str, account_id: str) -> list[str]:
    """The customer's peerings into the Nekt VPC, and resource endpoints in it to a configuration of theirs."""
    peerings = ec2.describe_vpc_peering_connections(Filters=[
        {"Name": "accepter-vpc-info.vpc-id", "Values": [vpc_id]},
        {"Name": "requester-vpc-info.owner-id", "Values": [account_id]},
        {"Name": "status-code", "Values": LIVE_PEERING_STATES}])["VpcPeeringConnections"]
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    return [peering["VpcPeeringConnectionId"] for peering in peerings] + [
        endpoint["VpcEndpointId"] for endpoint in endpoints
        if f":{account_id}:" in endpoint.get("ResourceConfigurationArn", "")
        and endpoint.get("State", "").lower() not in ("deleted", "deleting", "failed", "rejected", "expired")]


def _external_id(ssm: Any, customer: Customer) -> str:
    """The customer's ExternalId: the one kept, or a new one kept first (a lost answer or a race keeps one)."""
    for _ in range(2):
        try:
            value: str = ssm.get_parameter(Name=customer.external_id_parameter, WithDecryption=True)["Parameter"][
                "Value"]
            return value
        except ClientError as error:
            if _code(error) != "ParameterNotFound":
                raise
        try:
            ssm.put_parameter(Name=customer.external_id_parameter, Type="SecureString", Value=secrets.token_hex(32),
                              Overwrite=False, Description=f"nekt-peering: the ExternalId of account "
                                                           f"{customer.account_id}'s accepter role")
        except ClientError as error:
            if _code(error) != "ParameterAlreadyExists":
                raise
    raise RuntimeError(f"{customer.external_id_parameter} was neither readable nor writable")


def _converge_stack(aws: Aws, region: str, name: str, template_url: str,
                    parameters: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The stack created from the template, or updated to it; left alone when onboard already made it so (its tag
    ONBOARDED_AS: the digest of the template's URL, a release's own, and the parameters)."""
    cloudformation = aws("cloudformation", region)
    digest = hashlib.sha256(json.dumps([template_url, parameters], sort_keys=True).encode()).hexdigest()
    arguments = {"StackName": name, "TemplateURL": template_url, "Capabilities": NEKT_ACCOUNT_CAPABILITIES,
                 "Parameters": [{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
                 "Tags": [{"Key": ONBOARDED_AS, "Value": digest}]}
    stack = _wait(aws, region, name)
    if stack is not None and stack["StackStatus"] == "ROLLBACK_COMPLETE":  # a failed create: only deletable
        _delete_stack(aws, region, name)
        stack = None
    started = time.time()
    if stack is None:
        cloudformation.create_stack(**arguments)
        action = "created"
    elif stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE") and {"Key": ONBOARDED_AS, "Value": digest} in \
            stack.get("Tags", []):
        return "unchanged", {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    else:
        try:
            cloudformation.update_stack(**arguments)
            action = "updated"
        except ClientError as error:
            if "No updates are to be performed" not in str(error):
                raise
            action = "unchanged"
    stack = _wait(aws, region, name)
    if stack is None or stack["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise StackFailed(_failure(cloudformation, name, stack, started))
    return action, {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def _delete_stack(aws: Aws, region: str, name: str) -> bool:
    stack = _wait(aws, region, name)
    if stack is None:
        return False
    started = time.time()
    aws("cloudformation", region).delete_stack(StackName=stack["StackId"])
    deleted = _wait(aws, region, stack["StackId"])
    if deleted is not None and deleted["StackStatus"] != "DELETE_COMPLETE":
        raise StackFailed(_failure(aws("cloudformation", region), stack["StackId"], deleted, started))
    return True


def _wait(aws: Aws, region: str, name: str) -> dict[str, Any] | None:
    """The stack once no operation is in progress on it; None when there is none (or it is deleted)."""
    deadline = time.monotonic() + aws.timeout_seconds
    while True:
        try:
            stack: dict[str, Any] = aws("cloudformation", region).describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as error:
            if _code(error) == "ValidationError" and "does not exist" in str(error):
                return None
            raise
        if stack["StackStatus"] == "DELETE_COMPLETE":
            return None if not name.startswith("arn:") else stack
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        if time.monotonic() > deadline:
            raise StackFailed(f"stack {name} in {region} is still {stack['StackStatus']} after "
                              f"{aws.timeout_seconds:.0f} s: follow it in the CloudFormation console")
        time.sleep(aws.poll_seconds)


def _failure(cloudformation: Any, name: str, stack: dict[str, Any] | None, since: float) -> str:
    """The stack's status and CloudFormation's own reasons: each failed resource's event since `since`."""
    status = stack["StackStatus"] if stack else "gone"
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    reasons = [f"{event['LogicalResourceId']}: {event.get('ResourceStatusReason', event['ResourceStatus'])}"
               for event in reversed(events)
               if event["ResourceStatus"].endswith("FAILED") and event["Timestamp"].timestamp() >= since - 1]
    reason = stack.get("StackStatusReason") if stack else None
    return (f"stack {name} is {status}" + (f" ({reason})" if reason else "") + ": "
            + ("; ".join(reasons) if reasons else "CloudFormation gave no reason: see its events in the console"))


def _admitted(events: Any, bus: str, customer: Customer) -> tuple[str, bool]:
    """The bus's ARN, and whether its policy has the customer's statement (by its Sid)."""
    described = events.describe_event_bus(Name=bus)
    statements = json.loads(described["Policy"])["Statement"] if described.get("Policy") else []
    return described["Arn"], any(statement.get("Sid") == customer.bus_statement_id for statement in statements)


def _admit(events: Any, bus: str, customer: Customer) -> str:
    """The customer's account may put events on Nekt's bus; returns the bus's ARN (the stack's NektEventBusArn)."""
    arn, admitted = _admitted(events, bus, customer)
    if not admitted:
        events.put_permission(EventBusName=bus, Action="events:PutEvents", Principal=customer.account_id,
                              StatementId=customer.bus_statement_id)
    return arn


def _dismiss(events: Any, bus: str, customer: Customer) -> bool:
    if not _admitted(events, bus, customer)[1]:
        return False
    events.remove_permission(EventBusName=bus, StatementId=customer.bus_statement_id)
    return True


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
