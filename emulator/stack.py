"""Deploys template.yaml's functions and state machines into moto and runs executions."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any

import boto3

from emulator.custom_resources import CustomResourceFailed, ResponseUrls, custom_resource_request
from emulator.lambda_runtime import LambdaRuntime
from emulator.network import EmulatedNetwork
from emulator.template import (
    NEKT_TEMPLATE_PATH,
    RoleSpec,
    Template,
    created,
    event_rules,
    find_in_map,
    iam_roles,
    resolve,
    sam_transformed,
    template_conditions,
)
from nekt_peering.core.errors import cause_message

DEFAULT_ACCOUNT = "123456789012"


@dataclass
class Execution:
    arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]

    @property
    def error_message(self) -> str | None:
        """The errorMessage inside a Lambda error's cause (the cause itself otherwise)."""
        return None if self.cause is None else cause_message(self.cause)

    def states_entered(self) -> list[str]:
        return [event["stateEnteredEventDetails"]["name"] for event in self.history
                if "stateEnteredEventDetails" in event]


class Stack:
    """One deployment of template.yaml in the emulated database account."""

    def __init__(self, parameters: dict[str, str], region: str = "us-east-1", name: str = "nekt-peering",
                 template: Template | None = None) -> None:
        """`template`: template.yaml by default; a release's (emulator.installed_release) to install that release."""
        self.template = template or Template()
        self.parameters = parameters
        self.region = region
        self.name = name
        self.runtime = LambdaRuntime(self.template.code_dir())
        # What the probe resolves and reaches from the Nekt VPC: place() the databases' endpoints here.
        self.network = EmulatedNetwork()
        self.function_arns: dict[str, str] = {}
        self.state_machine_arns: dict[str, str] = {}
        self.roles: dict[str, RoleSpec] = {}  # the template's roles, by logical id (DiscoverFunctionRole)
        self.role_arns: dict[str, str] = {}  # each function's and state machine's role, by its logical id
        self.sfn = boto3.client("stepfunctions", region_name=region)
        self.tables: dict[str, str] = {}  # each DynamoDB table's name, by its logical id
        self.schedules: dict[str, str] = {}  # each EventBridge Scheduler schedule's name, by its logical id
        # The emulator has no API Gateway (the API function gets API Gateway's event: emulator.apigateway): the id
        # the stack's ApiUrl names, made as API Gateway's are (10 lowercase letters and digits).
        self.api_id = hashlib.sha256(f"{DEFAULT_ACCOUNT}/{region}/{name}".encode()).hexdigest()[:10]
        self.stack_id = (f"arn:aws:cloudformation:{region}:{DEFAULT_ACCOUNT}:stack/{name}/"
                         f"{uuid.uuid5(uuid.NAMESPACE_URL, f'{DEFAULT_ACCOUNT}/{region}/{name}')}")
        self.values: dict[str, Any] = {}  # parameters and pseudo parameters, once deployed
        self.references: dict[str, Any] = {}  # what Ref and Fn::GetAtt give, once deployed
        self.response_urls: ResponseUrls | None = None  # where custom resources answer
        self.physical_ids: dict[str, str] = {}  # each custom resource's, from its Create's answer

    def deploy(self) -> Stack:
        """Functions and state machines as CloudFormation creates them from template.yaml, each with its own
        role (SAM's transform of its Policies, deployed in moto's IAM), named as the template names them."""
        region, account = self.region, DEFAULT_ACCOUNT
        values = {**self.template.parameter_defaults(), **self.parameters, "AWS::AccountId": account,
                  "AWS::Region": region, "AWS::Partition": "aws", "AWS::StackName": self.name,
                  "AWS::URLSuffix": "amazonaws.com"}
        references: dict[str, Any] = {"Api": self.api_id}
        # A function whose Condition is false is not created (AnnounceStackFunction without NektEventBusArn).
        conditions = template_conditions(self.template.body, values, references)
        functions = {logical_id: handler for logical_id, handler in self.template.functions().items()
                     if conditions.get(self.template.resources[logical_id].get("Condition", ""), True)}
        for logical_id in self.template.tables():
            self.tables[logical_id] = create_table(self.template.resources[logical_id]["Properties"],
                                                   _physical_name(self.name, logical_id), region)
            references |= {logical_id: self.tables[logical_id],
                           f"{logical_id}.Arn": f"arn:aws:dynamodb:{region}:{account}:table/{self.tables[logical_id]}"}
        for logical_id in functions:
            name = f"{self.name}-{logical_id}"
            references |= {logical_id: name, f"{logical_id}.Arn": f"arn:aws:lambda:{region}:{account}:function:{name}"}
        machine_names = {logical_id: str(resolve(self.template.resources[logical_id]["Properties"]["Name"], values,
                                                 {}, {})) for logical_id in self.template.state_machines()}
        for logical_id, name in machine_names.items():
            arn = f"arn:aws:states:{region}:{account}:stateMachine:{name}"
            references |= {logical_id: arn, f"{logical_id}.Arn": arn, f"{logical_id}.Name": name}
        self.roles = iam_roles(sam_transformed(self.template.body, region), values, references)
        iam = boto3.client("iam", region_name=region)
        for role_id, spec in sorted(self.roles.items()):  # one order, however the template was transformed
            arn = iam.create_role(RoleName=_physical_name(self.name, role_id), Path=spec.path,
                                  AssumeRolePolicyDocument=json.dumps(spec.trust_policy))["Role"]["Arn"]
            self._put_role_policies(role_id, spec)
            owner = role_id.removesuffix("Role")
            self.role_arns[owner] = arn
            references[f"{role_id}.Arn"] = arn
        lambda_client = boto3.client("lambda", region_name=region)
        for logical_id, handler in functions.items():
            name = references[logical_id]
            arn = lambda_client.create_function(
                FunctionName=name, Runtime="python3.13", Role=self.role_arns[logical_id], Handler=handler,
                Code={"ZipFile": placeholder_zip()}, Architectures=["arm64"],
            )["FunctionArn"]
            self.function_arns[logical_id] = arn
            self.runtime.register(logical_id, name, arn, handler, role_arn=self.role_arns[logical_id])
        probe_arn = self.parameters.get("NektProbeFunctionArn", "")
        if probe_arn:  # deployed in the Nekt account by its own stack (emulator.topology.create_probe)
            handler = Template(NEKT_TEMPLATE_PATH).functions()["ProbeFunction"]
            self.runtime.register("ProbeFunction", probe_arn.rsplit(":", 1)[-1], probe_arn, handler)
        self.runtime.install()
        self.network.install()
        for logical_id, name in machine_names.items():
            self.state_machine_arns[logical_id] = self.sfn.create_state_machine(
                name=name, definition=self._definition(logical_id), roleArn=self.role_arns[logical_id],
                type="STANDARD",
            )["stateMachineArn"]
        for logical_id in functions:
            self.runtime.set_environment(logical_id, self.environment(logical_id))
        references |= {f"{owner}Role.Arn": arn for owner, arn in self.role_arns.items()}
        self._put_rules(values, references)
        self.schedules = create_schedules(self.template.body, values, references, region)
        create_alarms(self.template.body, values, references, region)
        self.subscribe()
        self.values, self.references = values, references
        for logical_id in self.custom_resources():
            self.send_custom_resource("Create", logical_id)
        return self

    def update(self, template: Template) -> Stack:
        """What CloudFormation does when the stack is updated to `template` (a newer release) with the same
        parameters: each function runs the new package (the runtime imports its handler by name: whoever updates
        puts the package first on sys.path, emulator.installed_release.released_code), each role's inline
        policies, each state machine's definition, each function's environment and each rule are the new
        template's, and each custom resource is sent an Update with its old properties. The tables stay as they
        are, items and all (CloudFormation leaves a resource the update does not change as it is). Only an update that
        keeps the template's resources and its tables unchanged is emulated; the schedules and alarms are kept as
        created."""
        if {logical_id: resource["Type"] for logical_id, resource in template.resources.items()} != {
                logical_id: resource["Type"] for logical_id, resource in self.template.resources.items()}:
            raise NotImplementedError("the emulator updates a stack to a template of the same resources only")
        if any(template.resources[table] != self.template.resources[table] for table in self.tables):
            # A changed key replaces the table, items and all, or fails on its retained name: not emulated.
            raise NotImplementedError("the emulator updates a stack whose tables do not change only")
        old_properties = {logical_id: self._custom_resource_properties(logical_id)
                          for logical_id in self.custom_resources()}
        self.template = template
        self.roles = iam_roles(sam_transformed(template.body, self.region), self.values, self.references)
        for role_id, spec in self.roles.items():
            self._put_role_policies(role_id, spec)
        for logical_id, arn in self.state_machine_arns.items():
            self.sfn.update_state_machine(stateMachineArn=arn, definition=self._definition(logical_id))
        for logical_id in self.function_arns:
            self.runtime.set_environment(logical_id, self.environment(logical_id))
        self._put_rules(self.values, self.references)
        for logical_id, properties in old_properties.items():
            self.send_custom_resource("Update", logical_id, old_properties=properties)
        return self

    def _put_role_policies(self, role_id: str, spec: RoleSpec) -> None:
        iam = boto3.client("iam", region_name=self.region)
        role_name = _physical_name(self.name, role_id)
        for policy_name in set(iam.list_role_policies(RoleName=role_name)["PolicyNames"]) - set(spec.policies):
            iam.delete_role_policy(RoleName=role_name, PolicyName=policy_name)
        for policy_name, document in spec.policies.items():
            iam.put_role_policy(RoleName=role_name, PolicyName=policy_name,
                                PolicyDocument=json.dumps(_versioned(document)))

    def _definition(self, logical_id: str) -> str:
        return self.template.definition(
            logical_id, self.function_arns, {**self.parameters, **self.tables}, DEFAULT_ACCOUNT, self.region)

    def _put_rules(self, values: dict[str, Any], references: dict[str, Any]) -> None:
        events = boto3.client("events", region_name=self.region)
        for logical_id, rule in event_rules(self.template.body, values, references).items():
            name = _physical_name(self.name, logical_id)
            events.put_rule(Name=name, EventBusName=rule["EventBusName"], State=rule["State"],
                            EventPattern=json.dumps(rule["EventPattern"]), Description=rule["Description"])
            events.put_targets(Rule=name, EventBusName=rule["EventBusName"], Targets=rule["Targets"])

    def fire_schedule(self, logical_id: str = "SweepSchedule") -> str:
        """What EventBridge Scheduler does when the schedule is due: start its target with its input."""
        target = boto3.client("scheduler", region_name=self.region).get_schedule(
            Name=self.schedules[logical_id])["Target"]
        return str(self.sfn.start_execution(stateMachineArn=target["Arn"], input=target["Input"],
                                            name=str(uuid.uuid4()))["executionArn"])

    def custom_resources(self) -> list[str]:
        """The template's Lambda-backed custom resources CloudFormation creates with these parameters."""
        conditions = template_conditions(self.template.body, self.values, self.references)
        return [logical_id for logical_id, resource in self.template.resources.items()
                if resource["Type"].startswith("Custom::")
                and conditions.get(resource.get("Condition", ""), True)]

    def send_custom_resource(self, request_type: str, logical_id: str = "StackAnnouncement",
                             old_properties: dict[str, Any] | None = None) -> dict[str, Any]:
        """What CloudFormation does for the custom resource on a stack create, update or delete: invoke its
        function (ServiceToken) with the request, then read the answer at the request's ResponseURL
        (emulator.custom_resources). CustomResourceFailed unless it answered SUCCESS, as the stack operation fails."""
        if self.response_urls is None:
            self.response_urls = ResponseUrls()
        resource = self.template.resources[logical_id]
        properties = self._custom_resource_properties(logical_id)
        request = custom_resource_request(request_type, self.response_urls, self.stack_id, logical_id,
                                          resource["Type"], properties, self.physical_ids.get(logical_id),
                                          old_properties)
        function = next(logical for logical, arn in self.function_arns.items() if arn == properties["ServiceToken"])
        self.invoke(function, request)
        answer = self.response_urls.answer(request)
        self.physical_ids[logical_id] = answer["PhysicalResourceId"]  # a failed Create's too: its Delete names it
        if answer["Status"] == "FAILED":
            raise CustomResourceFailed(f"{logical_id}: {answer.get('Reason')}")
        return answer

    def _custom_resource_properties(self, logical_id: str) -> dict[str, Any]:
        conditions = template_conditions(self.template.body, self.values, self.references)
        properties: dict[str, Any] = resolve(find_in_map_everywhere(
            self.template.body.get("Mappings", {}), self.template.resources[logical_id]["Properties"]),
            self.values, self.references, conditions)
        return properties

    def publish_outputs(self) -> dict[str, str]:
        """A CloudFormation stack named like this one whose outputs are the template's `Ref` outputs (the state
        machine and function ARNs, the table names) and its Version, so a client finds this deployment as it finds
        a real one: `describe-stacks` by name."""
        references = {**self.function_arns, **self.state_machine_arns, **self.tables}
        mappings = self.template.body.get("Mappings", {})
        outputs = {key: references[output["Value"]["Ref"]]
                   for key, output in self.template.body.get("Outputs", {}).items()
                   if isinstance(output["Value"], dict) and output["Value"].get("Ref") in references}
        outputs |= {key: find_in_map(mappings, output["Value"])
                    for key, output in self.template.body.get("Outputs", {}).items()
                    if isinstance(output["Value"], dict) and "Fn::FindInMap" in output["Value"]}
        body = {"Resources": {"Deployment": {"Type": "AWS::Logs::LogGroup",
                                             "Properties": {"LogGroupName": f"/emulator/{self.name}/deployment"}}},
                "Outputs": {key: {"Value": value} for key, value in outputs.items()}}
        boto3.client("cloudformation", region_name=self.region).create_stack(
            StackName=self.name, TemplateBody=json.dumps(body))
        return outputs

    def environment(self, logical_id: str) -> dict[str, str]:
        """The function's environment as CloudFormation would set it (Refs to the state machines resolved)."""
        environment = self.template.environment(logical_id, self.function_arns,
                                                {**self.parameters, **self.state_machine_arns, **self.tables,
                                                 "AWS::StackName": self.name})
        environment.pop("AWS_ENDPOINT_URL", None)  # where AWS is, is the emulator's to say
        return environment

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """Invoke a function as its trigger would (API Gateway for ApiFunction), with the environment
        template.yaml gives it; recorded in runtime.invocations like the state machines' calls."""
        environment = self.environment(logical_id)
        saved = {name: os.environ.get(name) for name in environment}
        os.environ.update(environment)
        try:
            headers: dict[str, str] = {}
            answer = json.loads(self.runtime.invoke(self.function_arns[logical_id], json.dumps(event), headers))
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        if headers.get("x-amz-function-error"):
            raise RuntimeError(f"{logical_id} failed: {answer}")
        return answer

    def subscribe(self, source: str = "nekt.peering") -> None:
        """What the Nekt platform does: a rule on the default bus for the result events. Its target is
        a log group, so `published()` can read every event delivered, in order."""
        logs = boto3.client("logs", region_name=self.region)
        logs.create_log_group(logGroupName=self._events_log_group)
        events = boto3.client("events", region_name=self.region)
        events.put_rule(Name=f"{self.name}-results", EventPattern=json.dumps({"source": [source]}))
        events.put_targets(Rule=f"{self.name}-results", Targets=[{
            "Id": "log", "Arn": f"arn:aws:logs:{self.region}:{DEFAULT_ACCOUNT}:log-group:{self._events_log_group}"}])

    def published(self) -> list[dict[str, Any]]:
        """The result events the state machines put on the default bus (subscribe() first)."""
        logs = boto3.client("logs", region_name=self.region)
        found = logs.filter_log_events(logGroupName=self._events_log_group)["events"]
        return [json.loads(event["message"]) for event in sorted(found, key=lambda event: event["timestamp"])]

    @property
    def _events_log_group(self) -> str:
        return f"/emulator/{self.name}/result-events"

    def close(self) -> None:
        if self.response_urls is not None:
            self.response_urls.close()
        self.runtime.uninstall()
        self.network.uninstall()

    def start(self, execution_input: Any, name: str | None = None,
              state_machine: str = "ConnectStateMachine") -> str:
        return str(self.sfn.start_execution(
            stateMachineArn=self.state_machine_arns[state_machine], input=json.dumps(execution_input),
            name=name or str(uuid.uuid4()),
        )["executionArn"])

    def wait(self, execution_arn: str, timeout: float = 120.0) -> Execution:
        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout} s")
            time.sleep(0.02)
        history = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        output = json.loads(described["output"]) if described.get("output") else None
        return Execution(execution_arn, described["status"], output, described.get("error"),
                         described.get("cause"), [dict(event) for event in history])

    def run(self, execution_input: Any, name: str | None = None,
            state_machine: str = "ConnectStateMachine") -> Execution:
        return self.wait(self.start(execution_input, name, state_machine))


