"""`make statemachines`: statemachine/*.asl.json, written from the tables and policies below.

The connect's rollback and the disconnect run the same six removals in the same order, with the same
waits; every Lambda stage, removal, failure record and result event has one of four Retry/Catch shapes.
Here each is stated once: REMOVALS is the compensation chain (the connect names its steps "Undo: ...",
catches a removal's failure into "Rollback could not run" and ends in "Record the failure"; the disconnect
uses the removals' own names, records the failure, and stops at a route left behind), and stage(),
removal(), record_failure() and publish() give each Task its policy. docs/state-machines.md says why this
is generated rather than a nested state machine.

The JSON is what deploys (template.yaml's DefinitionUri) and what the tests run: edit this file, run
`make statemachines`, commit both. tests/unit/test_statemachines.py fails while a committed file differs from
what this writes, and checks every Task against the policy, stated there a second time as a table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "statemachine"

State = dict[str, Any]
States = dict[str, State]

# --- Retry and Catch: the four policies --------------------------------------------------------------------------

# What Lambda raises when the function did not run or could not answer: retried. A stage's own error
# (InvalidInput, PeeringFailed, ...) is its answer: retrying it would repeat it.
LAMBDA_TRANSIENT = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                    "Lambda.TooManyRequestsException"]


def retrier(errors: list[str], attempts: int) -> dict[str, Any]:
    """From 1 s, doubling, with full jitter: the retries of many executions at once spread out."""
    return {"ErrorEquals": errors, "IntervalSeconds": 1, "MaxAttempts": attempts, "BackoffRate": 2,
            "JitterStrategy": "FULL"}


# A stage (forward, or a status check): Lambda's transient errors, 4 more times.
STAGE_RETRY = [retrier(LAMBDA_TRANSIENT, 4)]
# A removal or a failure record: the same, then any error twice more. What is left behind, and what the
# registry says, depend on it running.
CLEANUP_RETRY = [*STAGE_RETRY, retrier(["States.ALL"], 2)]
# A result event (EventBridge, not Lambda): any error, 3 more times; then the workflow ends as it would have.
PUBLISH_RETRY = [retrier(["States.ALL"], 3)]


def catch(result_path: str, target: str, named: Iterable[tuple[str, str]] = ()) -> list[dict[str, Any]]:
    """The named errors first, each to its own state; then every other error to `target`. States.ALL does
    not catch States.DataLimitExceeded (a result over 256 KiB): it is caught by name, before it."""
    catchers = [{"ErrorEquals": [error], "ResultPath": result_path, "Next": state} for error, state in named]
    return catchers + [{"ErrorEquals": [errors], "ResultPath": result_path, "Next": target}
                       for errors in ("States.DataLimitExceeded", "States.ALL")]


def function(name: str) -> str:
    """A function's ARN as template.yaml's DefinitionSubstitutions gives it: ${<name>FunctionArn}."""
    return "${" + name + "FunctionArn}"


def stage_input(*paths: str, **values: str) -> dict[str, str]:
    """A stage's Parameters: these parts of the execution's data, these values, and the execution's id."""
    return {**{f"{path}.$": f"$.{path}" for path in paths}, **values, "executionId.$": "$.executionId"}


def stage(comment: str, name: str, result_path: str, on_error: str, next_state: str,
          parameters: dict[str, str] | None = None, named: Iterable[tuple[str, str]] = ()) -> State:
    """A Lambda stage: STAGE_RETRY; any failure into $.error and on to `on_error` (the failure record,
    or the removal that undoes what the stage may have made), named errors first to their own state."""
    return {"Type": "Task", "Comment": comment, "Resource": function(name),
            **({} if parameters is None else {"Parameters": parameters}),
            "ResultPath": result_path, "Retry": STAGE_RETRY, "Catch": catch("$.error", on_error, named),
            "Next": next_state}


def removal(comment: str, name: str, error_path: str, on_error: str, next_state: str) -> State:
    """A removal (compensation): CLEANUP_RETRY; a failure after them into `error_path`, on to `on_error`."""
    return {"Type": "Task", "Comment": comment, "Resource": function(name), "ResultPath": "$.rollback",
            "Retry": CLEANUP_RETRY, "Catch": catch(error_path, on_error), "Next": next_state}


def record_failure(comment: str, error_path: str, next_state: str) -> State:
    """The registry's outcome and the locks released: CLEANUP_RETRY, then any failure is kept in
    `error_path` (not $.error, which is what it records) and the failure path goes on to its result event."""
    return {"Type": "Task", "Comment": comment, "Resource": function("RecordFailure"), "ResultPath": "$.recorded",
            "Retry": CLEANUP_RETRY, "Catch": catch(error_path, next_state), "Next": next_state}


