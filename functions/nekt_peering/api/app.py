"""The REST API the Nekt platform calls: the connections of the registry, started and followed as executions.

    POST   /connections        start a connect (body: the connect workflow's input)
    GET    /connections        the registry's connections, newest first, a page at a time
    GET    /connections/{id}   a connection's status, current stage, output or error
    DELETE /connections/{id}   start a disconnect
    POST   /connections/{id}/probe  re-check a connected connection's path, changing nothing
    POST   /connections/{id}/repair put back what a connected connection relies on (a connect of its request)

What a connection is, and how one is started or stopped, is nekt_peering.connections (shared
with the `nekt-peering` CLI); this module is HTTP: bodies, paths, query strings, status codes."""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from nekt_peering.api import connections
from nekt_peering.api.connections import Machines, Refused, console_link
from nekt_peering.api.rest_resolver import APIGatewayRestResolver, Response, content_types
from nekt_peering.core.aws import client, new_session
from nekt_peering.registry import store

logger = Logger(service="nekt-peering")
app = APIGatewayRestResolver()

MAX_BODY_BYTES = 16 * 1024
DEFAULT_PAGE = 20
MAX_PAGE = 100


@app.exception_handler(Refused)
def _refused(error: Refused) -> Response[str]:
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
    return _json(404, {"message": f"no route {event.http_method} {event.path}: see GET/POST /connections, "
                                  "GET/DELETE /connections/{connectionId} and POST /connections/{connectionId}/probe "
                                  "or /repair"})


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps(body, default=str))


# Requests -------------------------------------------------------------------------------------


def _body() -> Any:
    event = app.current_event
    try:
        raw = (event.decoded_body if event.is_base64_encoded else event.body) or ""
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        raise Refused(400, "the request body is not valid base64 UTF-8",
                       [{"field": "body", "message": "body is marked base64 but does not decode to UTF-8"}]) from None
    size = len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise Refused(400, "the request body is too large",
                       [{"field": "body", "message": f"body is {size} bytes; at most {MAX_BODY_BYTES}"}])
    if not raw.strip():
        raise Refused(400, "the request body is empty", [{"field": "body", "message":
                       'body must be the connect input, e.g. {"database": {"identifier": "orders-db"}}'}])
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise Refused(400, "the request body is not valid JSON",
                       [{"field": "body", "message": f"body is not valid JSON: {error}"}]) from None


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _machines() -> Machines:
    session = new_session(region_name=_region())
    return Machines(client(session, "stepfunctions"),
                    os.environ["CONNECT_STATE_MACHINE_ARN"], os.environ["DISCONNECT_STATE_MACHINE_ARN"],
                    os.environ.get("CHECK_PATH_STATE_MACHINE_ARN", ""), client(session, "dynamodb"),
                    store.table_name())


def _links(connection_id: str, execution_arn: str | None = None) -> dict[str, str]:
    links = {"self": f"/connections/{connection_id}"}
    if execution_arn:
        links["execution"] = console_link(execution_arn)
    return links


def _view(connection: dict[str, Any]) -> dict[str, Any]:
    return {**connection, "links": _links(connection["connectionId"], connection["executionArn"])}


# Routes ---------------------------------------------------------------------------------------


@app.post("/connections")
def start_connect() -> Response[str]:
    cid, execution_arn = connections.start_connect(_machines(), _body(), default_region=_region())
    return _accepted(cid, execution_arn, "connect", "CONNECTING")


def _accepted(connection_id: str, execution_arn: str, workflow: str, status: str) -> Response[str]:
    return _json(202, {"connectionId": connection_id, "executionArn": execution_arn, "workflow": workflow,
                       "status": status, "links": _links(connection_id, execution_arn)})


@app.get("/connections/<connection_id>")
def get_connection(connection_id: str) -> Response[str]:
    return _json(200, _view(connections.find(_machines(), connection_id)))


@app.get("/connections")
def list_connections() -> Response[str]:
    limit = _limit(app.current_event.get_query_string_value("limit"))
    token = app.current_event.get_query_string_value("nextToken")
    page, next_token = connections.connections(_machines(), limit, token)
    body: dict[str, Any] = {"connections": [_view(connection) for connection in page]}
    if next_token:
        body["nextToken"] = next_token
    return _json(200, body)


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise Refused(400, "limit is malformed", [{"field": "limit", "message":
                                                    f"limit must be a whole number from 1 to {MAX_PAGE}"}])
    return int(raw)


@app.delete("/connections/<connection_id>")
def start_disconnect(connection_id: str) -> Response[str]:
    cid, execution_arn = connections.start_disconnect(_machines(), connection_id)
    return _accepted(cid, execution_arn, "disconnect", "DISCONNECTING")


@app.post("/connections/<connection_id>/repair")
def repair_connection(connection_id: str) -> Response[str]:
    cid, execution_arn = connections.start_repair(_machines(), connection_id)
    return _accepted(cid, execution_arn, "connect", "CONNECTING")


# The check takes seconds (Discover's reads, the probe's 3 s stages): answered in the response when it
# finishes within this, well inside API Gateway's 29 s; else 202 and the execution to follow.
PROBE_WAIT_SECONDS = 20.0


@app.post("/connections/<connection_id>/probe")
def probe_connection(connection_id: str) -> Response[str]:
    machines = _machines()
    cid, execution_arn = connections.start_check(machines, connection_id)
    answer = connections.check_result(machines, execution_arn, PROBE_WAIT_SECONDS)
    return _json(202 if answer["status"] == "RUNNING" else 200,
                 {"connectionId": cid, **answer, "links": _links(cid, execution_arn)})
