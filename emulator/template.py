"""Reads template.yaml the way CloudFormation would for what the emulator deploys."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
NEKT_ACCOUNT_TEMPLATE_PATH = ROOT / "nekt-account" / "template.yaml"


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
        return self.path.parent / self.globals["CodeUri"]

    def parameter_defaults(self) -> dict[str, str]:
        return {
            name: str(spec["Default"])
            for name, spec in self.body.get("Parameters", {}).items() if "Default" in spec
        }

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
            text = text.replace("${" + key + "}", _escape(_resolve(expression, function_arns, values)))
        json.loads(text)
        if "${" in text:
            raise ValueError(f"{spec.definition_path} has a ${{...}} that template.yaml does not substitute")
        return text


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