def publish(comment: str, detail_type: str, detail: str | dict[str, Any], next_state: str) -> State:
    """A result event on the default bus: PUBLISH_RETRY; a failure into $.publishError, and on as if sent.
    `detail`: a path (the detail is that part of the data) or the detail's Parameters; either way with the
    `version` of the release that published it (load_settings' RELEASE)."""
    entry = {"EventBusName": "default", "Source": "nekt.peering", "DetailType": detail_type,
             **({"Detail.$": f"States.JsonMerge({detail}, $.release, false)"} if isinstance(detail, str)
                else {"Detail": {**detail, "version.$": "$.release.version"}})}
    return {"Type": "Task", "Comment": comment, "Resource": "arn:aws:states:::events:putEvents",
            "Parameters": {"Entries": [entry]}, "ResultPath": None, "Retry": PUBLISH_RETRY,
            "Catch": catch("$.publishError", next_state), "Next": next_state}


# --- the other states ----------------------------------------------------------------------------------------------

POLL_INTERVAL = "$.discovery.settings.pollIntervalSeconds"
SETTINGS = ["stackAccountId", "stackRegion", "nektAccountId", "nektRegion", "nektVpcId", "nektRouteTableId",
            "nektAccepterRoleArn", "nektExternalId", "nektPublicIp", "pollIntervalSeconds", "maxPolls",
            "nektProbeFunctionArn"]


# The release the stack runs (template.yaml's Release mapping), which every result event names. In the data
# rather than as a literal object in publish()'s JsonMerge: an intrinsic function's string argument must escape
# its braces, which moto's interpreter does not undo as Step Functions does.
RELEASE = {"version": "${Version}"}


def load_settings(workflow: str | None, next_state: str) -> State:
    """Each setting is template.yaml's DefinitionSubstitutions of its name, capitalized. A workflow that publishes
    result events (named: connect, disconnect) has RELEASE too."""
    settings = {name: "${" + name[0].upper() + name[1:] + "}" for name in SETTINGS}
    parameters = {"input.$": "$", "executionId.$": "$$.Execution.Id", "settings": settings,
                  **({} if workflow is None else {"workflow": workflow, "release": RELEASE})}
    return {"Type": "Pass", "Comment": "Deployment settings, substituted by template.yaml, become part of the "
            "execution's data.", "Parameters": parameters, "Next": next_state}


def when(variable: str, test: str, value: Any, next_state: str) -> dict[str, Any]:
    return {"Variable": variable, test: value, "Next": next_state}


def choice(rules: list[dict[str, Any]], default: str, comment: str | None = None) -> State:
    return {"Type": "Choice", **({} if comment is None else {"Comment": comment}), "Choices": rules,
            "Default": default}


def wait(next_state: str, seconds_path: str = POLL_INTERVAL, comment: str | None = None) -> State:
    return {"Type": "Wait", **({} if comment is None else {"Comment": comment}), "SecondsPath": seconds_path,
            "Next": next_state}


def fail(comment: str | None = None, error: str | None = None, error_path: str | None = None,
         cause_path: str = "$.error.Cause") -> State:
    return {"Type": "Fail", **({} if comment is None else {"Comment": comment}),
            **({} if error is None else {"Error": error}), **({} if error_path is None else {"ErrorPath": error_path}),
            "CausePath": cause_path}


def again(choice_name: str, wait_name: str, waiting: str, step: str, done: str, comment: str) -> States:
    """A step that runs again while AWS works (it answers `waiting`: true), after a poll interval. The
    step bounds the loop: it fails, or stops waiting, after MaxPolls runs."""
    return {choice_name: choice([when(waiting, "BooleanEquals", True, wait_name)], done, comment),
            wait_name: wait(step)}


def locks(take: str, taken: str, find_again: str, then: str, busy: str, on_error: str) -> States:
    """The connection's lock and its network's (TakeLocks); while another run holds the network's, wait
    and take them again, then read the facts again (`find_again`) under them."""
    return {
        "Take the locks": stage(take, "TakeLocks", "$.locks", on_error, "Locks taken?",
                                named=[("ConnectionBusy", busy)]),
        "Locks taken?": choice([when("$.locks.acquired", "BooleanEquals", False, "Wait for the locks"),
                                when("$.locks.waited", "BooleanEquals", True, find_again)], then, taken),
        "Wait for the locks": wait("Take the locks", "$.locks.waitSeconds",
                                   "Bounded: a lock whose lease has ended, or whose holder has ended, is taken over."),
    }


# --- the compensation chain, once ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rerun:
    """A removal that runs again while AWS deletes (it answers waiting: true): the Choice and the Wait after it."""

    choice: str
    wait: str
    comment: str


@dataclass(frozen=True)
class Removal:
    """One step of the compensation chain: the connect's rollback and the disconnect both run it."""

    name: str  # the disconnect's; the rollback's is "Undo: " and this, its first letter lower-case
    function: str  # the function's logical id without "Function"
    rollback: str  # its Comment in the connect's rollback
    disconnect: str  # its Comment in the disconnect
    rerun: Rerun | None = None


STEP_STOPS_WAITING = "Bounded: the step stops waiting after MaxPolls."

