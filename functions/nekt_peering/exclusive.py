"""One connect per connection at a time.

Step Functions keeps finished execution names for 90 days, so a fixed name per connection
would forbid connecting again after a failure or a disconnect. Instead, each execution
looks at the running ones of its own state machine: if an older one is connecting the same
connection, it stops before changing anything. Two racing starts both see each other and
the older one (start time, then ARN) goes on.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.errors import ConnectionBusy

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


def state_machine_arn(execution_arn: str) -> str:
    """arn:aws:states:r:a:execution:Machine:name -> arn:aws:states:r:a:stateMachine:Machine."""
    parts = execution_arn.split(":")
    return ":".join(parts[:5] + ["stateMachine", parts[6]])


def ensure_only_run(sfn: SFNClient, execution_arn: str, connection_id: str) -> None:
    running = [
        execution
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=state_machine_arn(execution_arn), statusFilter="RUNNING")
        for execution in page["executions"]
    ]
    mine = next((execution for execution in running if execution["executionArn"] == execution_arn), None)
    if mine is None:  # not started by Step Functions (a sam local invoke): nothing to compare with
        return
    for other in sorted(running, key=lambda execution: (execution["startDate"], execution["executionArn"])):
        if other is mine:
            return
        if _connects(sfn, other["executionArn"], connection_id):
            raise ConnectionBusy(
                f"connection {connection_id} is already being connected by {other['executionArn']} "
                f"(started {other['startDate']}). Nothing was changed: follow that execution, and start again "
                "once it has finished if it fails"
            )


def _connects(sfn: SFNClient, execution_arn: str, connection_id: str) -> bool:
    """Whether a running execution changes the same connection (a dry run changes nothing)."""
    try:
        raw = json.loads(sfn.describe_execution(executionArn=execution_arn).get("input") or "{}")
    except (ClientError, ValueError):
        return False
    if not isinstance(raw, dict) or raw.get("dryRun") is True:
        return False
    return connection_of(raw) == connection_id


def connection_of(raw: Any) -> str | None:
    """The connection an execution input names (connect or disconnect): its connectionId, else the
    database identifier, as the workflow defaults it. None when the input names none."""
    if not isinstance(raw, dict):
        return None
    database = raw.get("database")
    named = raw.get("connectionId", database.get("identifier") if isinstance(database, dict) else None)
    return named if isinstance(named, str) else None
