"""Writes events/: for each function, the event the real state machine passes it.

The events come from two connects on the emulator (cross-account, cross-region): one that
succeeds, and one whose verification fails so that every compensation runs; then a disconnect
of the rolled-back connection (nothing left to remove, so the connected example stays as it is),
a re-check of the connected one's path (the check-path state machine), the platform's GET of
the connected one through the API function, then two connects of clusters whose VPCs overlap Nekt's
(auto: the resource-endpoint path, same Region), the second failing at Verify so that its compensations
run, and last the health sweep. moto's random ids are seeded so the output is the same on every machine.
Each event therefore ran through its handler in those runs; `sam local invoke <Function> -e
events/<name>.json` takes them as they are. Regenerate with `make events` after changing the ASL or a stage.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from moto.moto_api._internal import mock_random
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from emulator.apigateway import rest_event
from emulator.aws import emulated_aws
from emulator.stack import DEFAULT_ACCOUNT, Execution, Stack
from emulator.strict.layer import StrictAws
from emulator.template import ROOT
from emulator.topology import create_database, create_nekt_network
from nekt_peering.core.errors import VerificationFailed
from nekt_peering.registry.bookkeeping import CLOCK_MARGIN

SEED = 20261124
EXECUTION_NAME = "orders-db-example"
EXAMPLE_INPUT = {"database": {"identifier": "orders-db", "region": "us-east-2"}, "mode": "auto",
                 "connectionId": "orders-db", "dryRun": False}
ROLLBACK_EXECUTION_NAME = "reports-db-example-rollback"
ROLLBACK_INPUT: dict[str, Any] = {"database": {"identifier": "reports-db", "region": "us-east-2"},
                                  "connectionId": "reports-db"}
DISCONNECT_EXECUTION_NAME = "reports-db-example-disconnect"
DISCONNECT_INPUT = {"connectionId": "reports-db", "region": "us-east-2"}
CHECK_EXECUTION_NAME = "orders-db-example-check-path"
# A cluster whose VPC overlaps Nekt's: auto shares it as a VPC resource (the resource-endpoint path).
RESOURCE_EXECUTION_NAME = "analytics-db-example"
RESOURCE_INPUT: dict[str, Any] = {"database": {"identifier": "analytics-db", "region": "us-east-1"},
                                  "connectionId": "analytics-db"}
RESOURCE_ROLLBACK_NAME = "metrics-db-example-rollback"
RESOURCE_ROLLBACK_INPUT: dict[str, Any] = {"database": {"identifier": "metrics-db", "region": "us-east-1"},
                                           "connectionId": "metrics-db"}
CHECK_INPUT = {"database": EXAMPLE_INPUT["database"], "connectionId": "orders-db"}
SWEEP_EXECUTION_NAME = "example-sweep"


def event_file_name(logical_id: str) -> str:
    """DiscoverFunction -> discover.json, EnableDnsResolutionFunction -> enable_dns_resolution.json."""
    stem = logical_id.removesuffix("Function")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", stem).lower() + ".json"


def record_events(strict: StrictAws) -> dict[str, dict[str, Any]]:
    """Run the two connects and return, per function, the first event it received.

    With every AWS rule but ListExecutions' delay: whether an execution lists itself a second time
    depends on timing, and each call draws a request id from the seeded random ids the events name."""
    with strict.relax("new-executions-invisible"):
        return _record_events()


def _record_events() -> dict[str, dict[str, Any]]:
    mock_random.seed(SEED)
    nekt = create_nekt_network()
    create_database()
    create_database(ROLLBACK_INPUT["database"]["identifier"], cidr="10.30.0.0/16")
    stack = Stack({**nekt.stack_parameters(), "PollIntervalSeconds": "0"}).deploy()
    # The strict layer leads the peering through initiating-request, pending-acceptance and
    # provisioning as AWS does (emulator.strict.peerings), so each event is one AWS would pass.
    stack.runtime.before_invoke("VerifyFunction", _fail_the_rollback_example)
    try:
        connected = _run_still(stack, EXAMPLE_INPUT, EXECUTION_NAME, "VerifyFunction")
        rolled_back = _run_still(stack, ROLLBACK_INPUT, ROLLBACK_EXECUTION_NAME, "DeletePeeringFunction")
        disconnected = _run_still(stack, DISCONNECT_INPUT, DISCONNECT_EXECUTION_NAME, "DeletePeeringFunction",
                                  state_machine="DisconnectStateMachine")
        checked = _run_still(stack, CHECK_INPUT, CHECK_EXECUTION_NAME, "CheckPathFunction",
                             state_machine="CheckPathStateMachine")
        # The platform asking how the connected example is: the event API Gateway passes the API function.
        answer = stack.invoke("ApiFunction", rest_event("GET", f"/connections/{EXAMPLE_INPUT['connectionId']}",
                                                       region=stack.region))
        for example in (RESOURCE_INPUT, RESOURCE_ROLLBACK_INPUT):
            create_database(example["database"]["identifier"], region=nekt.region, cidr="10.100.0.0/16",
                            kind="cluster", engine="postgresql")
        shared = _run_still(stack, RESOURCE_INPUT, RESOURCE_EXECUTION_NAME, "VerifyFunction")
        unshared = _run_still(stack, RESOURCE_ROLLBACK_INPUT, RESOURCE_ROLLBACK_NAME, "RecordFailureFunction")
        # Last, so that the ids the runs above made stay as they were: the health sweep, as its schedule starts it.
        swept = _run_still(stack, {}, SWEEP_EXECUTION_NAME, "RecordSweepFunction", state_machine="SweepStateMachine")
    finally:
        stack.close()
    if (connected.status != "SUCCEEDED" or rolled_back.error != "VerificationFailed"
            or disconnected.status != "SUCCEEDED" or checked.status != "SUCCEEDED" or answer["statusCode"] != 200
            or shared.status != "SUCCEEDED" or unshared.error != "VerificationFailed"
            or swept.status != "SUCCEEDED"):
        raise RuntimeError(f"the example runs went wrong: {connected.error}: {connected.error_message}; "
                           f"{rolled_back.error}: {rolled_back.error_message}; "
                           f"{checked.error}: {checked.error_message}; "
                           f"{disconnected.error}: {disconnected.error_message}; GET answered {answer}; "
                           f"{shared.error}: {shared.error_message}; {unshared.error}: {unshared.error_message}; "
                           f"sweep {swept.error}: {swept.error_message}")
    events: dict[str, dict[str, Any]] = {}
    for call in stack.runtime.invocations:
        events.setdefault(call.logical_id, call.event)
    missing = set(stack.function_arns) - set(events)
    if missing:
        raise RuntimeError(f"the example connect never invoked {sorted(missing)}")
    return events


def _fail_the_rollback_example(event: dict[str, Any]) -> None:
    if event["discovery"]["request"]["connectionId"] in (ROLLBACK_INPUT["connectionId"],
                                                         RESOURCE_ROLLBACK_INPUT["connectionId"]):
        raise VerificationFailed("the connection is incomplete: (example) a route went missing. Run again")


def _run_still(stack: Stack, execution_input: dict[str, Any], name: str, last_function: str,
               state_machine: str = "ConnectStateMachine") -> Execution:
    """Every moto call draws on the seeded random ids, so the main thread keeps still until the
    run's last function is done: polling it meanwhile would shift the ids the run creates."""
    # A run reads its facts again when another released a lock just before it read them: never here.
    time.sleep(CLOCK_MARGIN.total_seconds() + 0.1)
    done = threading.Event()
    stack.runtime.after_invoke(last_function, lambda event, result: done.set())
    execution_arn = stack.start(execution_input, name=name, state_machine=state_machine)
    done.wait(timeout=120)
    # The run still finishes its last Invoke and states: wait on moto's model, which draws no ids.
    backend = stepfunctions_parser_backends[DEFAULT_ACCOUNT][stack.region]
    deadline = time.monotonic() + 60
    while backend.describe_execution(execution_arn).status == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.01)
    return stack.wait(execution_arn)


# When Discover (and the disconnect's Find) read the facts: a clock time, the same in every rendering.
FIXED_READ_AT = "2026-11-24T00:00:00.000000+00:00"


def render(event: dict[str, Any]) -> str:
    return json.dumps(_fixed_clock(event), indent=2, sort_keys=True) + "\n"


def _fixed_clock(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: FIXED_READ_AT if key == "readAt" else _fixed_clock(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_fixed_clock(inner) for inner in value]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "events")
    out = parser.parse_args().out
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # as in the tests: the ids depend on it
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # it logs the example rollback's failure as an error
    with emulated_aws() as strict:
        events = record_events(strict)
    out.mkdir(parents=True, exist_ok=True)
    for logical_id, event in sorted(events.items()):
        path = out / event_file_name(logical_id)
        path.write_text(render(event))
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
