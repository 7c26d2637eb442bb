"""Connections as the REST API and the `nekt-peering` CLI both read and start them, so that they drive
the workflows the same way.

A connection is its item in the registry (nekt_peering.registry.store), which the workflows write when a run
takes the connection's lock and when it ends: the listing pages through those items, a connection's
status is its item plus, for the run it names, the live stage from Step Functions, and whether a
connection is busy is its item's state and its current execution's live status. A connection with no
item (made before the registry, or only dry-run, or started a moment ago) is found the old way, by its
executions: names `<connectionId>_<16 hex>` (unique: Step Functions refuses a name reused within 90
days, and a connection can be connected again), or an execution started from the console under another
name, attributed by its input. Everything a caller sends is checked before any AWS call that changes
something: a malformed request is refused naming each field, never a started execution."""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

import fastjsonschema
from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code
from nekt_peering.core.errors import InvalidInput, cause_message
from nekt_peering.core.model import CONNECT_INPUT_SCHEMA, ConnectRequest, connection_of, database_kind_errors
from nekt_peering.registry import store

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import ExecutionListItemTypeDef

    from nekt_peering.core.shapes import ConnectionItem, ConnectionState, Workflow

# How far back the lookup of a connection without an item looks, per state machine (newest first).
SCAN_LIMIT = 1000
# The registry's states of a run under way: the connection is busy while its current execution runs.
IN_PROGRESS = frozenset({"CONNECTING", "DISCONNECTING"})
# The error a connection shows when its run ended so, without recording its end in the registry.
ENDED_UNRECORDED = {"ABORTED": "ExecutionAborted", "TIMED_OUT": "ExecutionTimedOut"}
CONNECTION_ID_SCHEMA: dict[str, Any] = CONNECT_INPUT_SCHEMA["properties"]["connectionId"]
_EXECUTION_NAME = re.compile(r"^(?P<connection>[A-Za-z0-9][A-Za-z0-9_-]*)_[0-9a-f]{16}$")
# Final states of the connect workflow that mean: failed, and what it had changed is undone.
ROLLED_BACK_STATES = frozenset({"Failed and rolled back"})


class Refused(Exception):
    """A request that is not carried out, with the HTTP status the API answers it with: 400 malformed
    (`errors` names each field), 404 no such connection, 409 the connection is busy."""

    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.errors, self.extra = status, message, errors or [], extra


# Requests -------------------------------------------------------------------------------------


def field_errors(schema: dict[str, Any], value: Any, path: str = "") -> list[dict[str, str]]:
    """Every field that breaks the schema, each with its own message (a validator stops at the first).

    Objects are walked here (required, unknown and each known field); every other schema is checked
    by fastjsonschema compiled from that part of the same schema."""
    where = path or "body"
    if schema.get("type") == "object" and "properties" in schema:
        if not isinstance(value, dict):
            return [{"field": where, "message": f"{where} must be a JSON object, not {_json_type(value)}"}]
        properties: dict[str, Any] = schema["properties"]
        errors = [{"field": _join(path, name), "message": f"{_join(path, name)} is required"}
                  for name in schema.get("required", []) if name not in value]
        if schema.get("additionalProperties") is False:
            errors += [{"field": _join(path, _shown(name)), "message":
                        f"{_join(path, _shown(name))} is not a known field (known: {', '.join(properties)})"}
                       for name in value if name not in properties]
        for name, part in properties.items():
            if name in value:
                errors += field_errors(part, value[name], _join(path, name))
        for condition in schema.get("allOf", []):  # `if` this, `then` these fields are required too
            if "if" in condition and not errors and _matches(condition["if"], value):
                errors += [{"field": _join(path, name), "message": f"{_join(path, name)} is required"}
                           for name in condition["then"].get("required", []) if name not in value]
        return errors
    try:
        _validator(json.dumps(schema, sort_keys=True))(value)
    except fastjsonschema.JsonSchemaValueException as error:
        return [{"field": where, "message": where + " " + error.message.removeprefix("data").lstrip(" .")}]
    return []


def _matches(schema: dict[str, Any], value: Any) -> bool:
    try:
        _validator(json.dumps(schema, sort_keys=True))(value)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