def create_schedules(body: dict[str, Any], values: dict[str, Any], references: dict[str, Any], region: str
                     ) -> dict[str, str]:
    """Each AWS::Scheduler::Schedule the template creates, in moto's EventBridge Scheduler: its name, by logical id."""
    scheduler = boto3.client("scheduler", region_name=region)
    names = {}
    for logical_id, properties in created(body, "AWS::Scheduler::Schedule", values, references).items():
        names[logical_id] = _physical_name(values["AWS::StackName"], logical_id)
        scheduler.create_schedule(Name=names[logical_id], **properties)
    return names


def create_alarms(body: dict[str, Any], values: dict[str, Any], references: dict[str, Any], region: str) -> None:
    """Each AWS::CloudWatch::Alarm the template creates, in moto's CloudWatch."""
    cloudwatch = boto3.client("cloudwatch", region_name=region)
    for logical_id, properties in created(body, "AWS::CloudWatch::Alarm", values, references).items():
        cloudwatch.put_metric_alarm(AlarmName=_physical_name(values["AWS::StackName"], logical_id), **properties)

def find_in_map_everywhere(mappings: dict[str, Any], node: Any) -> Any:
    """Every Fn::FindInMap of literal keys in a resource's properties, as its value."""
    if isinstance(node, list):
        return [find_in_map_everywhere(mappings, item) for item in node]
    if isinstance(node, dict):
        if list(node) == ["Fn::FindInMap"]:
            return find_in_map(mappings, node)
        return {key: find_in_map_everywhere(mappings, value) for key, value in node.items()}
    return node


