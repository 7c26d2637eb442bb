"""The REST API the Nekt platform calls: connections as the executions of the two state machines.

    POST   /connections        start a connect (body: the connect workflow's input)
    GET    /connections        recent connections, newest first, paginated
    GET    /connections/{id}   a connection's status, current stage, output or error
    DELETE /connections/{id}   start a disconnect

There is no store of its own: a connection is what the executions say. Execution names are
`<connectionId>_<16 hex>` (unique: Step Functions refuses a name reused within 90 days, and a
connection can be connected again); an execution started from the console under another name is
attributed by its input. Everything a caller sends is checked before any AWS call that changes
something: a malformed request is a 400 naming each field, never a started execution.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import fastjsonschema
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from botocore.exceptions import ClientError

from nekt_peering.aws import client, new_session
from nekt_peering.errors import InvalidInput, cause_message
from nekt_peering.exclusive import connection_of
from nekt_peering.model import CONNECT_INPUT_SCHEMA, ConnectRequest

logger = Logger(service="nekt-peering")
app = APIGatewayRestResolver()

MAX_BODY_BYTES = 16 * 1024
DEFAULT_PAGE = 20
MAX_PAGE = 100
# How far back the listing looks, per state machine (list_executions is newest first).
SCAN_LIMIT = 1000
CONNECTION_ID_SCHEMA: dict[str, Any] = CONNECT_INPUT_SCHEMA["properties"]["connectionId"]
_EXECUTION_NAME = re.compile(r"^(?P<connection>[A-Za-z0-9][A-Za-z0-9_-]*)_[0-9a-f]{16}$")
# Final states of the connect workflow that mean: failed, and what it had changed is undone.
ROLLED_BACK_STATES = frozenset({"Failed and rolled back"})


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.errors, self.extra = status, message, errors or [], extra


@app.exception_handler(ApiError)
def _api_error(error: ApiError) -> Response[str]:
    body: dict[str, Any] = {"message": error.message, **error.extra}
    if error.errors:
        body["errors"] = error.errors
    return _json(error.status, body)


@app.exception_handler(ClientError)
def _aws_refused(error: ClientError) -> Response[str]:
    """AWS refused one of the API's own calls (a permission, a throttle): not the caller's doing."""
    logger.exception("AWS refused a call of the API")
    code = error.response.get("Error", {}).get("Code", "")
    return _json(502, {"message": f"AWS refused {error.operation_name} ({code}); try again later"})


@app.exception_handler(Exception)
def _unexpected(error: Exception) -> Response[str]:
    """A fault of the API itself: logged, and answered in JSON rather than as a failed invocation."""
    logger.exception("unexpected error in the API")
    return _json(500, {"message": "internal error; the request id is in the logs"})


@app.not_found
def _not_found(_: Exception) -> Response[str]:
    event = app.current_event
    return _json(404, {"message": f"no route {event.http_method} {event.path}: see GET/POST /connections and "
                                  "GET/DELETE /connections/{connectionId}"})


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps(body, default=str))


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


def _body() -> Any:
    event = app.current_event
    try:
        raw = (event.decoded_body if event.is_base64_encoded else event.body) or ""
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        raise ApiError(400, "the request body is not valid base64 UTF-8",
                       [{"field": "body", "message": "body is marked base64 but does not decode to UTF-8"}]) from None
    size = len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise ApiError(400, "the request body is too large",
                       [{"field": "body", "message": f"body is {size} bytes; at most {MAX_BODY_BYTES}"}])
    if not raw.strip():
        raise ApiError(400, "the request body is empty", [{"field": "body", "message":
                       'body must be the connect input, e.g. {"database": {"identifier": "orders-db"}}'}])
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise ApiError(400, "the request body is not valid JSON",
                       [{"field": "body", "message": f"body is not valid JSON: {error}"}]) from None


def _connection_id(value: str) -> str:
    errors = field_errors(CONNECTION_ID_SCHEMA, value, "connectionId")
    if errors:
        raise ApiError(400, "the connection id in the path is malformed", errors)
    return value


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


# Executions -----------------------------------------------------------------------------------


@dataclass
class Machines:
    sfn: Any
    connect: str
    disconnect: str
    described: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_environment(cls) -> Machines:
        return cls(client(new_session(region_name=_region()), "stepfunctions"),
                   os.environ["CONNECT_STATE_MACHINE_ARN"], os.environ["DISCONNECT_STATE_MACHINE_ARN"])

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

    def _connection_of(self, execution: dict[str, Any]) -> str | None:
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


def _links(connection_id: str, execution_arn: str | None = None) -> dict[str, str]:
    links = {"self": f"/connections/{connection_id}"}
    if execution_arn:
        region = execution_arn.split(":")[3]
        links["execution"] = (f"https://{region}.console.aws.amazon.com/states/home?region={region}"
                              f"#/v2/executions/details/{execution_arn}")
    return links


def _cause(cause: str | None) -> str | None:
    """A Lambda error's cause is JSON with a stack trace: the message is what a caller reads."""
    return None if cause is None else cause_message(cause)


def _is_dry_run(machines: Machines, execution: dict[str, Any]) -> bool:
    return execution["workflow"] == "connect" and machines.input_of(execution["executionArn"]).get("dryRun") is True


