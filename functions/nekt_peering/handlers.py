"""Lambda entry points, one per stage: thin adapters from the execution's data to each stage's logic.

Every handler is a function of its event (the execution's data, settings included), so
`sam local invoke -e events/<stage>.json` runs it and the execution history shows what it used.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from botocore.exceptions import ClientError

from nekt_peering import api as rest_api
from nekt_peering import dns, exclusive, ingress, peering, rollback, routes
from nekt_peering.aws import ACCESS_DENIED_CODES, client, database_session, error_code, nekt_session
from nekt_peering.discover import discover as discover_facts
from nekt_peering.errors import AccessDenied
from nekt_peering.model import ConnectRequest, DisconnectRequest, Settings, check_stage_event
from nekt_peering.preflight import plan as make_plan
from nekt_peering.verify import check_path as check_live_path
from nekt_peering.verify import verify as verify_live_state

logger = Logger(service="nekt-peering")
tracer = Tracer(service="nekt-peering")

Event = dict[str, Any]


def stage(logic: Callable[[Event], Any]) -> Callable[[Event, Any], Any]:
    """Logging with the execution id as correlation id, tracing, the event's ids and sizes checked
    before any call, and AWS refusals named AccessDenied.

    The event is never logged (log_event=False, whatever POWERTOOLS_LOGGER_LOG_EVENT says): it carries
    the settings, NektExternalId included."""

    @logger.inject_lambda_context(correlation_id_path="executionId", clear_state=True, log_event=False)
    @tracer.capture_lambda_handler(capture_response=False)
    @functools.wraps(logic)
    def handler(event: Event, context: Any) -> Any:
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


def _database_ec2(facts: Event) -> Any:
    return client(database_session(facts["database"]["region"]), "ec2")


def _nekt_ec2(facts: Event) -> Any:
    settings = Settings.from_dict(facts["settings"])
    return client(nekt_session(settings, facts["request"]["connectionId"]), "ec2")


@stage
def discover(event: Event) -> Event:
    settings = Settings.parse(event.get("settings"))
    request = ConnectRequest.parse(event.get("input"), default_region=settings.stack_region)
    if not request.dry_run:
        exclusive.ensure_only_run(client(database_session(settings.stack_region), "stepfunctions"),
                                  event["executionId"], request.connection_id)
    session = database_session(request.region)
    return discover_facts(
        request, settings, client(session, "rds"), client(session, "ec2"),
        lambda: client(nekt_session(settings, request.connection_id), "ec2"),
    )


@stage
def preflight(event: Event) -> Event:
    return make_plan(event["discovery"])


@stage
def request_peering(event: Event) -> Event:
    facts = event["discovery"]
    return peering.request_peering(_database_ec2(facts), facts, event["plan"])


@stage
def peering_status(event: Event) -> Event:
    facts = event["discovery"]
    return peering.check_status(
        _database_ec2(facts), event["peering"], event["awaiting"], Settings.from_dict(facts["settings"]).max_polls
    )


@stage
def accept_peering(event: Event) -> Event:
    facts = event["discovery"]
    return peering.accept_peering(_nekt_ec2(facts), facts, event["peering"])


@stage
def update_routes(event: Event) -> list[Event]:
    facts = event["discovery"]
    return routes.update_routes(
        _database_ec2(facts), _nekt_ec2(facts), event["plan"]["routes"], event["peering"]["peeringConnectionId"],
        allowed=routes.allowed_routes(facts),
    )


@stage
def authorize_ingress(event: Event) -> Event:
    facts = event["discovery"]
    return ingress.authorize_ingress(_database_ec2(facts), event["plan"]["ingress"], facts["request"]["connectionId"],
                                     allowed=ingress.allowed_rule(facts))


@stage
def enable_dns_resolution(event: Event) -> Event:
    facts = event["discovery"]
    return dns.enable_dns_resolution(
        _database_ec2(facts), event["peering"]["peeringConnectionId"], facts["database"]["vpcId"]
    )


@stage
def verify(event: Event) -> Event:
    facts = event["discovery"]
    if facts["mode"] != "peering":
        return verify_live_state(_database_ec2(facts), None, event)
    settings = Settings.from_dict(facts["settings"])
    session = nekt_session(settings, facts["request"]["connectionId"])
    nekt_lambda = client(session, "lambda") if settings.nekt_probe_function_arn else None
    return verify_live_state(_database_ec2(facts), client(session, "ec2"), event, nekt_lambda,
                             settings.nekt_probe_function_arn)


@stage
def check_path(event: Event) -> Event:
    """Probe: the connection's path re-checked, read only (input: the connect's database and connection id)."""
    settings = Settings.parse(event.get("settings"))
    request = ConnectRequest.parse(event.get("input"), default_region=settings.stack_region)
    session = database_session(request.region)
    nekt = functools.cache(lambda: nekt_session(settings, request.connection_id))  # one AssumeRole at most
    facts = discover_facts(request, settings, client(session, "rds"), client(session, "ec2"),
                           lambda: client(nekt(), "ec2"))
    probing = settings.nekt_probe_function_arn and facts["mode"] == "peering"
    return check_live_path(facts, client(nekt(), "lambda") if probing else None, settings.nekt_probe_function_arn)


@stage
def find_connection(event: Event) -> Event:
    """Disconnect: what the connection owns, found by its tags, for the compensations to remove."""
    settings = Settings.parse(event.get("settings"))
    request = DisconnectRequest.parse(event.get("input"), default_region=settings.stack_region)
    owned = rollback.owned_by_connection(
        client(database_session(request.region), "ec2"),
        lambda: client(nekt_session(settings, request.connection_id), "ec2"), request, settings)
    return {**owned, "input": event["input"], "executionId": event["executionId"]}


# Compensations, and the disconnect's removals: each gets the whole execution state (what failed,
# what was planned and done) and returns the rollback so far, which the next one carries on.


def _compensate(event: Event, undo: Callable[[rollback.Rollback], None]) -> Event:
    progress = rollback.Rollback(event)
    undo(progress)
    return progress.result()


@stage
def revoke_ingress(event: Event) -> Event:
    return _compensate(event, lambda progress: rollback.revoke_ingress(
        _database_ec2(event["discovery"]), event, progress))


@stage
def delete_routes(event: Event) -> Event:
    facts = event["discovery"]
    return _compensate(event, lambda progress: rollback.delete_routes(
        _database_ec2(facts), lambda: _nekt_ec2(facts), event, progress))


@stage
def restore_dns_resolution(event: Event) -> Event:
    return _compensate(event, lambda progress: rollback.restore_dns_resolution(
        _database_ec2(event["discovery"]), event, progress))


@stage
def delete_peering(event: Event) -> Event:
    return _compensate(event, lambda progress: rollback.delete_peering(
        _database_ec2(event["discovery"]), event, progress))


# Never the event: API Gateway's carries the caller's SigV4 headers, X-Amz-Security-Token included.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True,
                              log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
def api(event: Event, context: Any) -> Event:
    """The REST API (API Gateway proxy integration): routes are nekt_peering.api's."""
    return rest_api.app.resolve(event, context)
