"""Connections as the executions of the two state machines: what the REST API and the
`nekt-peering` CLI both read and start, so that they drive the workflows the same way.

There is no store of its own: a connection is what the executions say. Execution names are
`<connectionId>_<16 hex>` (unique: Step Functions refuses a name reused within 90 days, and a
connection can be connected again); an execution started from the console under another name is
attributed by its input. Everything a caller sends is checked before any AWS call that changes
something: a malformed request is refused naming each field, never a started execution.
"""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import fastjsonschema

from nekt_peering.errors import InvalidInput, cause_message
from nekt_peering.exclusive import connection_of
from nekt_peering.model import CONNECT_INPUT_SCHEMA, ConnectRequest

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import ExecutionListItemTypeDef

# How far back a listing looks, per state machine (list_executions is newest first).
SCAN_LIMIT = 1000
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
        return errors
    try:
        _validator(json.dumps(schema, sort_keys=True))(value)
    except fastjsonschema.JsonSchemaValueException as error:
        return [{"field": where, "message": where + " " + error.message.removeprefix("data").lstrip(" .")}]
    return []


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



# Executions -------------------------------------------------------------------------------------


@dataclass
class Machines:
    sfn: SFNClient
    connect: str
    disconnect: str
    check_path: str = ""
    described: dict[str, dict[str, Any]] = field(default_factory=dict)

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
        """One DescribeExecution per execution and request."""
        if execution_arn not in self.described:
            self.described[execution_arn] = dict(self.sfn.describe_execution(executionArn=execution_arn))
        return self.described[execution_arn]

    def of_connection(self, connection_id: str) -> list[dict[str, Any]]:
        both = [execution for machine in (self.connect, self.disconnect) for execution in self.executions(machine)
                if execution["connectionId"] == connection_id]
        return sorted(both, key=lambda execution: execution["startDate"], reverse=True)

    def running(self, connection_id: str) -> list[dict[str, Any]]:
        return [execution for machine in (self.connect, self.disconnect)
                for execution in self.executions(machine, status="RUNNING")
                if execution["connectionId"] == connection_id]

    def start(self, machine: str, connection_id: str, execution_input: dict[str, Any]) -> str:
        return str(self.sfn.start_execution(
            stateMachineArn=machine, name=f"{connection_id}_{uuid.uuid4().hex[:16]}",
            input=json.dumps(execution_input),
        )["executionArn"])

    def stage(self, execution_arn: str) -> str | None:
        """The state the execution is in (or ended in)."""
        events = self.sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True,
                                                maxResults=100)["events"]
        entered = [event for event in events if "stateEnteredEventDetails" in event]
        # The newest by id, whatever order an implementation returns the page in.
        return str(max(entered, key=lambda event: event["id"])["stateEnteredEventDetails"]["name"]) if entered else None


# Connections ----------------------------------------------------------------------------------


def console_link(execution_arn: str) -> str:
    region = execution_arn.split(":")[3]
    return (f"https://{region}.console.aws.amazon.com/states/home?region={region}"
            f"#/v2/executions/details/{execution_arn}")


def _is_dry_run(machines: Machines, execution: dict[str, Any]) -> bool:
    return execution["workflow"] == "connect" and machines.input_of(execution["executionArn"]).get("dryRun") is True


def connection(machines: Machines, connection_id: str, executions: list[dict[str, Any]]) -> dict[str, Any]:
    """The connection as its newest execution says, a finished dry run counting only when nothing else has run."""
    current = next((execution for execution in executions
                    if execution["status"] == "RUNNING" or not _is_dry_run(machines, execution)), executions[0])
    described = machines.describe(current["executionArn"])
    stage = machines.stage(current["executionArn"])
    view: dict[str, Any] = {
        "connectionId": connection_id,
        "status": _status(current["workflow"], described, stage),
        "stage": stage,
        "workflow": current["workflow"],
        "executionArn": current["executionArn"],
        "startedAt": described["startDate"],
        "stoppedAt": described.get("stopDate"),
        "input": machines.input_of(current["executionArn"]),
    }
    if described["status"] == "SUCCEEDED":
        view["output"] = json.loads(described.get("output") or "null")
    elif described["status"] != "RUNNING":
        view["error"] = described.get("error") or described["status"]
        cause = described.get("cause")
        view["cause"] = None if cause is None else cause_message(cause)
    return view


