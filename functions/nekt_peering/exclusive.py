"""One connect per connection at a time.

Step Functions keeps finished execution names for 90 days, so a fixed name per connection
would forbid connecting again after a failure or a disconnect. Instead, each execution
looks at the running ones of its own state machine: if an older one is connecting the same
connection, it stops before changing anything. Two racing starts both see each other and
the older one (start time, then ARN) goes on. ListExecutions may not show an execution that has
just started, so an execution lists again (a few times, briefly) until it sees itself: then the
older ones are listed too.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from nekt_peering.aws import error_code
from nekt_peering.errors import ConnectionBusy

logger = logging.getLogger(__name__)


def state_machine_arn(execution_arn: str) -> str:
    """arn:aws:states:r:a:execution:Machine:name -> arn:aws:states:r:a:stateMachine:Machine."""
    parts = execution_arn.split(":")
    return ":".join(parts[:5] + ["stateMachine", parts[6]])


# ListExecutions is eventually consistent: an execution that has just started may be missing from it for a
# moment. How often, and how long, an execution that Step Functions says is running looks for itself.
RELIST_DELAYS_SECONDS = (0.1, 0.2, 0.4, 0.8, 1.6)


def ensure_only_run(sfn: Any, execution_arn: str, connection_id: str, sleep: Callable[[float], None] = time.sleep
                    ) -> None:
    running = _running(sfn, execution_arn)
    mine = _find(running, execution_arn)
    if mine is None:
        if not _is_running(sfn, execution_arn):  # not started by Step Functions (a sam local invoke)
            return
        for delay in RELIST_DELAYS_SECONDS:  # not listed yet: an older run of the connection may not be either
            sleep(delay)
            running = _running(sfn, execution_arn)
            if (mine := _find(running, execution_arn)) is not None:
                break
        else:
            logger.warning("%s is still not listed after %d listings: compared with those listed",
                           execution_arn, len(RELIST_DELAYS_SECONDS) + 1)
            described = sfn.describe_execution(executionArn=execution_arn)
            mine = {"executionArn": execution_arn, "startDate": described["startDate"]}
            running.append(mine)
    for other in sorted(running, key=lambda execution: (execution["startDate"], execution["executionArn"])):
        if other is mine:
            return
        if _connects(sfn, other["executionArn"], connection_id):
            raise ConnectionBusy(
                f"connection {connection_id} is already being connected by {other['executionArn']} "
                f"(started {other['startDate']}). Nothing was changed: follow that execution, and start again "
                "once it has finished if it fails"
            )


def _running(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    return [
        execution
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=state_machine_arn(execution_arn), statusFilter="RUNNING")
        for execution in page["executions"]
    ]


def _find(executions: list[dict[str, Any]], execution_arn: str) -> dict[str, Any] | None:
    return next((execution for execution in executions if execution["executionArn"] == execution_arn), None)


def _is_running(sfn: Any, execution_arn: str) -> bool:
    """DescribeExecution, unlike ListExecutions, knows an execution as soon as it has started."""
    try:
        return bool(sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING")
    except ClientError as error:
        if error_code(error) in ("ExecutionDoesNotExist", "InvalidArn"):
            return False
        raise


def _connects(sfn: Any, execution_arn: str, connection_id: str) -> bool:
    """Whether a running execution changes the same connection (a dry run changes nothing)."""
    try:
        raw = json.loads(sfn.describe_execution(executionArn=execution_arn).get("input") or "{}")
    except ClientError as error:
        if error_code(error) == "ExecutionDoesNotExist":
            return False
        raise  # a refused describe must not pass for "not busy"
    except ValueError:
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