# The removals of each path, in the order they run. The Choice picks the resource-endpoint path's by the
# mode; the other paths run the peering's (the public path made only an ingress rule: the rest find nothing).
RESOURCE_ENDPOINT_REMOVALS = (
    Removal("Remove the resource endpoint", "RemoveResourceEndpoint",
            rollback="Compensation, the Nekt account: delete the resource endpoint tagged with the connection id, "
            "then its security group once the endpoint is deleted (the step runs again while AWS deletes it).",
            disconnect="Resource-endpoint path, the Nekt account: delete the connection's resource endpoint (tagged "
            "with its id), then its security group once AWS deleted the endpoint (the step runs again meanwhile).",
            rerun=Rerun("Endpoint removed yet?", "Wait before removing the endpoint", STEP_STOPS_WAITING)),
    Removal("Unshare the database", "UnshareDatabase",
            rollback="Compensation, the database's account: the RAM share and the resource configuration tagged with "
            "the connection id, then the ingress rule and the resource gateway with its group when this run created "
            "them (the step runs again while AWS deletes the gateway).",
            disconnect="Resource-endpoint path, the database's account: the connection's RAM share and resource "
            "configuration; the rule admitting the gateway and the gateway itself when no other connection uses them.",
            rerun=Rerun("Gateway removed yet?", "Wait before removing the gateway", STEP_STOPS_WAITING)),
)
REVOKE_INGRESS = Removal(
    "Revoke ingress", "RevokeIngress",
    rollback="Compensation: revoke the ingress rule this execution added (tagged with its connection id).",
    disconnect="Revoke the ingress rules tagged with the connection id (the connect's compensation).")
DELETE_ROUTES = Removal(
    "Delete routes", "DeleteRoutes",
    rollback="Compensation: delete the routes to the peering that did not exist before this execution, both sides.",
    disconnect="Delete the routes to the connection's peering, both sides (the connect's compensation).")
DELETE_PEERING = Removal(
    "Delete peering", "DeletePeering",
    rollback="Compensation: delete the peering this execution created, once AWS allows it (active or "
    "pending-acceptance); a reused one is kept.",
    disconnect="Delete the peering tagged with the connection id; an untagged (reused) peering is kept.",
    rerun=Rerun("Peering deletable yet?", "Wait before deleting the peering",
                "AWS deletes a peering only once it is pending-acceptance or active: wait for an initiating-request "
                "or provisioning one, at most MaxPolls times (the step counts)."))
PEERING_REMOVALS = (
    REVOKE_INGRESS,
    DELETE_ROUTES,
    Removal("Restore DNS option", "RestoreDnsResolution",
            rollback="Compensation: turn the DNS option back off on a reused peering.",
            disconnect="On a peering that stays (another connection uses it, or it was there before): turn the DNS "
            "resolution option back off if this connection turned it on and was its last user."),
    DELETE_PEERING,
)
REMOVE_RESOURCE_ENDPOINT = RESOURCE_ENDPOINT_REMOVALS[0]


@dataclass(frozen=True)
class Stop:
    """After a removal, the disconnect stops when it left something behind (complete: false)."""

    choice: str
    comment: str
    target: str


@dataclass(frozen=True)
class Removing:
    """How a workflow runs the chain."""

    rollback: bool  # the connect's rollback ("Undo: ..." names, its comments), or the disconnect
    which_path: str  # the Choice between the paths' removals
    mode: str  # where it reads the path
    error_path: str  # where a removal's failure goes in the data
    on_error: str  # and the state it goes to
    done: str  # after the last removal of either path
    stops: dict[str, Stop] = field(default_factory=dict)  # by the removal's name

    def name(self, step: Removal) -> str:
        return f"Undo: {step.name[0].lower()}{step.name[1:]}" if self.rollback else step.name

    def chain(self) -> States:
        first = {chain: self.name(chain[0]) for chain in (RESOURCE_ENDPOINT_REMOVALS, PEERING_REMOVALS)}
        states = {self.which_path: choice([when(self.mode, "StringEquals", "resource-endpoint",
                                                first[RESOURCE_ENDPOINT_REMOVALS])], first[PEERING_REMOVALS])}
        for steps in (RESOURCE_ENDPOINT_REMOVALS, PEERING_REMOVALS):
            for step, following in zip(steps, [*steps[1:], None], strict=True):
                after = self.done if following is None else self.name(following)
                stop = self.stops.get(step.name)
                after_rerun = after if stop is None else stop.choice
                comment = step.rollback if self.rollback else step.disconnect
                states[self.name(step)] = removal(comment, step.function, self.error_path, self.on_error,
                                                  after_rerun if step.rerun is None else step.rerun.choice)
                if step.rerun is not None:
                    states |= again(step.rerun.choice, step.rerun.wait, "$.rollback.waiting", self.name(step),
                                    after_rerun, step.rerun.comment)
                if stop is not None:
                    states[stop.choice] = choice([when("$.rollback.complete", "BooleanEquals", False, stop.target)],
                                                 after, stop.comment)
        return states


# --- the workflows -------------------------------------------------------------------------------------------------