@functools.lru_cache(maxsize=64)
def _validator(schema: str) -> Any:
    return fastjsonschema.compile(json.loads(schema))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _shown(name: str) -> str:
    return name if len(name) <= 40 else name[:40] + "..."


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}.get(
        type(value), type(value).__name__)


# Executions and the registry ---------------------------------------------------------------------


@dataclass
class Machines:
    """The deployed stack as the API and the CLI use it: its state machines and its registry table."""

    sfn: SFNClient
    connect: str
    disconnect: str
    check_path: str
    dynamodb: DynamoDBClient
    table: str
    described: dict[str, dict[str, Any]] = field(default_factory=dict)

    def item(self, connection_id: str) -> ConnectionItem | None:
        """The connection's registry item, read strongly consistent."""
        return store.get_connection(self.dynamodb, self.table, connection_id)

    def executions(self, machine: str, status: str | None = None) -> list[dict[str, Any]]:
        """Newest first, at most SCAN_LIMIT, each tagged with its workflow and connection id."""
        workflow = "connect" if machine == self.connect else "disconnect"
        arguments: dict[str, Any] = {"stateMachineArn": machine}
        if status:
            arguments["statusFilter"] = status
        found: list[dict[str, Any]] = []
        for page in self.sfn.get_paginator("list_executions").paginate(**arguments):
            for execution in page["executions"]:
                connection = self._connection_of(execution)
                if connection is not None:
                    found.append({**execution, "workflow": workflow, "connectionId": connection})
            if len(found) >= SCAN_LIMIT:
                break
        return found[:SCAN_LIMIT]

    def _connection_of(self, execution: ExecutionListItemTypeDef) -> str | None:
        named = _EXECUTION_NAME.match(execution["name"])
        if named:
            return named.group("connection")
        # Started from the console under a name of its own: its input says which connection.
        return connection_of(self.input_of(execution["executionArn"]))

    def input_of(self, execution_arn: str) -> dict[str, Any]:
        try:
            raw = json.loads(self.describe(execution_arn).get("input") or "{}")
        except ValueError:
            return {}
        return raw if isinstance(raw, dict) else {}

    def describe(self, execution_arn: str) -> dict[str, Any]:
        """One DescribeExecution per execution and request (see describe_now)."""
        if execution_arn not in self.described:
            described = self.describe_now(execution_arn)
            if "startDate" not in described:
                return described  # not known yet: ask again next time
            self.described[execution_arn] = described
        return self.described[execution_arn]

    def describe_now(self, execution_arn: str) -> dict[str, Any]:
        """DescribeExecution of an execution that exists: one the registry names (it wrote the item) or that
        this API has just started. DescribeExecution is eventually consistent: one that it does not know
        yet has just started, so it is RUNNING."""
        try:
            return dict(self.sfn.describe_execution(executionArn=execution_arn))
        except ClientError as error:
            if error_code(error) != "ExecutionDoesNotExist":
                raise
            return {"executionArn": execution_arn, "status": "RUNNING"}

    def of_connection(self, connection_id: str) -> list[dict[str, Any]]:
        both = [execution for machine in (self.connect, self.disconnect) for execution in self.executions(machine)
                if execution["connectionId"] == connection_id]
        return sorted(both, key=lambda execution: execution["startDate"], reverse=True)

    def start(self, machine: str, connection_id: str, execution_input: dict[str, Any]) -> str:
        return str(self.sfn.start_execution(
            stateMachineArn=machine, name=f"{connection_id}_{uuid.uuid4().hex[:16]}",
            input=json.dumps(execution_input),
        )["executionArn"])

    def stage(self, execution_arn: str) -> str | None:
        """The state the execution is in (or ended in); None before its first (or not known yet)."""
        try:
            events = self.sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True,
                                                    maxResults=100)["events"]
        except ClientError as error:
            if error_code(error) != "ExecutionDoesNotExist":
                raise
            return None
        entered = [event for event in events if "stateEnteredEventDetails" in event]
        # The newest by id, whatever order an implementation returns the page in.
        return str(max(entered, key=lambda event: event["id"])["stateEnteredEventDetails"]["name"]) if entered else None

    def running(self, item: ConnectionItem) -> dict[str, Any] | None:
        """The run under way on the connection (current_run), None when the connection is not busy: the run
        is CONNECTING or DISCONNECTING and DescribeExecution (strongly consistent) says it still runs."""
        run = current_run(item)
        if run["status"] not in IN_PROGRESS:
            return None
        return run if self.describe(run["executionArn"])["status"] == "RUNNING" else None


