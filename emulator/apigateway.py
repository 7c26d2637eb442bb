"""API Gateway REST proxy events, as API Gateway passes them to the API function.

The resource (`/connections/{connectionId}`) and path parameters come from matching the path
against api/openapi.yaml, the file the API is deployed from.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Iterable
from functools import cache
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import yaml

from emulator.stack import DEFAULT_ACCOUNT
from emulator.template import ROOT

OPENAPI_PATH = ROOT / "api" / "openapi.yaml"
CALLER_ROLE = "arn:aws:sts::{account}:assumed-role/nekt-platform/platform-session"


@cache
def openapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(OPENAPI_PATH.read_text())
    return document


def resource_of(path: str) -> tuple[str, dict[str, str] | None]:
    """'/connections/orders-db' -> ('/connections/{connectionId}', {'connectionId': 'orders-db'})."""
    for template in openapi()["paths"]:
        names = re.findall(r"{(\w+)}", template)
        pattern = "^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        matched = re.match(pattern, path)
        if matched:
            return template, ({name: matched.group(name) for name in names} or None)
    return path, None  # API Gateway would answer a path it does not know itself; the function's 404


def rest_event(method: str, path: str, body: str | None = None, query: dict[str, str] | None = None,
               account_id: str = DEFAULT_ACCOUNT, region: str = "us-east-1", base64_body: bool = False,
               ) -> dict[str, Any]:
    resource, path_parameters = resource_of(path)
    headers = {"Content-Type": "application/json", "Host": f"abcdef1234.execute-api.{region}.amazonaws.com",
               "User-Agent": "nekt-platform/1.0", "X-Forwarded-Proto": "https"}
    request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{method} {path} {query} {body}"))
    if base64_body and body is not None:
        body = base64.b64encode(body.encode()).decode()
    caller = CALLER_ROLE.format(account=account_id)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {name: [value] for name, value in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "a1b2c3",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id[:16],
            "requestTime": "24/Nov/2026:21:00:00 +0000",
            "path": f"/v1{path}",
            "accountId": account_id,
            "protocol": "HTTP/1.1",
            "stage": "v1",
            "domainPrefix": "abcdef1234",
            "requestTimeEpoch": 1795554000000,
            "requestId": request_id,
            "identity": {"accountId": account_id, "caller": "AROAEXAMPLE:platform-session",
                         "userArn": caller, "user": "AROAEXAMPLE:platform-session", "sourceIp": "100.27.146.35",
                         "userAgent": "nekt-platform/1.0", "accessKey": "ASIAEXAMPLE"},
            "domainName": f"abcdef1234.execute-api.{region}.amazonaws.com",
            "apiId": "abcdef1234",
        },
        "body": body,
        "isBase64Encoded": base64_body,
    }


def wsgi_app(invoke: Callable[[dict[str, Any]], dict[str, Any]], stage: str = "v1") -> Callable[..., Iterable[bytes]]:
    """The API as an HTTP server would serve it, for an HTTP client in the same process (the schema fuzzer):
    each request under /<stage> becomes the REST proxy event API Gateway would pass `invoke`, and its
    answer the HTTP response. What API Gateway answers itself, the function never sees: 403 for a request
    with no Authorization header (AWS_IAM; a signature is not verified here), or outside the stage."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(f"/{stage}/") or "HTTP_AUTHORIZATION" not in environ:
            start_response("403 Forbidden", [("Content-Type", "application/json")])
            return [b'{"message": "Missing Authentication Token"}']
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        # WSGI hands the path over as latin-1 text. API Gateway passes a body of no binary media type (this API
        # declares none) as text, a proxy event's string: bytes that are not UTF-8 are U+FFFD here.
        event = rest_event(environ["REQUEST_METHOD"],
                           path.removeprefix(f"/{stage}").encode("latin-1").decode("utf-8", "replace"),
                           raw.decode("utf-8", "replace") if raw else None, query or None)
        response = invoke(event)
        headers = [(name, value) for name, values in response.get("multiValueHeaders", {}).items() for value in values]
        status = response["statusCode"]
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        body = response.get("body") or ""
        return [base64.b64decode(body) if response.get("isBase64Encoded") else body.encode("utf-8")]

    return app