PEERING_POLL = "Fails with PeeringFailed or, after MaxPolls polls, PeeringTimeout."
STAGE_TIMES_OUT = "Bounded: the stage fails ResourcePathTimeout after MaxPolls runs."


def connect() -> dict[str, Any]:
    rollback = Removing(rollback=True, which_path="Undo: which path?", mode="$.plan.mode",
                        error_path="$.rollbackError", on_error="Rollback could not run", done="Record the failure")
    undo = rollback.name
    unchanged = "Record the failure before any change"
    peering_status = "$.peering.status"
    states: States = {
        "Load settings": load_settings("connect", "Discover"),
        "Discover": stage(
            "Validate the input; read the database, its VPC, route tables and security group, and the Nekt VPC. "
            "Ordered catchers: InvalidInput fails with no result event (the input names no valid connection); "
            "anything else, whatever Lambda names it, publishes the failure. States.ALL does not catch "
            "States.DataLimitExceeded: it is caught by name, here and in every catcher.",
            "Discover", "$.discovery", unchanged, "Take the locks", stage_input("input", "settings"),
            named=[("InvalidInput", "Failed before any change")]),
        **locks("The connection's lock (a connect and a disconnect of one connection never run at once: "
                "ConnectionBusy) and its network's (runs that change one VPC pair take turns), with the connection's "
                "registry item CONNECTING, in one transaction. A dry run takes none.",
                "Another run is changing the network: wait, then read the facts again under the locks (what the "
                "other run changed is in them).",
                find_again="Discover", then="Preflight", busy="Failed before any change", on_error=unchanged),
        "Preflight": stage("Refuse overlapping CIDRs and conflicting routes; decide what to create and what to reuse. "
                           "Changes nothing.", "Preflight", "$.plan", unchanged, "Dry run?",
                           stage_input("discovery")),
        "Dry run?": choice([when("$.plan.dryRun", "BooleanEquals", True, "Publish: planned")], "Which path?"),
        "Publish: planned": publish("Result event: the dry run's plan (nothing was changed).", "Connection Planned",
                                    "$.plan", "Return the plan"),
        "Return the plan": {"Type": "Succeed", "OutputPath": "$.plan"},
        "Which path?": choice([when("$.plan.mode", "StringEquals", "public", "Allow Nekt public IP"),
                               when("$.plan.mode", "StringEquals", "resource-endpoint", "Share the database")],
                              "Request peering"),
        # The public path.
        "Allow Nekt public IP": stage(
            "Publicly accessible database: allow Nekt's public IP (/32) on its security group, on its port.",
            "AuthorizeIngress", "$.ingress", undo(REVOKE_INGRESS), "Verify", stage_input("discovery", "plan")),
        # The peering path.
        "Request peering": stage(
            "Request a peering from the database VPC to the Nekt VPC, or take the live one between them.",
            "RequestPeering", "$.peering", undo(DELETE_PEERING), "Ready to accept?",
            stage_input("discovery", "plan")),
        "Ready to accept?": choice([when(peering_status, "StringEquals", "active", "Update routes"),
                                    when(peering_status, "StringEquals", "pending-acceptance", "Accept peering")],
                                   "Wait for pending-acceptance"),
        "Wait for pending-acceptance": wait("Check request status"),
        "Check request status": stage(PEERING_POLL, "PeeringStatus", "$.peering", undo(DELETE_PEERING),
                                      "Ready to accept?",
                                      stage_input("discovery", "peering", awaiting="pending-acceptance")),
        "Accept peering": stage(
            "In the Nekt account, through the accepter role: accept only the request from the discovered database VPC.",
            "AcceptPeering", "$.peering", undo(DELETE_PEERING), "Active?", stage_input("discovery", "peering")),
        "Active?": choice([when(peering_status, "StringEquals", "active", "Update routes"),
                           when(peering_status, "StringEquals", "pending-acceptance", "Wait for pending-acceptance")],
                          "Wait for active",
                          "pending-acceptance: the Nekt account did not see the request yet (EC2 is eventually "
                          "consistent); poll it again and come back to accept."),
        "Wait for active": wait("Check active status"),
        "Check active status": stage(PEERING_POLL, "PeeringStatus", "$.peering", undo(DELETE_PEERING), "Active?",
                                     stage_input("discovery", "peering", awaiting="active")),
        "Update routes": stage(
            "Nekt private route table -> every database VPC CIDR; every database route table -> the Nekt CIDR.",
            "UpdateRoutes", "$.routes", undo(DELETE_ROUTES), "Authorize ingress",
            stage_input("discovery", "plan", "peering")),
        "Authorize ingress": stage(
            "The database security group: TCP on the database port from the Nekt CIDR, description Nekt.",
            "AuthorizeIngress", "$.ingress", undo(REVOKE_INGRESS), "Enable DNS resolution",
            stage_input("discovery", "plan")),
        "Enable DNS resolution": stage(
            "A publicly accessible database reached through the peering: its endpoint resolves to its private "
            "address from the Nekt VPC. A private database's already does: the stage changes nothing and says why.",
            "EnableDnsResolution", "$.dnsResolution", undo(REVOKE_INGRESS), "Verify",
            stage_input("discovery", "peering")),
        # The resource-endpoint path.
        "Share the database": stage(
            "Resource-endpoint path, the database's account: the resource gateway in its VPC (the product's, reused "
            "by its other databases), its group admitted on the database's group, the resource configuration, the RAM "
            "share to Nekt. Run again while the gateway is not ACTIVE.",
            "ShareDatabase", "$.sharedDatabase", undo(REMOVE_RESOURCE_ENDPOINT), "Gateway active?"),
        **again("Gateway active?", "Wait for the gateway", "$.sharedDatabase.waiting", "Share the database",
                "Create the resource endpoint", STAGE_TIMES_OUT),
        "Create the resource endpoint": stage(
            "Resource-endpoint path, the Nekt account (the accepter role): accept the share, the endpoint's security "
            "group, the resource VPC endpoint in Nekt's private subnets. Run again while the share is not visible or "
            "the endpoint is Pending.",
            "CreateResourceEndpoint", "$.resourceEndpoint", undo(REMOVE_RESOURCE_ENDPOINT), "Endpoint available?"),
        **again("Endpoint available?", "Wait for the endpoint", "$.resourceEndpoint.waiting",
                "Create the resource endpoint", "Verify", STAGE_TIMES_OUT),
        # Every path.
        "Verify": stage("Re-read the live state: peering active, routes active, ingress rule present, DNS option on.",
                        "Verify", "$.result", rollback.which_path, "Record the connection"),
        "Record the connection": stage(
            "Registry: what the connection relies on (each resource counted, with whether this product created it), "
            "the connection CONNECTED, its locks released, in one transaction. A failure here is rolled back like "
            "any other.", "RecordConnection", "$.recorded", rollback.which_path, "Health restored?"),
        "Health restored?": choice([when("$.recorded.healthEvent", "IsNull", False, "Publish: restored")],
                                   "Publish: connected", "A connect (a repair) made a DEGRADED connection HEALTHY."),
        "Publish: restored": publish("Result event: the connection's health is restored; the detail is its health.",
                                     "Connection Restored", "$.recorded.healthEvent.detail", "Publish: connected"),
        "Publish: connected": publish("Result event: the connection is verified; the detail is the execution's output.",
                                      "Connection Connected", "$.result", "Connected"),
        "Connected": {"Type": "Succeed", "OutputPath": "$.result"},
        # The rollback.
        **rollback.chain(),
        "Rollback could not run": {
            "Type": "Pass",
            "Comment": "A compensation kept failing after its retries. The rollback's shape for Record the failure: "
            "what is left is named by its tag (which steps had undone what is not known here).",
            "Parameters": {
                "undone": [],
                "left.$": "States.Array(States.Format('whatever is still tagged nekt:connection-id={} in both "
                "accounts', $.discovery.request.connectionId))",
                "complete": False,
                "cause.$": "States.Format('Rollback stopped: {} ({}) after the failure {}. Resources tagged "
                "nekt:connection-id={} may be left in both accounts: remove them by hand, or start the connection "
                "again to complete it.', $.rollbackError.Error, $.rollbackError.Cause, $.error.Error, "
                "$.discovery.request.connectionId)",
            },
            "ResultPath": "$.rollback",
            "Next": "Record the failure",
        },
        "Record the failure": record_failure(
            "Registry: the outcome (FAILED, or still CONNECTED when a re-run of a connected connection rolled back "
            "what it added) and the locks released. Catches everything: the failure path goes on.",
            "$.recorded", "Rolled back completely?"),
        "Rolled back completely?": choice([when("$.rollback.complete", "BooleanEquals", True, "Publish: rolled back")],
                                          "Publish: rollback failed"),
        "Publish: rolled back": publish(
            "Result event: the original error; what it had changed is undone.", "Connection Failed",
            {"status": "ROLLED_BACK", "connectionId.$": "$.discovery.request.connectionId",
             "executionArn.$": "$$.Execution.Id", "error.$": "$.error.Error", "cause.$": "$.rollback.cause",
             "registry.$": "$.recorded"},
            "Failed and rolled back"),
        "Failed and rolled back": fail("The original error, its cause and what was undone.",
                                       error_path="$.error.Error", cause_path="$.rollback.cause"),
        "Publish: rollback failed": publish(
            "Result event: RollbackFailed, with what was left behind.", "Connection Failed",
            {"status": "FAILED", "connectionId.$": "$.discovery.request.connectionId",
             "executionArn.$": "$$.Execution.Id", "error": "RollbackFailed", "cause.$": "$.rollback.cause",
             "originalError.$": "$.error.Error", "registry.$": "$.recorded"},
            "Rollback failed"),
        "Rollback failed": fail(error="RollbackFailed", cause_path="$.rollback.cause"),
        # A failure before any change.
        "Record the failure before any change": record_failure(
            "Registry: the outcome, the locks released if taken. Catches everything: the failure path goes on.",
            "$.recorded", "Publish: failed before any change"),
        "Publish: failed before any change": publish(
            "Result event: Discover or Preflight refused; nothing was changed.", "Connection Failed",
            {"status": "FAILED", "input.$": "$.input", "executionArn.$": "$$.Execution.Id",
             "error.$": "$.error.Error", "cause.$": "$.error.Cause", "registry.$": "$.recorded"},
            "Failed before any change"),
        "Failed before any change": fail("Discover or Preflight failed: nothing to undo. The error and cause are the "
                                         "stage's own.", error_path="$.error.Error"),
    }
    return {
        "Comment": "Connect a customer's RDS/Aurora database to the Nekt VPC: discover, plan, then peer, accept, "
        "route, allow, or share the database as a VPC resource and reach it from a resource endpoint; verify.",
        "QueryLanguage": "JSONPath",
        "StartAt": "Load settings",
        "States": states,
    }