# Connections ----------------------------------------------------------------------------------


def console_link(execution_arn: str) -> str:
    region = execution_arn.split(":")[3]
    return (f"https://{region}.console.aws.amazon.com/states/home?region={region}"
            f"#/v2/executions/details/{execution_arn}")


def current_run(item: ConnectionItem) -> dict[str, Any]:
    """The connection's newest run: the one the API or the CLI started (`accepted`) until it takes the
    connection's lock, else the item's current run. workflow, executionArn, status (the connection's while it
    runs), startedAt; error and cause when an accepted run failed before taking the lock."""
    accepted = item.get("accepted")
    if accepted:
        return {key: value for key, value in accepted.items() if key != "acceptedAt"} | {
            "startedAt": accepted["acceptedAt"]}
    current = item["currentExecutionArn"]
    return {"workflow": item["currentWorkflow"], "executionArn": current, "status": item["state"],
            "startedAt": next((run["startedAt"] for run in item["executions"] if run["executionArn"] == current),
                              None)}


def listed(item: ConnectionItem) -> dict[str, Any]:
    """A connection as its registry item says, with nothing asked of Step Functions (a listing's entry)."""
    run = current_run(item)
    view: dict[str, Any] = {
        "connectionId": item["connectionId"],
        "status": run["status"],
        "source": "registry",
        "workflow": run["workflow"],
        "executionArn": run["executionArn"],
        "startedAt": run["startedAt"],
        "createdAt": item["createdAt"],
        "updatedAt": item["updatedAt"],
        **({"request": item["request"]} if "request" in item else {}),
        **{key: value for key, value in cast("dict[str, Any]", item).items() if key in ("mode", "database", "network")},
        "relies": item["relies"],
        "executions": item["executions"],
    }
    if "result" in item:
        view["output"] = item["result"]
    if "health" in item:
        view["health"] = item["health"]
    failed = run if "accepted" in item else item.get("lastError")  # the newest run's error, not an older one's
    if failed and "error" in failed:
        view["error"] = failed["error"]
        view["cause"] = cause_message(failed["cause"])
    return view


def _registered(machines: Machines, item: ConnectionItem) -> dict[str, Any]:
    """The item, with its newest run's execution as Step Functions sees it now: status, stage, stop time."""
    run = current_run(item)
    arn = run["executionArn"]
    described = machines.describe(arn)
    if run["status"] in IN_PROGRESS and described["status"] != "RUNNING":
        # It may have recorded its end (or taken the lock) between the two reads: read the item again.
        item = machines.item(item["connectionId"]) or item
        if current_run(item)["executionArn"] != arn:  # the run, or a newer one, took the lock meanwhile
            return _registered(machines, item)
    stage = machines.stage(arn)
    view = listed(item) | {"executionStatus": described["status"], "stage": stage,
                           "stoppedAt": _iso(described.get("stopDate"))}
    if "accepted" in item and run["status"] in IN_PROGRESS and described["status"] != "RUNNING":
        # Started here, it ended before taking the connection's lock without recording it: nothing was changed.
        cause = described.get("cause")
        view |= {"status": item["state"], "error": described.get("error") or ENDED_UNRECORDED.get(
                     described["status"], "ExecutionEnded"),
                 "cause": cause_message(cause) if cause else
                 f"the {run['workflow']} execution ended {described['status']} in {stage!r} before taking the "
                 f"connection's lock: nothing was changed; run the {run['workflow']} again"}
    elif run["status"] in IN_PROGRESS and described["status"] != "RUNNING":
        # The run ended without recording its end (stopped from the console, timed out, or its last
        # write refused): the item's CONNECTING/DISCONNECTING is not true any more.
        workflow = item["currentWorkflow"]
        cause = described.get("cause")
        view |= {"status": "FAILED", "error": described.get("error") or ENDED_UNRECORDED.get(described["status"],
                                                                                           "ExecutionEnded"),
                 "cause": (cause_message(cause) if cause else
                           f"the {workflow} execution ended {described['status']} in {stage!r} without recording "
                           f"its end: what it changed may still be in place; run the {workflow} again")}
    if "error" in view and described["status"] != "RUNNING":
        view["rolledBack"] = stage in ROLLED_BACK_STATES
    return view