def create_table(properties: dict[str, Any], name: str, region: str) -> str:
    """An AWS::DynamoDB::Table as CloudFormation creates it: keys, indexes, billing, recovery, encryption."""
    dynamodb = boto3.client("dynamodb", region_name=region)
    arguments: dict[str, Any] = {
        key: properties[key] for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes",
                                         "BillingMode") if key in properties}
    if "SSESpecification" in properties:
        arguments["SSESpecification"] = {"Enabled": properties["SSESpecification"]["SSEEnabled"]}
    dynamodb.create_table(TableName=name, **arguments)
    recovery = properties.get("PointInTimeRecoverySpecification", {})
    if recovery.get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": True})
    return name


def _versioned(document: dict[str, Any]) -> dict[str, Any]:
    """SAM writes its inline policies without a Version, which IAM takes as 2008-10-17 (no policy variables;
    the templates use none) and moto refuses: say 2012-10-17, which evaluates these statements the same."""
    return {"Version": "2012-10-17", **document}


def _physical_name(stack_name: str, logical_id: str) -> str:
    """CloudFormation names a role it creates <stack>-<logical id>-<random suffix>, 64 characters at most."""
    suffix = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).hexdigest()[:12].upper()
    return f"{stack_name}-{logical_id}"[:51] + f"-{suffix}"


def placeholder_zip() -> bytes:
    """moto wants a package; the code that runs is the repo's, through LambdaRuntime."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "code runs in process from functions/")
    return buffer.getvalue()
