"""What every stage handler shares: the Powertools logger, the stage-event check, AWS refusals named
AccessDenied, and the EC2 clients of both accounts built from the discovered facts."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from nekt_peering.core.aws import ACCESS_DENIED_CODES, client, database_session, error_code, nekt_session
from nekt_peering.core.compensation import Rollback
from nekt_peering.core.errors import AccessDenied
from nekt_peering.core.model import Settings, check_stage_event

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client

    from nekt_peering.core.shapes import RollbackProgress

logger = Logger(service="nekt-peering")

Event = dict[str, Any]
Result = TypeVar("Result")


def stage(logic: Callable[[Event], Result]) -> Callable[[Event, Any], Result]:
    """Logging with the execution id as correlation id, the event's ids and sizes checked before any
    call, and AWS refusals named AccessDenied.

    The event is never logged (log_event=False, whatever POWERTOOLS_LOGGER_LOG_EVENT says): it carries
    the settings, NektExternalId included. Tracing is Lambda's own (template.yaml: Tracing: Active),
    not the X-Ray SDK, which would cost each cold start about as much as boto3."""

    @logger.inject_lambda_context(correlation_id_path="executionId", clear_state=True, log_event=False)
    @functools.wraps(logic)
    def handler(event: Event, context: Any) -> Result:
        check_stage_event(event)
        try:
            return logic(event)
        except ClientError as error:
            if error_code(error) not in ACCESS_DENIED_CODES:
                raise
            operation = error.operation_name
            raise AccessDenied(
                f"AWS refused {operation}: {error.response['Error'].get('Message', '')}. Grant {operation} to "
                "the role that made the call (this stack's function role, or the accepter role in the Nekt "
                "account), then run again"
            ) from None

    return handler


def registry_dynamodb(settings: Settings) -> DynamoDBClient:
    """DynamoDB where the registry table is: the stack's account and Region."""
    return client(database_session(settings.stack_region), "dynamodb")


def database_ec2(facts: Event) -> EC2Client:
    return client(database_session(facts["database"]["region"]), "ec2")


def nekt_ec2(facts: Event) -> EC2Client:
    settings = Settings.from_dict(facts["settings"])
    return client(nekt_session(settings, facts["request"]["connectionId"]), "ec2")


def compensate(event: Event, undo: Callable[[Rollback], None]) -> RollbackProgress:
    """Run one compensation step over the rollback so far (the execution's `rollback`), and say how far it got."""
    progress = Rollback(event)
    undo(progress)
    return progress.result()