def _is_dry_run(machines: Machines, execution: dict[str, Any]) -> bool:
    return execution["workflow"] == "connect" and machines.input_of(execution["executionArn"]).get("dryRun") is True


def _from_executions(machines: Machines, connection_id: str, executions: list[dict[str, Any]]) -> dict[str, Any]:
    """A connection with no registry item, as its newest execution says (a finished dry run counting only
    when nothing else has run): the registry's statuses, and PLANNED for a connection only dry-run."""
    current = next((execution for execution in executions
                    if execution["status"] == "RUNNING" or not _is_dry_run(machines, execution)), executions[0])
    described = machines.describe(current["executionArn"])
    stage = machines.stage(current["executionArn"])
    view: dict[str, Any] = {
        "connectionId": connection_id,
        "status": _status(current["workflow"], described),
        "source": "executions",
        "workflow": current["workflow"],
        "executionArn": current["executionArn"],
        "startedAt": _iso(described.get("startDate")),
        "executionStatus": described["status"],
        "stage": stage,
        "stoppedAt": _iso(described.get("stopDate")),
    }
    connect = next((execution for execution in executions if execution["workflow"] == "connect"), None)
    if connect is not None:
        view["request"] = machines.input_of(connect["executionArn"])
    if described["status"] == "SUCCEEDED":
        view["output"] = json.loads(described.get("output") or "null")
    elif described["status"] != "RUNNING":
        view["error"] = described.get("error") or described["status"]
        cause = described.get("cause")
        view["cause"] = None if cause is None else cause_message(cause)
        view["rolledBack"] = stage in ROLLED_BACK_STATES
    return view


def _iso(moment: datetime | None) -> str | None:
    """Step Functions' times as the registry writes its own: ISO 8601."""
    return None if moment is None else moment.isoformat()


def _status(workflow: str, described: dict[str, Any]) -> str:
    execution_status = described["status"]
    if workflow == "disconnect":
        return {"RUNNING": "DISCONNECTING", "SUCCEEDED": "DISCONNECTED"}.get(execution_status, "FAILED")
    if execution_status == "RUNNING":
        return "CONNECTING"
    if execution_status == "SUCCEEDED":
        output = json.loads(described.get("output") or "{}")
        return "PLANNED" if isinstance(output, dict) and output.get("status") == "PLANNED" else "CONNECTED"
    return "FAILED"


def check_connection_id(value: str) -> str:
    errors = field_errors(CONNECTION_ID_SCHEMA, value, "connectionId")
    if errors:
        raise Refused(400, "the connection id is malformed", errors)
    return value


def start_connect(machines: Machines, body: Any, default_region: str) -> tuple[str, str]:
    """(connection id, execution ARN) of the connect for this request: a new execution, or the
    running one when it was started with the same request."""
    database = body.get("database") if isinstance(body, dict) else None
    errors = [{"field": name, "message": message} for name, message in database_kind_errors(database)]
    if not errors:
        errors = field_errors(CONNECT_INPUT_SCHEMA, body)
    if not errors:
        try:  # the workflow's own check of the whole input, as Discover makes it
            request = ConnectRequest.parse(body, default_region=default_region)
        except InvalidInput as error:
            errors = [{"field": "body", "message": str(error)}]
    if errors:
        raise Refused(400, "the request does not match the connect input schema", errors)
    cid = request.connection_id
    item = machines.item(cid)
    running = machines.running(item) if item is not None else None
    if item is not None and running is not None:
        if running["workflow"] == "disconnect":
            raise Refused(409, f"connection {cid} is being disconnected: wait for it to finish, then connect again",
                          connectionId=cid, executionArn=running["executionArn"])
        # The item records the request of the run that holds the lock; an accepted one's is its input.
        requested = (item.get("request") if running["executionArn"] == item["currentExecutionArn"]
                     else machines.input_of(running["executionArn"]))
        if not _same_request(requested or {}, request, default_region):
            raise Refused(409, f"connection {cid} is being connected with another request: wait for it to "
                               "finish, then send yours again", connectionId=cid, executionArn=running["executionArn"])
        return cid, running["executionArn"]
    return cid, _start(machines, item, cid, "connect", body)


