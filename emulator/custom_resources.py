"""CloudFormation's side of a Lambda-backed custom resource: the request it sends the function, and the answer
it reads back from the request's ResponseURL.

In AWS the ResponseURL is a presigned S3 URL; here it is a local HTTP endpoint that keeps each PUT (moto runs in
process, where a plain HTTP PUT from the handler would not reach it). The answer is held to CloudFormation's
contract (docs/aws-fidelity.md, Custom resources): a JSON body of at most 4096 bytes, Status SUCCESS or FAILED,
the request's StackId, RequestId and LogicalResourceId, a PhysicalResourceId of at most 1 KB; no answer is a
failed stack operation (CloudFormation would wait out ServiceTimeout)."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_RESPONSE_BYTES = 4096
MAX_PHYSICAL_ID_BYTES = 1024


class CustomResourceFailed(Exception):
    """The stack operation fails: the custom resource answered FAILED, answered wrong, or never answered."""


class ResponseUrls:
    """Where custom resources answer: one URL per request, each keeping the body PUT to it."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:  # noqa: N802 (http.server's name)
                bodies[self.path.rsplit("/", 1)[-1]] = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, request_id: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/cloudformation-custom-resource-response/{request_id}"

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """The answer to the request as CloudFormation reads it (SUCCESS or FAILED); CustomResourceFailed when
        there is none, or a malformed one."""
        body = self.bodies.get(request["RequestId"])
        if body is None:
            raise CustomResourceFailed(f"{request['LogicalResourceId']}: no answer at the ResponseURL")
        if len(body) > MAX_RESPONSE_BYTES:
            raise CustomResourceFailed(f"{request['LogicalResourceId']}: answer of {len(body)} bytes (max 4096)")
        answer: dict[str, Any] = json.loads(body)
        echoed = {key: answer.get(key) for key in ("StackId", "RequestId", "LogicalResourceId")}
        physical_id = answer.get("PhysicalResourceId") or ""
        if (echoed != {key: request[key] for key in echoed} or answer.get("Status") not in ("SUCCESS", "FAILED")
                or not physical_id or len(physical_id.encode()) > MAX_PHYSICAL_ID_BYTES):
            raise CustomResourceFailed(f"{request['LogicalResourceId']}: malformed answer {answer}")
        return answer

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def custom_resource_request(request_type: str, urls: ResponseUrls, stack_id: str, logical_id: str,
                            resource_type: str, properties: dict[str, Any], physical_id: str | None = None,
                            old_properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request CloudFormation sends (its documented fields; every property value a string, as CloudFormation
    passes them)."""
    request_id = str(uuid.uuid4())
    request = {"RequestType": request_type, "RequestId": request_id, "ResponseURL": urls.url(request_id),
               "StackId": stack_id, "ResourceType": resource_type, "LogicalResourceId": logical_id,
               "ServiceToken": properties["ServiceToken"], "ResourceProperties": _strings(properties)}
    if physical_id is not None:
        request["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        request["OldResourceProperties"] = _strings(old_properties)
    return request


def _strings(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _strings(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_strings(inner) for inner in value]
    return value if isinstance(value, str) else json.dumps(value)
