"""The emulated AWS: moto with AWS's rules on (emulator.strict) and DynamoDB's atomicity, in this process.

`emulated_aws()` is what the tests, the events and the bench run in; emulator.server serves the same
over HTTP for other processes (the demo).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto import mock_aws

from emulator.strict.dynamodb import atomic_dynamodb
from emulator.strict.layer import StrictAws
from emulator.strict.rules import all_rules
from emulator.strict.stepfunctions import start_execution_as_aws

# moto's settings for the emulated AWS: Step Functions runs the state machines, and Lambda runs without
# Docker (emulator.lambda_runtime replaces its invoke with the repo's handlers).
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


def strict_aws() -> StrictAws:
    """The strict layer with every rule of AWS's the emulator keeps (not yet installed)."""
    return StrictAws(all_rules())


@contextmanager
def emulated_aws() -> Iterator[StrictAws]:
    """moto in process, as the tests, the events and the bench use it, with AWS's rules on."""
    with mock_aws(config=MOTO_CONFIG), strict_aws() as layer, atomic_dynamodb(), start_execution_as_aws():
        yield layer