def _start(machines: Machines, item: ConnectionItem | None, cid: str, workflow: Workflow | Literal["check"],
           execution_input: dict[str, Any]) -> str:
    """A new execution of the workflow, recorded in the connection's item (when it has one) before the answer,
    so that a read right after the answer shows it (store.record_accepted). A check leaves the status as it is."""
    machine = {"connect": machines.connect, "disconnect": machines.disconnect, "check": machines.check_path}[workflow]
    execution_arn = machines.start(machine, cid, execution_input)
    if item is not None:
        status = {"connect": "CONNECTING", "disconnect": "DISCONNECTING"}.get(workflow, item["state"])
        store.record_accepted(machines.dynamodb, machines.table, cid, item["currentExecutionArn"], {
            "workflow": workflow, "executionArn": execution_arn, "status": cast("ConnectionState", status),
            "acceptedAt": store.now()})
    return execution_arn


def _same_request(raw: dict[str, Any], request: ConnectRequest, default_region: str) -> bool:
    try:
        return ConnectRequest.parse(raw, default_region=default_region) == request
    except InvalidInput:
        return False


def _executions_of(machines: Machines, cid: str) -> list[dict[str, Any]]:
    """The executions of a connection with no registry item, newest first; Refused(404) when it has none."""
    executions = machines.of_connection(cid)
    if not executions:
        raise Refused(404, f"no connection {cid}: none is recorded, and no recent execution names it (a connect "
                           "started a moment ago records it once its run takes the connection's lock)",
                      connectionId=cid)
    return executions


def find(machines: Machines, connection_id: str) -> dict[str, Any]:
    """The connection: its registry item and its current execution's live status, or (no item) its executions."""
    cid = check_connection_id(connection_id)
    item = machines.item(cid)
    if item is not None:
        return _registered(machines, item)
    return _from_executions(machines, cid, _executions_of(machines, cid))