def connection(machines: Machines, connection_id: str, executions: list[dict[str, Any]]) -> dict[str, Any]:
    """The connection as its newest execution says, a finished dry run counting only when nothing else has run."""
    current = next((execution for execution in executions
                    if execution["status"] == "RUNNING" or not _is_dry_run(machines, execution)), executions[0])
    described = machines.describe(current["executionArn"])
    stage = machines.stage(current["executionArn"])
    status = _status(current["workflow"], described, stage)
    view: dict[str, Any] = {
        "connectionId": connection_id,
        "status": status,
        "stage": stage,
        "workflow": current["workflow"],
        "executionArn": current["executionArn"],
        "startedAt": described["startDate"],
        "stoppedAt": described.get("stopDate"),
        "input": machines.input_of(current["executionArn"]),
        "links": _links(connection_id, current["executionArn"]),
    }
    if described["status"] == "SUCCEEDED":
        view["output"] = json.loads(described.get("output") or "null")
    elif described["status"] != "RUNNING":
        view["error"] = described.get("error") or described["status"]
        view["cause"] = _cause(described.get("cause"))
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


# Routes ---------------------------------------------------------------------------------------


@app.post("/connections")
def start_connect() -> Response[str]:
    body = _body()
    errors = field_errors(CONNECT_INPUT_SCHEMA, body)
    if not errors:
        try:  # the workflow's own check of the whole input, as Discover makes it
            request = ConnectRequest.parse(body, default_region=_region())
        except InvalidInput as error:
            errors = [{"field": "body", "message": str(error)}]
    if errors:
        raise ApiError(400, "the request does not match the connect input schema", errors)
    machines = Machines.from_environment()
    cid = request.connection_id
    for running in machines.running(cid):
        if running["workflow"] == "disconnect":
            raise ApiError(409, f"connection {cid} is being disconnected: wait for it to finish "
                                f"(GET /connections/{cid}), then connect again",
                           connectionId=cid, executionArn=running["executionArn"])
        same = _same_request(machines.input_of(running["executionArn"]), request)
        if not same:
            raise ApiError(409, f"connection {cid} is being connected with another request: wait for it to "
                                f"finish (GET /connections/{cid}), then send yours again",
                           connectionId=cid, executionArn=running["executionArn"])
        return _accepted(cid, running["executionArn"], "RUNNING")
    return _accepted(cid, machines.start(machines.connect, cid, body), "RUNNING")


def _same_request(raw: dict[str, Any], request: ConnectRequest) -> bool:
    try:
        return ConnectRequest.parse(raw, default_region=_region()) == request
    except InvalidInput:
        return False


def _accepted(connection_id: str, execution_arn: str, status: str) -> Response[str]:
    return _json(202, {"connectionId": connection_id, "executionArn": execution_arn, "status": status,
                       "links": _links(connection_id, execution_arn)})


@app.get("/connections/<connection_id>")
def get_connection(connection_id: str) -> Response[str]:
    cid, machines, executions = _known_connection(connection_id)
    return _json(200, connection(machines, cid, executions))


def _known_connection(connection_id: str) -> tuple[str, Machines, list[dict[str, Any]]]:
    """The path's connection id, checked, and its executions newest first; 404 when it has none."""
    cid = _connection_id(connection_id)
    machines = Machines.from_environment()
    executions = machines.of_connection(cid)
    if not executions:
        raise ApiError(404, f"no connection {cid}: nothing was started for it (or not recently)", connectionId=cid)
    return cid, machines, executions


@app.get("/connections")
def list_connections() -> Response[str]:
    limit = _limit(app.current_event.get_query_string_value("limit"))
    offset = _offset(app.current_event.get_query_string_value("nextToken"))
    machines = Machines.from_environment()
    executions = sorted((execution for machine in (machines.connect, machines.disconnect)
                         for execution in machines.executions(machine)),
                        key=lambda execution: execution["startDate"], reverse=True)
    by_connection: dict[str, list[dict[str, Any]]] = {}
    for execution in executions:
        by_connection.setdefault(execution["connectionId"], []).append(execution)
    page = list(by_connection.items())[offset:offset + limit]
    body: dict[str, Any] = {"connections": [connection(machines, cid, runs) for cid, runs in page]}
    if offset + limit < len(by_connection):
        body["nextToken"] = _token(offset + limit)
    return _json(200, body)


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiError(400, "limit is malformed", [{"field": "limit", "message":
                                                    f"limit must be a whole number from 1 to {MAX_PAGE}"}])
    return int(raw)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))["offset"]
    except (ValueError, KeyError, TypeError, UnicodeEncodeError, binascii.Error):
        offset = None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise ApiError(400, "nextToken is malformed", [{"field": "nextToken", "message":
                                                        "nextToken must be one a previous page returned"}])
    return offset


@app.delete("/connections/<connection_id>")
def start_disconnect(connection_id: str) -> Response[str]:
    cid, machines, executions = _known_connection(connection_id)
    for running in (execution for execution in executions if execution["status"] == "RUNNING"):
        if running["workflow"] == "disconnect":
            return _accepted(cid, running["executionArn"], "DISCONNECTING")
        raise ApiError(409, f"connection {cid} is being connected: wait for it to finish "
                            f"(GET /connections/{cid}), then disconnect it",
                       connectionId=cid, executionArn=running["executionArn"])
    connects = [execution for execution in executions if execution["workflow"] == "connect"]
    execution_input: dict[str, Any] = {"connectionId": cid}
    if connects:
        database = machines.input_of(connects[0]["executionArn"]).get("database")
        if isinstance(database, dict) and isinstance(database.get("region"), str):
            execution_input["region"] = database["region"]
    else:  # only disconnects so far: the same place again
        execution_input = machines.input_of(executions[0]["executionArn"]) or execution_input
    return _accepted(cid, machines.start(machines.disconnect, cid, execution_input), "DISCONNECTING")
