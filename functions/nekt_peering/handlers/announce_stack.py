"""AnnounceStackFunction: CloudFormation's custom resource that tells Nekt the stack was installed, updated or
deleted (through the default bus and ResultsToNektRule), and always answers CloudFormation."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from nekt_peering.core.aws import CLIENT_CONFIG, new_session
from nekt_peering.installation.announce import answer, failed, handle, respond

logger = Logger(service="nekt-peering")


@logger.inject_lambda_context(clear_state=True, log_event=False)
def announce_stack(event: dict[str, Any], context: Any) -> None:
    """The answer is PUT whatever went wrong before it: without one, CloudFormation waits out the custom resource's
    timeout (an hour) and the stack operation fails, a delete included."""
    try:
        events = new_session(region_name=event["StackId"].split(":")[3]).client("events", config=CLIENT_CONFIG)
        body = handle(events, event, context.log_stream_name)
    except Exception as error:  # a request this code cannot read: answer anyway, and never block a delete
        logger.exception("announcement failed")
        body = answer(event, failed(event), f"{type(error).__name__}: {error}")
    logger.info("answering CloudFormation", extra={"status": body["Status"], "reason": body["Reason"]})
    respond(event["ResponseURL"], body)