def connections(machines: Machines, limit: int, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the registry's connections, newest first by creation, and the next page's token (None:
    the last page). One Query of the Listing index, whatever the number of connections; nothing asked
    of Step Functions."""
    try:
        items, next_token = store.list_connections(machines.dynamodb, machines.table, limit, token)
    except InvalidInput as error:
        raise Refused(400, "nextToken is malformed", [{"field": "nextToken", "message": f"nextToken: {error}"}]) \
            from None
    return [listed(item) for item in items], next_token


def start_disconnect(machines: Machines, connection_id: str) -> tuple[str, str]:
    """(connection id, execution ARN) of the disconnect: a new one, or the one already running."""
    cid = check_connection_id(connection_id)
    item = machines.item(cid)
    if item is None:
        return _start_disconnect_of_executions(machines, cid)
    running = machines.running(item)
    if running is not None:
        if running["workflow"] == "disconnect":
            return cid, running["executionArn"]
        raise Refused(409, f"connection {cid} is being connected: wait for it to finish, then disconnect it",
                      connectionId=cid, executionArn=running["executionArn"])
    database = item.get("database") or (item.get("request") or {}).get("database")
    region = database.get("region") if isinstance(database, dict) else None
    execution_input: dict[str, Any] = {"connectionId": cid} | ({"region": region} if isinstance(region, str) else {})
    return cid, _start(machines, item, cid, "disconnect", execution_input)


def _start_disconnect_of_executions(machines: Machines, cid: str) -> tuple[str, str]:
    """A connection with no registry item (made before it): found by its executions, as before the registry."""
    executions = _executions_of(machines, cid)
    for running in (execution for execution in executions if execution["status"] == "RUNNING"):
        if running["workflow"] == "disconnect":
            return cid, running["executionArn"]
        raise Refused(409, f"connection {cid} is being connected: wait for it to finish, then disconnect it",
                      connectionId=cid, executionArn=running["executionArn"])
    connects = [execution for execution in executions if execution["workflow"] == "connect"]
    execution_input: dict[str, Any] = {"connectionId": cid}
    if connects:
        database = machines.input_of(connects[0]["executionArn"]).get("database")
        if isinstance(database, dict) and isinstance(database.get("region"), str):
            execution_input["region"] = database["region"]
    else:  # only disconnects so far: the same place again
        execution_input = machines.input_of(executions[0]["executionArn"]) or execution_input
    return cid, machines.start(machines.disconnect, cid, execution_input)


def start_check(machines: Machines, connection_id: str) -> tuple[str, str]:
    """(connection id, execution ARN) of a re-check of a CONNECTED connection's path, which changes nothing."""
    cid = check_connection_id(connection_id)
    if not machines.check_path:
        raise Refused(409, "this stack has no check-path state machine: update it to this version")
    item = machines.item(cid)
    current = listed(item) if item is not None else _from_executions(machines, cid, _executions_of(machines, cid))
    if current["status"] != "CONNECTED":
        raise Refused(409, f"connection {cid} is {current['status']}, not CONNECTED: only a connected connection's "
                           "path can be checked", connectionId=cid, executionArn=current["executionArn"])
    # The connect's database and mode: a publicly accessible database connected by peering is checked so.
    request = current.get("request") or {}
    check_input = {key: request[key] for key in ("database", "mode") if key in request}
    return cid, _start(machines, item, cid, "check", {**check_input, "connectionId": cid})


def start_repair(machines: Machines, connection_id: str) -> tuple[str, str]:
    """(connection id, execution ARN) of a repair: the connect of the connection's recorded request, which puts
    back what the connection relies on and has drifted (the stages converge: what is in place is left alone),
    and rolls back only what it added if it fails. Only a CONNECTED connection with a registry item is repaired;
    Discover refuses one whose database has moved (PlanChanged)."""
    cid = check_connection_id(connection_id)
    item = machines.item(cid)
    if item is None:
        _executions_of(machines, cid)  # 404 when nothing names it
        raise Refused(409, f"connection {cid} has no registry item (it was made before the registry): connect it "
                           "again with its request, which repairs it and records it", connectionId=cid)
    running = machines.running(item)
    if running is not None:
        doing = "disconnected" if running["workflow"] == "disconnect" else "connected"
        raise Refused(409, f"connection {cid} is being {doing}: follow that execution; repair it once it has "
                           "finished if it still needs it", connectionId=cid, executionArn=running["executionArn"])
    if item["state"] != "CONNECTED" or not item["relies"]:
        raise Refused(409, f"connection {cid} is {item['state']}, not CONNECTED: it has no path to repair; connect "
                           "it again", connectionId=cid, executionArn=current_run(item)["executionArn"])
    request = {key: value for key, value in item["request"].items() if key != "dryRun"}
    return cid, _start(machines, item, cid, "connect", {**request, "connectionId": cid})


def check_result(machines: Machines, execution_arn: str, wait_seconds: float) -> dict[str, Any]:
    """The check's answer once it has finished (waiting at most wait_seconds): REACHABLE with the probe's
    facts, or the error that names what broke; RUNNING when it is not done yet."""
    deadline = time.monotonic() + wait_seconds
    while True:
        described = machines.describe_now(execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    answer: dict[str, Any] = {"executionArn": execution_arn, "status": "RUNNING"}
    if described["status"] == "SUCCEEDED":
        answer |= {"status": "REACHABLE", "output": json.loads(described.get("output") or "null")}
    elif described["status"] != "RUNNING":
        cause = described.get("cause")
        answer |= {"status": "UNREACHABLE" if described.get("error") in ("Unreachable", "NetworkAclDenies")
                   else "FAILED", "error": described.get("error") or described["status"],
                   "cause": None if cause is None else cause_message(cause)}
    return answer