def disconnect() -> dict[str, Any]:
    removing = Removing(
        rollback=False, which_path="Which path?", mode="$.discovery.mode", error_path="$.error",
        on_error="Record the failure", done="Removed completely?",
        stops={DELETE_ROUTES.name: Stop(
            "Routes removed?",
            "A route left behind keeps the peering: a disconnect run again finds the route through it.",
            "Record the incomplete disconnect")})
    failed = "Record the failure"
    states: States = {
        "Load settings": load_settings("disconnect", "Find what to remove"),
        "Find what to remove": stage(
            "Validate the input; from the registry (and the connection's tags, for a connection made before it): "
            "what the connection relies on, minus what another connection still uses, minus what was there before "
            "any connection. Changes nothing. Ordered catchers: InvalidInput fails with no result event (as in the "
            "connect workflow); anything else publishes the failure, States.DataLimitExceeded (which States.ALL does "
            "not catch) by name.",
            "FindConnection", "$", failed, "Take the locks", stage_input("input", "settings", "release"),
            named=[("InvalidInput", "Disconnect failed")]),
        **locks("The connection's lock (ConnectionBusy while a connect of it runs) and its network's (runs that "
                "change one VPC pair take turns), with the connection's registry item DISCONNECTING, in one "
                "transaction.",
                "Another run is changing the network: wait, then find again under the locks what to remove.",
                find_again="Find what to remove", then=removing.which_path, busy="Disconnect failed",
                on_error=failed),
        **removing.chain(),
        "Removed completely?": choice([when("$.rollback.complete", "BooleanEquals", False,
                                            "Record the incomplete disconnect")], "Peering to wait for?"),
        "Peering to wait for?": choice([when("$.peering", "IsNull", True, "Summarize")], "Wait for deleted"),
        "Wait for deleted": wait("Check peering deleted"),
        "Check peering deleted": stage("Fails with PeeringTimeout after MaxPolls polls.", "PeeringStatus",
                                       "$.peering", failed, "Deleted?",
                                       stage_input("discovery", "peering", awaiting="deleted")),
        "Deleted?": choice([{"Or": [{"Variable": "$.peering.status", "StringEquals": status}
                                    for status in ("deleted", "rejected", "failed", "expired")],
                             "Next": "Summarize"}], "Wait for deleted"),
        "Summarize": {
            "Type": "Pass",
            "Comment": "The output, and the detail of the result event.",
            "Parameters": {"status": "DISCONNECTED", "connectionId.$": "$.discovery.request.connectionId",
                           "region.$": "$.discovery.request.region", "peering.$": "$.peering",
                           "removed.$": "$.rollback.undone"},
            "ResultPath": "$.result",
            "Next": "Record the disconnect",
        },
        "Record the disconnect": stage(
            "Registry: the resources this connection was the last user of are forgotten, it no longer counts on the "
            "others, the connection DISCONNECTED, its locks released; then whether what the other connections of the "
            "network rely on is all still in place.",
            "RecordDisconnect", "$.recorded", failed, "Publish: disconnected"),
        "Publish: disconnected": publish(
            "Result event: everything the connection owned is removed; the detail is the execution's output.",
            "Connection Disconnected", "$.result", "Others intact?"),
        "Others intact?": choice([when("$.recorded.othersIntact", "BooleanEquals", False, "Others need repair")],
                                 "Disconnected"),
        "Others need repair": fail("This connection is gone; something outside the workflow removed what another "
                                   "connection relies on: the cause names it.", error="SharedResourceMissing",
                                   cause_path="$.recorded.cause"),
        "Disconnected": {"Type": "Succeed", "OutputPath": "$.result"},
        # Something left behind.
        "Record the incomplete disconnect": record_failure(
            "Registry: FAILED with what was left behind; the locks released. Catches everything: the failure path "
            "goes on.", "$.recordError", "Publish: disconnect incomplete"),
        "Publish: disconnect incomplete": publish(
            "Result event: what could not be removed, by id.", "Connection Disconnect Failed",
            {"status": "FAILED", "connectionId.$": "$.discovery.request.connectionId",
             "executionArn.$": "$$.Execution.Id", "error": "DisconnectFailed", "cause.$": "$.rollback.cause"},
            "Disconnect incomplete"),
        "Disconnect incomplete": fail(error="DisconnectFailed", cause_path="$.rollback.cause"),
        # A step failed.
        "Record the failure": record_failure(
            "Registry: FAILED with the error; the locks released if taken. Catches everything: the failure path goes "
            "on.", "$.recordError", "Publish: disconnect failed"),
        "Publish: disconnect failed": publish(
            "Result event: a step failed after its retries; the error and cause are its own.",
            "Connection Disconnect Failed",
            {"status": "FAILED", "input.$": "$.input", "executionArn.$": "$$.Execution.Id",
             "error.$": "$.error.Error", "cause.$": "$.error.Cause"},
            "Disconnect failed"),
        "Disconnect failed": fail(error_path="$.error.Error"),
    }
    return {
        "Comment": "Disconnect a connection: remove, both sides, only what this product created for it (found by its "
        "tags), then wait until its peering is deleted.",
        "QueryLanguage": "JSONPath",
        "StartAt": "Load settings",
        "States": states,
    }


