"""statemachine/*.asl.json are generated (`make statemachines`, tools/generate_statemachines.py): the committed
files must be what the generator writes, byte for byte."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tools.generate_statemachines import ALREADY_STARTED, OUTPUT, ROOT, definitions, generated


def test_committed_state_machines_are_what_the_generator_writes() -> None:
    for path, text in generated().items():
        assert path.is_file() and path.read_text() == text, (
            f"{path.relative_to(ROOT)} is stale, or was edited by hand: change tools/generate_statemachines.py, "
            "run `make statemachines` and commit both")


@pytest.mark.parametrize("name", sorted(definitions()))
def test_the_generator_defines_what_the_committed_file_does(name: str) -> None:
    """Parsed and compared as objects, state by state: the same states, names, transitions, Retry and Catch,
    paths and comments."""
    generated = json.loads(json.dumps(definitions()[name]))
    committed = json.loads((OUTPUT / name).read_text())
    assert {key: value for key, value in generated.items() if key != "States"} == {
        key: value for key, value in committed.items() if key != "States"}
    assert sorted(generated["States"]) == sorted(committed["States"])
    for state, definition in committed["States"].items():
        assert generated["States"][state] == definition, state


# --- the Retry/Catch policy every Task follows ---------------------------------------------------------------------
#
# Stated here a second time, as the hand-written files had it, not imported from the generator: changing a policy
# takes both, on purpose. Every Task is a row of TASKS: its kind, and where a failure it does not retry goes (its
# catchers' Next). A new Task fails test_every_task_is_in_the_policy_table until it is given a row.

LAMBDA_TRANSIENT = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                    "Lambda.TooManyRequestsException"]


def retrier(errors: list[str], attempts: int) -> dict[str, Any]:
    return {"ErrorEquals": errors, "IntervalSeconds": 1, "MaxAttempts": attempts, "BackoffRate": 2,
            "JitterStrategy": "FULL"}


@dataclass(frozen=True)
class Policy:
    retry: list[dict[str, Any]]
    result_path: str | None  # the Task's own ResultPath, when the policy fixes it (None: the stage's own)
    error_path: dict[str, str]  # by machine: where its catchers put the error ("" : no Catch)
    goes_on: bool  # its catchers' Next is its own Next: a failure here does not change the path


POLICIES = {
    # A stage, forward or a status check: Lambda's transient errors, 4 more times; the stage's own error (its
    # answer) is not retried. Everything caught into $.error, on to the failure handling of TASKS; named errors
    # (InvalidInput, ConnectionBusy) first, straight to a Fail state: no result event, no record.
    "stage": Policy([retrier(LAMBDA_TRANSIENT, 4)], None, {"connect": "$.error", "disconnect": "$.error",
                                                           "sweep": "$.error"}, goes_on=False),
    # A removal (the compensation chain): the same, then any error twice more. After that, the connect keeps the
    # original $.error for its result event (the removal's in $.rollbackError); the disconnect records it.
    "removal": Policy([retrier(LAMBDA_TRANSIENT, 4), retrier(["States.ALL"], 2)], "$.rollback",
                      {"connect": "$.rollbackError", "disconnect": "$.error"}, goes_on=False),
    # The failure record in the registry: retried as a removal; then the failure path goes on to its result event,
    # the record's own error kept apart from $.error (which it recorded).
    "record": Policy([retrier(LAMBDA_TRANSIENT, 4), retrier(["States.ALL"], 2)], "$.recorded",
                     {"connect": "$.recorded", "disconnect": "$.recordError"}, goes_on=True),
    # A result event (EventBridge): any error, 3 more times; then the workflow ends as if it was sent.
    "publish": Policy([retrier(["States.ALL"], 3)], None,
                      {"connect": "$.publishError", "disconnect": "$.publishError", "check_path": "$.publishError"},
                      goes_on=True),
    # check_path's one read-only stage: no Catch, its error is the execution's (the CLI reports it).
    "check": Policy([retrier(LAMBDA_TRANSIENT, 4)], None, {"check_path": ""}, goes_on=False),
    # The sweep going on in a new execution of itself (Step Functions' startExecution, named so that a retry is the
    # same start): any error, 3 more times, as a result event; then the sweep fails, as a stage would. But for
    # ExecutionAlreadyExists, not retried: the start of that name ran, and its execution has ended.
    "continue": Policy([{"ErrorEquals": [ALREADY_STARTED], "MaxAttempts": 0}, retrier(["States.ALL"], 3)],
                       "$.continued", {"sweep": "$.error"}, goes_on=False),
}

BEFORE_ANY_CHANGE = "Record the failure before any change"
TASKS: dict[str, dict[str, tuple[str, str | None]]] = {
    "connect.asl.json": {
        "Discover": ("stage", BEFORE_ANY_CHANGE),
        "Take the locks": ("stage", BEFORE_ANY_CHANGE),
        "Preflight": ("stage", BEFORE_ANY_CHANGE),
        "Publish: planned": ("publish", "Return the plan"),
        # After a change, a stage's failure enters the compensation chain at the removal of what it made, or
        # earlier: the chain runs on to its end from there.
        "Allow Nekt public IP": ("stage", "Undo: revoke ingress"),
        "Request peering": ("stage", "Undo: delete peering"),
        "Check request status": ("stage", "Undo: delete peering"),
        "Accept peering": ("stage", "Undo: delete peering"),
        "Check active status": ("stage", "Undo: delete peering"),
        "Update routes": ("stage", "Undo: delete routes"),
        "Authorize ingress": ("stage", "Undo: revoke ingress"),
        "Enable DNS resolution": ("stage", "Undo: revoke ingress"),
        "Share the database": ("stage", "Undo: remove the resource endpoint"),
        "Create the resource endpoint": ("stage", "Undo: remove the resource endpoint"),
        "Verify": ("stage", "Undo: which path?"),
        "Record the connection": ("stage", "Undo: which path?"),
        "Publish: restored": ("publish", "Publish: connected"),
        "Publish: connected": ("publish", "Connected"),
        "Undo: remove the resource endpoint": ("removal", "Rollback could not run"),
        "Undo: unshare the database": ("removal", "Rollback could not run"),
        "Undo: revoke ingress": ("removal", "Rollback could not run"),
        "Undo: delete routes": ("removal", "Rollback could not run"),
        "Undo: restore DNS option": ("removal", "Rollback could not run"),
        "Undo: delete peering": ("removal", "Rollback could not run"),
        "Record the failure": ("record", "Rolled back completely?"),
        "Publish: rolled back": ("publish", "Failed and rolled back"),
        "Publish: rollback failed": ("publish", "Rollback failed"),
        BEFORE_ANY_CHANGE: ("record", "Publish: failed before any change"),
        "Publish: failed before any change": ("publish", "Failed before any change"),
    },
    "disconnect.asl.json": {
        "Find what to remove": ("stage", "Record the failure"),
        "Take the locks": ("stage", "Record the failure"),
        "Remove the resource endpoint": ("removal", "Record the failure"),
        "Unshare the database": ("removal", "Record the failure"),
        "Revoke ingress": ("removal", "Record the failure"),
        "Delete routes": ("removal", "Record the failure"),
        "Restore DNS option": ("removal", "Record the failure"),
        "Delete peering": ("removal", "Record the failure"),
        "Check peering deleted": ("stage", "Record the failure"),
        "Record the disconnect": ("stage", "Record the failure"),
        "Publish: disconnected": ("publish", "Others intact?"),
        "Record the incomplete disconnect": ("record", "Publish: disconnect incomplete"),
        "Publish: disconnect incomplete": ("publish", "Disconnect incomplete"),
        "Record the failure": ("record", "Publish: disconnect failed"),
        "Publish: disconnect failed": ("publish", "Disconnect failed"),
    },
    "check_path.asl.json": {
        "Check path": ("check", None),
        "Publish: health": ("publish", "Path intact?"),
    },
    # The checks themselves run in the Map's iterations, as the check-path machine's stage (a Catch of their own:
    # a connection not checked leaves the sweep going on).
    "sweep.asl.json": {
        "List connected": ("stage", "Sweep failed"),
        "Continue in a new execution": ("continue", "Sweep failed"),
        "Count by health": ("stage", "Sweep failed"),
    },
}

# Every loop waits, and a Task in it bounds it: the Wait -> that Task, and how it ends the loop (the stages count
# their runs against MaxPolls; test_connect_workflow, test_disconnect, test_resource_path and test_strict_peerings
# run them past it).
WAITS: dict[str, dict[str, tuple[str, str]]] = {
    "connect.asl.json": {
        "Wait for the locks": ("Take the locks", "a lock whose lease or holder has ended is taken over"),
        "Wait for pending-acceptance": ("Check request status", "PeeringTimeout after MaxPolls"),
        "Wait for active": ("Check active status", "PeeringTimeout after MaxPolls"),
        "Wait for the gateway": ("Share the database", "ResourcePathTimeout after MaxPolls"),
        "Wait for the endpoint": ("Create the resource endpoint", "ResourcePathTimeout after MaxPolls"),
        "Wait before removing the endpoint": ("Undo: remove the resource endpoint", "stops waiting after MaxPolls"),
        "Wait before removing the gateway": ("Undo: unshare the database", "stops waiting after MaxPolls"),
        "Wait before deleting the peering": ("Undo: delete peering", "stops waiting after MaxPolls"),
    },
    "disconnect.asl.json": {
        "Wait for the locks": ("Take the locks", "a lock whose lease or holder has ended is taken over"),
        "Wait before removing the endpoint": ("Remove the resource endpoint", "stops waiting after MaxPolls"),
        "Wait before removing the gateway": ("Unshare the database", "stops waiting after MaxPolls"),
        "Wait before deleting the peering": ("Delete peering", "stops waiting after MaxPolls"),
        "Wait for deleted": ("Check peering deleted", "PeeringTimeout after MaxPolls"),
    },
    "check_path.asl.json": {},
    "sweep.asl.json": {},  # its one loop, page after page, is bounded by the pages of an execution
}
WAIT_SECONDS = {"$.discovery.settings.pollIntervalSeconds", "$.locks.waitSeconds"}


def successors(state: dict[str, Any], catches: bool = True) -> list[str]:
    following = [state[key] for key in ("Next", "Default") if key in state]
    following += [rule["Next"] for rule in state.get("Choices", [])]
    return following + ([catcher["Next"] for catcher in state.get("Catch", [])] if catches else [])


def reachable(states: dict[str, Any], start: str, without: frozenset[str] = frozenset(),
              catches: bool = True) -> set[str]:
    """The states reachable from `start` in one or more transitions, never through `without`."""
    seen: set[str] = set()
    pending = [name for name in successors(states[start], catches) if name not in without]
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending += [following for following in successors(states[name], catches) if following not in without]
    return seen


def policy_violations(machine: str, definition: dict[str, Any]) -> list[str]:
    """What breaks the policy, one line each ([] when every state follows it)."""
    states: dict[str, Any] = definition["States"]
    table = TASKS[machine]
    problems = [f"{name}: a Task without a row in TASKS" for name, state in states.items()
                if state["Type"] == "Task" and name not in table]
    problems += [f"{name}: in TASKS, not a Task" for name in table if states.get(name, {}).get("Type") != "Task"]
    workflow = machine.removesuffix(".asl.json")
    for name, (kind, on_failure) in table.items():
        state, policy = states.get(name), POLICIES[kind]
        if state is None or state["Type"] != "Task":
            continue
        if state.get("Retry") != policy.retry:
            problems.append(f"{name}: Retry is not the {kind}'s {policy.retry}")
        if policy.result_path is not None and state.get("ResultPath") != policy.result_path:
            problems.append(f"{name}: ResultPath is not the {kind}'s {policy.result_path}")
        if kind == "publish" and (state["Resource"] != "arn:aws:states:::events:putEvents"
                                  or "ResultPath" not in state or state["ResultPath"] is not None):
            problems.append(f"{name}: a result event is put on EventBridge with ResultPath null")
        resource = state["Resource"]
        if kind == "continue" and resource != "arn:aws:states:::states:startExecution":
            problems.append(f"{name}: the sweep goes on through Step Functions' startExecution")
        if kind not in ("publish", "continue") and not (
                resource.startswith("${") and resource.endswith("FunctionArn}")):
            problems.append(f"{name}: a {kind} is a function of the stack")
        catchers = state.get("Catch", [])
        error_path = policy.error_path[workflow]
        if not error_path:
            if catchers:
                problems.append(f"{name}: a {kind} has no Catch")
            continue
        if [catcher["ErrorEquals"] for catcher in catchers[-2:]] != [["States.DataLimitExceeded"], ["States.ALL"]]:
            problems.append(f"{name}: no Catch of States.DataLimitExceeded then States.ALL, last")
            continue
        for catcher in catchers[-2:]:
            if catcher["ResultPath"] != error_path or catcher["Next"] != on_failure:
                problems.append(f"{name}: catches {catcher['ErrorEquals']} into {catcher['ResultPath']}, on to "
                                f"{catcher['Next']}: the policy is {error_path}, on to {on_failure}")
        for catcher in catchers[:-2]:
            if kind == "continue" and catcher["ErrorEquals"] == [ALREADY_STARTED] and states[catcher["Next"]].get(
                    "End"):
                continue  # handed off all the same: the sweep goes on in the execution the lost attempt started
            if (kind != "stage" or len(catcher["ErrorEquals"]) != 1 or catcher["ResultPath"] != "$.error"
                    or states[catcher["Next"]]["Type"] != "Fail"):
                problems.append(f"{name}: a named catcher other than a stage's error, into $.error, to a Fail state")
        if policy.goes_on and on_failure != state.get("Next"):
            problems.append(f"{name}: a {kind}'s failure goes where it would have gone ({state.get('Next')})")
    if workflow == "connect":
        # Once a path is chosen, something may have changed: every function's failure there is rolled back (read
        # from the file, whatever TASKS says).
        for name in sorted(reachable(states, "Which path?", catches=False)):
            state = states[name]
            if state["Type"] == "Task" and state["Resource"].endswith("FunctionArn}") and not all(
                    catcher["Next"].startswith("Undo: ") for catcher in state.get("Catch", [{"Next": ""}])):
                problems.append(f"{name}: a stage after the first change whose failure is not rolled back")
        # A rollback never goes forward again: from any removal, no stage is reachable.
        for name in [name for name, (kind, _) in table.items() if kind == "removal"]:
            forward = sorted(state for state in reachable(states, name) if table.get(state, ("", None))[0] == "stage")
            if forward:
                problems.append(f"{name}: the rollback reaches the forward stages {forward}")
    return problems


def loop_violations(machine: str, definition: dict[str, Any]) -> list[str]:
    states: dict[str, Any] = definition["States"]
    problems = [f"{name}: a Choice without a Default" for name, state in states.items()
                if state["Type"] == "Choice" and "Default" not in state]
    waits = {name: state for name, state in states.items() if state["Type"] == "Wait"}
    if set(waits) != set(WAITS[machine]):
        problems.append(f"Wait states {sorted(waits)} are not WAITS' {sorted(WAITS[machine])}")
    for name, state in waits.items():
        if state.get("SecondsPath") not in WAIT_SECONDS:
            problems.append(f"{name}: waits {state.get('SecondsPath', state.get('Seconds'))}, not a setting's time")
        bound, _ = WAITS[machine].get(name, ("", ""))
        if name in reachable(states, name, without=frozenset([bound])):
            problems.append(f"{name}: loops back without running {bound!r}, which bounds it")
    tasks = frozenset(name for name, state in states.items() if state["Type"] == "Task")
    problems += [f"{name}: on a loop that runs no Task (nothing counts its turns)" for name in states
                 if name not in tasks and name in reachable(states, name, without=tasks)]
    return problems


@pytest.mark.parametrize("machine", sorted(TASKS))
def test_every_task_is_in_the_policy_table_and_follows_it(machine: str) -> None:
    definition = json.loads((OUTPUT / machine).read_text())
    assert policy_violations(machine, definition) == []


@pytest.mark.parametrize("machine", sorted(WAITS))
def test_every_loop_waits_a_setting_s_time_and_runs_the_task_that_bounds_it(machine: str) -> None:
    definition = json.loads((OUTPUT / machine).read_text())
    assert loop_violations(machine, definition) == []


def test_the_policy_finds_a_task_that_breaks_it() -> None:
    """The checks above see a Task that breaks the policy: here, six breaks in a copy of the connect workflow."""
    definition = json.loads((OUTPUT / "connect.asl.json").read_text())
    states = definition["States"]
    del states["Update routes"]["Catch"]
    states["Verify"]["Catch"] = states["Preflight"]["Catch"]
    states["Undo: delete peering"]["Retry"] = states["Request peering"]["Retry"]
    states["Publish: connected"]["Catch"][-1]["Next"] = "Undo: which path?"
    states["Tag the peering"] = {**states["Update routes"], "Next": "Authorize ingress"}
    states["Wait for active"]["Next"] = "Active?"

    assert policy_violations("connect.asl.json", definition) == [
        "Tag the peering: a Task without a row in TASKS",
        "Update routes: no Catch of States.DataLimitExceeded then States.ALL, last",
        "Verify: catches ['States.DataLimitExceeded'] into $.error, on to Record the failure before any change: "
        "the policy is $.error, on to Undo: which path?",
        "Verify: catches ['States.ALL'] into $.error, on to Record the failure before any change: the policy is "
        "$.error, on to Undo: which path?",
        "Publish: connected: catches ['States.ALL'] into $.publishError, on to Undo: which path?: the policy is "
        "$.publishError, on to Connected",
        "Undo: delete peering: Retry is not the removal's " + repr(POLICIES["removal"].retry),
        "Update routes: a stage after the first change whose failure is not rolled back",
        "Verify: a stage after the first change whose failure is not rolled back",
    ]
    assert loop_violations("connect.asl.json", definition) == [
        "Wait for active: loops back without running 'Check active status', which bounds it",
        "Active?: on a loop that runs no Task (nothing counts its turns)",
        "Wait for active: on a loop that runs no Task (nothing counts its turns)",
    ]