def _status(workflow: str, described: dict[str, Any], stage: str | None) -> str:
    execution_status = described["status"]
    if workflow == "disconnect":
        return {"RUNNING": "DISCONNECTING", "SUCCEEDED": "DISCONNECTED"}.get(execution_status, "FAILED")
    if execution_status == "RUNNING":
        return "RUNNING"
    if execution_status == "SUCCEEDED":
        output = json.loads(described.get("output") or "{}")
        return "PLANNED" if isinstance(output, dict) and output.get("status") == "PLANNED" else "CONNECTED"
    return "ROLLED_BACK" if stage in ROLLED_BACK_STATES else "FAILED"


def check_connection_id(value: str) -> str:
    errors = field_errors(CONNECTION_ID_SCHEMA, value, "connectionId")
    if errors:
        raise Refused(400, "the connection id is malformed", errors)
    return value


def start_connect(machines: Machines, body: Any, default_region: str) -> tuple[str, str]:
    """(connection id, execution ARN) of the connect for this request: a new execution, or the
    running one when it was started with the same request."""
    errors = field_errors(CONNECT_INPUT_SCHEMA, body)
    if not errors:
        try:  # the workflow's own check of the whole input, as Discover makes it
            request = ConnectRequest.parse(body, default_region=default_region)
        except InvalidInput as error:
            errors = [{"field": "body", "message": str(error)}]
    if errors:
        raise Refused(400, "the request does not match the connect input schema", errors)
    cid = request.connection_id
    for running in machines.running(cid):
        if running["workflow"] == "disconnect":
            raise Refused(409, f"connection {cid} is being disconnected: wait for it to finish, then connect again",
                          connectionId=cid, executionArn=running["executionArn"])
        if not _same_request(machines.input_of(running["executionArn"]), request, default_region):
            raise Refused(409, f"connection {cid} is being connected with another request: wait for it to "
                               "finish, then send yours again",
                          connectionId=cid, executionArn=running["executionArn"])
        return cid, running["executionArn"]
    return cid, machines.start(machines.connect, cid, body)


def _same_request(raw: dict[str, Any], request: ConnectRequest, default_region: str) -> bool:
    try:
        return ConnectRequest.parse(raw, default_region=default_region) == request
    except InvalidInput:
        return False


def known_connection(machines: Machines, connection_id: str) -> tuple[str, list[dict[str, Any]]]:
    """The connection id, checked, and its executions newest first; Refused(404) when it has none."""
    cid = check_connection_id(connection_id)
    executions = machines.of_connection(cid)
    if not executions:
        raise Refused(404, f"no connection {cid}: nothing was started for it (or not recently)", connectionId=cid)
    return cid, executions


def find(machines: Machines, connection_id: str) -> dict[str, Any]:
    cid, executions = known_connection(machines, connection_id)
    return connection(machines, cid, executions)


def connections(machines: Machines, offset: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """A page of connections, newest first, and whether there are more."""
    executions = sorted((execution for machine in (machines.connect, machines.disconnect)
                         for execution in machines.executions(machine)),
                        key=lambda execution: execution["startDate"], reverse=True)
    by_connection: dict[str, list[dict[str, Any]]] = {}
    for execution in executions:
        by_connection.setdefault(execution["connectionId"], []).append(execution)
    page = list(by_connection.items())[offset:offset + limit]
    return [connection(machines, cid, runs) for cid, runs in page], offset + limit < len(by_connection)


def start_disconnect(machines: Machines, connection_id: str) -> tuple[str, str]:
    """(connection id, execution ARN) of the disconnect: a new one, or the one already running."""
    cid, executions = known_connection(machines, connection_id)
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
    cid, executions = known_connection(machines, connection_id)
    if not machines.check_path:
        raise Refused(409, "this stack has no check-path state machine: update it to this version")
    current = connection(machines, cid, executions)
    if current["status"] != "CONNECTED":
        raise Refused(409, f"connection {cid} is {current['status']}, not CONNECTED: only a connected connection's "
                           "path can be checked", connectionId=cid, executionArn=current["executionArn"])
    # The connect's database and mode: a publicly accessible database connected by peering is checked so.
    check_input = {key: current["input"][key] for key in ("database", "mode") if key in current["input"]}
    return cid, machines.start(machines.check_path, cid, {**check_input, "connectionId": cid})


def check_result(machines: Machines, execution_arn: str, wait_seconds: float) -> dict[str, Any]:
    """The check's answer once it has finished (waiting at most wait_seconds): REACHABLE with the probe's
    facts, or the error that names what broke; RUNNING when it is not done yet."""
    deadline = time.monotonic() + wait_seconds
    while True:
        described = machines.sfn.describe_execution(executionArn=execution_arn)
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