def check_path() -> dict[str, Any]:
    """One read-only stage, which records the connection's health; the health event when it changed; then the
    check's error, or its facts. The stage's own failures have no Catch: its error is the execution's."""
    check: State = {
        "Type": "Task",
        "Comment": "Read only, but for the connection's health in the registry. Answers the probe's facts, or the "
        "named error the check failed with (NetworkAclDenies, Unreachable, VerificationFailed for a missing route, "
        "rule or option, or a Discover error), and the health event when the connection's health changed.",
        "Resource": function("CheckPath"),
        "ResultPath": "$.check",
        "Retry": STAGE_RETRY,
        "Next": "Health changed?",
    }
    health_event = {"EventBusName": "default", "Source": "nekt.peering",
                    "DetailType.$": "$.check.healthEvent.detailType", "Detail.$": "$.check.healthEvent.detail"}
    published: State = {"Type": "Task", "Comment": "Result event: Connection Degraded (what drifted) or Connection "
                        "Restored.", "Resource": "arn:aws:states:::events:putEvents",
                        "Parameters": {"Entries": [health_event]}, "ResultPath": None, "Retry": PUBLISH_RETRY,
                        "Catch": catch("$.publishError", "Path intact?"), "Next": "Path intact?"}
    return {
        "Comment": "Re-check a connected connection without changing anything: read both sides as Discover does, "
        "require a plan with no change, evaluate the network ACLs, and have the probe in the Nekt VPC reach the "
        "database; its health recorded in the registry, and published when it changed.",
        "QueryLanguage": "JSONPath",
        "StartAt": "Load settings",
        "States": {
            "Load settings": load_settings(None, "Check path"),
            "Check path": check,
            "Health changed?": choice([when("$.check.healthEvent", "IsNull", False, "Publish: health")],
                                      "Path intact?"),
            "Publish: health": published,
            "Path intact?": choice([when("$.check.error", "IsNull", False, "Path broken")], "Path checked"),
            "Path broken": fail("The check's named error and its cause.", error_path="$.check.error.Error",
                                cause_path="$.check.error.Cause"),
            "Path checked": {"Type": "Succeed", "OutputPath": "$.check.result"},
        },
    }


