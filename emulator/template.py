"""Reads template.yaml the way CloudFormation would for what the emulator deploys."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
NEKT_TEMPLATE_PATH = ROOT / "nekt-account" / "template.yaml"


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    definition_path: Path
    substitutions: dict[str, Any]


class Template:
    def __init__(self, path: Path = TEMPLATE_PATH) -> None:
        self.path = path
        self.body: dict[str, Any] = cfn_yaml.load(str(path))
        self.resources: dict[str, Any] = self.body["Resources"]
        self.globals: dict[str, Any] = self.body.get("Globals", {}).get("Function", {})

    def functions(self) -> dict[str, str]:
        """Logical id -> handler, e.g. DiscoverFunction -> nekt_peering.handlers.discover.discover."""
        return {
            logical_id: resource["Properties"]["Handler"]
            for logical_id, resource in self.resources.items()
            if resource["Type"] == "AWS::Serverless::Function"
        }

    def code_dir(self) -> Path:
        """Where the functions' package is: the Globals' CodeUri, or the one CodeUri every function names (a
        released template names the package's object in each function)."""
        (code_uri,) = {self.globals["CodeUri"]} if "CodeUri" in self.globals else {
            resource["Properties"]["CodeUri"] for resource in self.resources.values()
            if resource["Type"] == "AWS::Serverless::Function"}
        return self.path.parent / code_uri

    def parameter_defaults(self) -> dict[str, str]:
        return {
            name: str(spec["Default"])
            for name, spec in self.body.get("Parameters", {}).items() if "Default" in spec
        }

    def tables(self) -> list[str]:
        return [logical_id for logical_id, resource in self.resources.items()
                if resource["Type"] == "AWS::DynamoDB::Table"]

    def state_machines(self) -> list[str]:
        return [logical_id for logical_id, resource in self.resources.items()
                if resource["Type"] == "AWS::Serverless::StateMachine"]

    def state_machine(self, logical_id: str) -> StateMachineSpec:
        properties = self.resources[logical_id]["Properties"]
        return StateMachineSpec(
            logical_id, self.path.parent / properties["DefinitionUri"], properties["DefinitionSubstitutions"]
        )

    def environment(self, logical_id: str, function_arns: dict[str, str], references: dict[str, str]) -> dict[str, str]:
        """A function's environment variables, `Ref`s resolved from `references` (e.g. a state machine's ARN)."""
        variables = {**self.globals.get("Environment", {}).get("Variables", {}),
                     **self.resources[logical_id]["Properties"].get("Environment", {}).get("Variables", {})}
        values = {**self.parameter_defaults(), **references}
        return {name: _resolve(expression, function_arns, values) for name, expression in variables.items()}

    def definition(
        self, logical_id: str, function_arns: dict[str, str], parameters: dict[str, str],
        account_id: str, region: str,
    ) -> str:
        """The ASL with DefinitionSubstitutions applied, as CloudFormation hands it to Step Functions."""
        spec = self.state_machine(logical_id)
        pseudo = {"AWS::AccountId": account_id, "AWS::Region": region, "AWS::Partition": "aws"}
        values = {**self.parameter_defaults(), **parameters, **pseudo}
        text = spec.definition_path.read_text()
        for key, expression in spec.substitutions.items():
            resolved = _resolve(find_in_map(self.body.get("Mappings", {}), expression), function_arns, values)
            text = text.replace("${" + key + "}", _escape(resolved))
        json.loads(text)
        if "${" in text:
            raise ValueError(f"{spec.definition_path} has a ${{...}} that template.yaml does not substitute")
        return text


def find_in_map(mappings: dict[str, Any], expression: Any) -> Any:
    """Fn::FindInMap of literal keys (the template's Release mapping) as its value; any other expression as it is."""
    if isinstance(expression, dict) and list(expression) == ["Fn::FindInMap"]:
        mapping, top, second = expression["Fn::FindInMap"]
        return mappings[mapping][top][second]
    return expression


def _resolve(expression: Any, function_arns: dict[str, str], values: dict[str, str]) -> str:
    if isinstance(expression, dict) and len(expression) == 1:
        (function, argument), = expression.items()
        if function == "Ref":
            if argument not in values:
                raise KeyError(f"no value for parameter {argument}: pass it to the emulator")
            return values[argument]
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            if attribute == "Arn":
                return function_arns[logical_id]
    if isinstance(expression, str):
        return expression
    raise NotImplementedError(f"the emulator cannot resolve {expression!r}: extend emulator/template.py")


def _escape(value: str) -> str:
    """Substitutions land inside JSON strings."""
    return json.dumps(value)[1:-1]


# --- the roles CloudFormation creates --------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleSpec:
    """An AWS::IAM::Role as CloudFormation creates it: intrinsics resolved, NoValue policies dropped."""

    logical_id: str
    name: str | None  # RoleName, when the template gives one
    path: str
    trust_policy: dict[str, Any]
    policies: dict[str, dict[str, Any]]  # inline policy name -> document
    managed_policy_arns: list[str]


def sam_transformed(body: dict[str, Any], region: str) -> dict[str, Any]:
    """template.yaml as CloudFormation sees it after AWS::Serverless-2016-10-31: SAM's own translator
    (the one `sam validate` and `sam deploy` run), on the template as `sam package` uploads it (code
    and definitions on S3, the API's body inlined; neither changes a role)."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    packaged = json.loads(json.dumps(body))
    packaged.get("Globals", {}).get("Function", {})["CodeUri"] = "s3://emulator/functions.zip"
    for logical_id, resource in packaged["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::StateMachine":
            properties["DefinitionUri"] = f"s3://emulator/{logical_id}.asl.json"
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = f"s3://emulator/{logical_id}.zip"
        if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in properties:
            properties["CodeUri"] = f"s3://emulator/{logical_id}.zip"
        if resource["Type"] == "AWS::Serverless::Api":
            properties["DefinitionBody"] = {"openapi": "3.0.1", "info": {"title": logical_id, "version": "1"},
                                            "paths": {}}
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    transformed: dict[str, Any] = translator.translate(packaged, parameter_values={},
                                                       get_managed_policy_map=lambda: {})
    return transformed


def iam_roles(body: dict[str, Any], values: dict[str, Any], references: dict[str, Any]) -> dict[str, RoleSpec]:
    """Every AWS::IAM::Role of a (transformed) template, resolved with `values` (parameters and pseudo
    parameters) and `references` (Ref and Fn::GetAtt of other resources: "Logical" or "Logical.Attribute")."""
    roles = {}
    for logical_id, properties in created(body, "AWS::IAM::Role", values, references).items():
        roles[logical_id] = RoleSpec(
            logical_id, properties.get("RoleName"), properties.get("Path", "/"), properties["AssumeRolePolicyDocument"],
            {policy["PolicyName"]: policy["PolicyDocument"] for policy in properties.get("Policies", [])},
            list(properties.get("ManagedPolicyArns", [])))
    return roles


def template_conditions(body: dict[str, Any], values: dict[str, Any], references: dict[str, Any]) -> dict[str, bool]:
    """Each of the template's conditions, true or false with these values."""
    conditions: dict[str, bool] = {}
    for name, expression in body.get("Conditions", {}).items():
        conditions[name] = bool(resolve(expression, values, references, conditions))
    return conditions


def created(body: dict[str, Any], resource_type: str, values: dict[str, Any], references: dict[str, Any]
            ) -> dict[str, dict[str, Any]]:
    """The resolved properties of each resource of that type CloudFormation creates (its Condition, if any, true)."""
    conditions = template_conditions(body, values, references)
    return {logical_id: resolve(resource["Properties"], values, references, conditions)
            for logical_id, resource in body["Resources"].items()
            if resource["Type"] == resource_type and conditions.get(resource.get("Condition", ""), True)}


def event_rules(body: dict[str, Any], values: dict[str, Any], references: dict[str, Any]) -> dict[str, Any]:
    """Every AWS::Events::Rule CloudFormation creates with these values: its properties, resolved."""
    return created(body, "AWS::Events::Rule", values, references)


_NO_VALUE = object()


def resolve(expression: Any, values: dict[str, Any], references: dict[str, Any], conditions: dict[str, bool]) -> Any:
    """CloudFormation's intrinsic functions that the templates' roles use: Ref, Fn::Sub, Fn::GetAtt, Fn::If,
    Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition, Fn::Join (AWS::NoValue removes the property or list item)."""
    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (walk(item) for item in node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (function, argument), = node.items()
            if function == "Ref":
                if argument == "AWS::NoValue":
                    return _NO_VALUE
                if argument in values:
                    return values[argument]
                if argument in references:
                    return references[argument]
                raise KeyError(f"no value for Ref {argument}: pass it to the emulator")
            if function == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return references[f"{logical_id}.{attribute}"]
            if function == "Fn::Sub":
                text, local = (argument, {}) if isinstance(argument, str) else (argument[0], walk(argument[1]))
                return re.sub(r"\$\{([^}!]+)\}", lambda m: str(_sub(m.group(1), local, walk)), text)
            if function == "Fn::If":
                name, then, otherwise = argument
                return walk(then if conditions[name] else otherwise)
            if function == "Fn::Equals":
                left, right = walk(argument)
                return left == right
            if function == "Fn::Not":
                return not walk(argument)[0]
            if function == "Fn::And":
                return all(walk(argument))
            if function == "Fn::Or":
                return any(walk(argument))
            if function == "Condition":
                return conditions[argument]
            if function == "Fn::Join":
                separator, items = argument
                joined = walk(items)
                return separator.join(str(item) for item in (joined if isinstance(joined, list) else [joined]))
            if function.startswith("Fn::"):
                raise NotImplementedError(f"the emulator cannot resolve {function}: extend emulator/template.py")
        return {key: value for key, value in ((key, walk(value)) for key, value in node.items())
                if value is not _NO_VALUE}

    def _sub(name: str, local: dict[str, Any], walk_: Any) -> Any:
        if name in local:
            return local[name]
        if "." in name:
            return walk_({"Fn::GetAtt": name})
        return walk_({"Ref": name})

    return walk(expression)
