"""The stack's announcement to Nekt, and CloudFormation's answer.

The event goes on this account's default bus, whose rule ResultsToNektRule forwards every nekt.peering event to
Nekt's bus: EventBridge documents another account's bus as a rule's target, not as PutEvents' (docs/aws-fidelity.md,
Releases and onboarding).

CloudFormation sends the custom resource a Create, Update or Delete request and waits for the answer at the
request's ResponseURL, a presigned S3 URL (docs/aws-fidelity.md, Releases and onboarding): every request is answered,
whatever happened. A Delete is always answered SUCCESS, announced or not, so that nothing blocks a delete. An
Update is too: when an update fails, CloudFormation rolls back by sending the same resource an Update with the old
properties, and a FAILED answer then would leave the stack in UPDATE_ROLLBACK_FAILED. Only a Create is FAILED
when the event cannot be put (its rollback sends a Delete, always answered SUCCESS): the customer's install stops
with the reason, since Nekt would never hear of it."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

SOURCE = "nekt.peering"
DETAIL_TYPES = {"Create": "Stack Installed", "Update": "Stack Updated", "Delete": "Stack Deleted"}
# The event's fields, from the custom resource's properties (template.yaml, StackAnnouncement).
ANNOUNCED = {"version": "Version", "apiUrl": "ApiUrl", "connectStateMachineArn": "ConnectStateMachineArn",
             "disconnectStateMachineArn": "DisconnectStateMachineArn",
             "checkPathStateMachineArn": "CheckPathStateMachineArn"}


class Refused(Exception):
    """EventBridge did not take the announcement."""


def announcement(request: dict[str, Any]) -> dict[str, Any]:
    """The PutEvents entry for this account's default bus: the stack's account, Region and name (from its ARN), and
    what Nekt's platform needs to start connects through it."""
    properties = request["ResourceProperties"]
    _, _, _, region, account, resource = request["StackId"].split(":", 5)
    detail = {"account": account, "region": region, "stackId": request["StackId"],
              "stackName": resource.split("/")[1], **{field: properties[name] for field, name in ANNOUNCED.items()}}
    return {"Source": SOURCE, "DetailType": DETAIL_TYPES[request["RequestType"]], "Detail": json.dumps(detail),
            "Resources": [request["StackId"]]}


def announce(events: Any, request: dict[str, Any]) -> None:
    try:
        reply = events.put_events(Entries=[announcement(request)])
    except (ClientError, BotoCoreError) as error:
        raise Refused(str(error)) from error
    if reply.get("FailedEntryCount"):
        [entry] = reply["Entries"]
        raise Refused(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")


def handle(events: Any, request: dict[str, Any], log_stream: str) -> dict[str, Any]:
    """Announce, then the answer for CloudFormation."""
    try:
        announce(events, request)
    except (Refused, KeyError, ValueError) as error:  # KeyError, ValueError: a property missing or malformed
        return answer(request, failed(request), (
            f"the stack's {request.get('RequestType')} announcement to Nekt was not put on the default event bus "
            f"({type(error).__name__}: {error}); see CloudWatch Logs stream {log_stream}, then retry the stack "
            "operation"))
    return answer(request, "SUCCESS", "announced to Nekt")


def failed(request: dict[str, Any]) -> str:
    """The status of a request that went wrong: FAILED for a Create only (the module's docstring says why)."""
    return "FAILED" if request.get("RequestType") == "Create" else "SUCCESS"


def answer(request: dict[str, Any], status: str, reason: str) -> dict[str, Any]:
    """CloudFormation's response object. The physical id never changes (a new one would make CloudFormation
    replace the resource: a Delete of the old one, announced as a delete of the stack)."""
    physical_id = (request.get("PhysicalResourceId")
                   or f"{request.get('StackId')}/{request.get('LogicalResourceId')}")
    return {"Status": status, "Reason": reason[:1000], "PhysicalResourceId": physical_id,
            "StackId": request.get("StackId"), "RequestId": request.get("RequestId"),
            "LogicalResourceId": request.get("LogicalResourceId"), "NoEcho": False, "Data": {}}


def respond(response_url: str, body: dict[str, Any]) -> None:
    """PUT the answer to the presigned URL, with no Content-Type (the URL is signed without one)."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(response_url, data=data, method="PUT",
                                     headers={"Content-Type": "", "Content-Length": str(len(data))})
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (CloudFormation's https URL)
        answer.read()