# The sweep: connections checked at once (each check makes some twenty Describe calls in the database's account
# and the Nekt account, whose EC2 API request rate is shared), and pages of registry items per execution (each
# connection adds about ten events to the execution's history, whose quota is 25,000: docs/health.md).
SWEEP_CONCURRENCY = 10
SWEEP_PAGES_PER_EXECUTION = 10
# The execution a sweep goes on in, named by the one that starts it and its page; and what Step Functions answers a
# start of that name once it has ended.
CONTINUATION_NAME = "States.Format('{}-{}', States.Hash($$.Execution.Id, 'MD5'), $.page.number)"
ALREADY_STARTED = "StepFunctions.ExecutionAlreadyExistsException"


def sweep() -> dict[str, Any]:
    """The registry a page at a time (ListConnected), each page's connections checked by the check-path stage in an
    inline Map; after SWEEP_PAGES_PER_EXECUTION pages the sweep goes on in a new execution of itself, so that one
    execution's history stays bounded whatever the number of connections; the last counts them by health."""
    load = load_settings(None, "List connected")
    load["Parameters"]["page"] = {"nextToken": None, "number": 0}
    check: State = {
        "Type": "Task",
        "Comment": "The check-path machine's stage: read only, but for the connection's health in the registry. A "
        "drift is its answer (`error`, with what drifted); an error it raises (another run holds the connection, "
        "access denied) leaves the connection unchecked, and the sweep goes on.",
        "Resource": function("CheckPath"),
        "ResultSelector": {"healthEvent.$": "$.healthEvent"},
        "ResultPath": "$.check",
        "Retry": STAGE_RETRY,
        "Catch": catch("$.error", "Not checked"),
        "Next": "Health changed?",
    }
    health_event = {"EventBusName": "default", "Source": "nekt.peering",
                    "DetailType.$": "$.check.healthEvent.detailType", "Detail.$": "$.check.healthEvent.detail"}
    done = {"Type": "Pass", "Comment": "A small result: the page's results are not kept (the Map's ResultPath is "
            "null), but the Map holds them until it ends.", "Parameters": {"connectionId.$": "$.input.connectionId"},
            "End": True}
    iteration: States = {
        "Check path": check,
        "Health changed?": choice([when("$.check.healthEvent", "IsNull", False, "Publish: health")], "Checked"),
        "Publish: health": {"Type": "Task", "Comment": "Result event: Connection Degraded (what drifted) or Connection "
                            "Restored.", "Resource": "arn:aws:states:::events:putEvents",
                            "Parameters": {"Entries": [health_event]}, "ResultPath": None, "Retry": PUBLISH_RETRY,
                            "Catch": catch("$.publishError", "Checked"), "Next": "Checked"},
        "Checked": done,
        "Not checked": {**done, "Comment": "The check could not run (its error is in the execution's history): the "
                        "connection's health stays as it was."},
    }
    return {
        "Comment": "The health sweep: check every connected connection of the registry without changing anything, as "
        "the check-path machine does; record each one's health, publish each change, and count them by health.",
        "QueryLanguage": "JSONPath",
        "StartAt": "Load settings",
        "States": {
            "Load settings": load,
            "List connected": stage(
                "The next page of the registry's connected connections, each as the check takes it. Its first page is "
                "the input's pageToken (a continued sweep), else the registry's first.",
                "ListConnected", "$.page", "Sweep failed", "Check the page",
                stage_input("input", "settings", "page")),
            "Check the page": {
                "Type": "Map",
                "Comment": "Each connection of the page, a bounded number at once.",
                "ItemsPath": "$.page.connections",
                "MaxConcurrency": SWEEP_CONCURRENCY,
                "ItemSelector": {"input.$": "$$.Map.Item.Value", "settings.$": "$.settings",
                                 "executionId.$": "$.executionId"},
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Check path", "States": iteration},
                "ResultPath": None,
                "Next": "More pages?",
            },
            "More pages?": choice([when("$.page.nextToken", "IsNull", True, "Count by health"),
                                   when("$.page.number", "NumericGreaterThanEquals", SWEEP_PAGES_PER_EXECUTION,
                                        "Continue in a new execution")], "List connected"),
            "Continue in a new execution": {
                "Type": "Task",
                "Comment": "This execution's history is bounded: the next pages are a new execution of this machine, "
                "which starts from the page token.",
                "Resource": "arn:aws:states:::states:startExecution",
                # Named by this execution and page: a retry after a lost answer is the same StartExecution, which
                # AWS answers with the execution it started while that one runs, and with ExecutionAlreadyExists
                # once it has ended. No other execution has that name: the error means the sweep went on.
                "Parameters": {"StateMachineArn.$": "$$.StateMachine.Id", "Name.$": CONTINUATION_NAME,
                               "Input": {"pageToken.$": "$.page.nextToken",
                                         "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}},
                "ResultSelector": {"executionArn.$": "$.ExecutionArn"},
                "ResultPath": "$.continued",
                "Retry": [{"ErrorEquals": [ALREADY_STARTED], "MaxAttempts": 0}, *PUBLISH_RETRY],
                "Catch": catch("$.error", "Sweep failed", [(ALREADY_STARTED, "Continued earlier")]),
                "Next": "Continued",
            },
            "Continued": {"Type": "Succeed", "OutputPath": "$.continued"},
            "Continued earlier": {
                "Type": "Pass",
                "Comment": "A retried start found the new execution that its lost attempt started, already ended.",
                "Parameters": {"executionName.$": CONTINUATION_NAME},
                "End": True,
            },
            "Count by health": stage(
                "The connected connections by health, into CloudWatch (the template's alarm watches DEGRADED).",
                "RecordSweep", "$.counts", "Sweep failed", "Swept", stage_input("settings")),
            "Swept": {"Type": "Succeed", "OutputPath": "$.counts"},
            "Sweep failed": fail("Reading the registry, continuing, or counting failed after its retries.",
                                 error_path="$.error.Error"),
        },
    }


def definitions() -> dict[str, dict[str, Any]]:
    """Each state machine's definition, by its file's name under statemachine/ (template.yaml's DefinitionUri)."""
    return {"connect.asl.json": connect(), "disconnect.asl.json": disconnect(), "check_path.asl.json": check_path(),
            "sweep.asl.json": sweep()}


def generated() -> dict[Path, str]:
    return {OUTPUT / name: json.dumps(definition, indent=2) + "\n" for name, definition in definitions().items()}


def main() -> int:
    for path, text in generated().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
