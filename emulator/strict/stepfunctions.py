"""Step Functions' startExecution integration as AWS runs it, which moto's interpreter does not.

AWS's integration takes the API's parameters capitalized ("StateMachineArn", "Input", "Name") and answers so
("ExecutionArn", "StartDate"): "Start a new execution of a state machine" in the Step Functions developer guide.
moto's interpreter hands the parameters to boto3 as they are, whose StartExecution names them stateMachineArn,
input and name (the task fails with States.Runtime), and answers boto3's names. The sweep continues in a new
execution of itself through it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)

# The integration's parameters -> StartExecution's, as botocore's model names them; and its answer's, back.
PARAMETERS = {"StateMachineArn": "stateMachineArn", "Input": "input", "Name": "name"}
ANSWER = {"executionArn": "ExecutionArn", "startDate": "StartDate"}


@contextmanager
def start_execution_as_aws() -> Iterator[None]:
    parameters, answer = StateTaskServiceSfn._normalise_parameters, StateTaskServiceSfn._normalise_response

    def normalise_parameters(self: Any, given: dict[str, Any], boto_service_name: str | None = None,
                             service_action_name: str | None = None) -> None:
        parameters(self, given, boto_service_name, service_action_name)
        if self._get_boto_service_action() == "start_execution":
            for key, boto_key in PARAMETERS.items():
                if key in given:
                    given[boto_key] = given.pop(key)

    def normalise_response(self: Any, response: Any, boto_service_name: str | None = None,
                           service_action_name: str | None = None) -> None:
        answer(self, response, boto_service_name, service_action_name)
        if self._get_boto_service_action() == "start_execution" and isinstance(response, dict):
            for boto_key, key in ANSWER.items():
                if boto_key in response:
                    response[key] = response.pop(boto_key)

    StateTaskServiceSfn._normalise_parameters = normalise_parameters  # type: ignore[method-assign,assignment]
    StateTaskServiceSfn._normalise_response = normalise_response  # type: ignore[method-assign]
    try:
        yield
    finally:
        StateTaskServiceSfn._normalise_parameters = parameters  # type: ignore[method-assign]
        StateTaskServiceSfn._normalise_response = answer  # type: ignore[method-assign]
