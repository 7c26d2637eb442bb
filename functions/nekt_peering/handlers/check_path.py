"""CheckPathFunction: the check-path machine's one stage, a connection's path re-checked read-only, and its
health recorded in the registry."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from nekt_peering.connect.discover import discover as discover_facts
from nekt_peering.connect.drift import compare_with_record, drift_of
from nekt_peering.connect.path_choice import connected_path
from nekt_peering.connect.verify import check_path as check_live_path
from nekt_peering.core.aws import any_client, client, database_session, nekt_session
from nekt_peering.core.errors import AccessDenied, ConnectError, ConnectionBusy, InvalidInput, InvalidSettings
from nekt_peering.core.model import ConnectRequest, Settings
from nekt_peering.handlers.stage import Event, registry_dynamodb, stage
from nekt_peering.registry import bookkeeping, store

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from nekt_peering.core.shapes import Reachable

# What says nothing about the connection's path: the request, the stack, this role, another run.
NOT_DRIFT = (InvalidInput, InvalidSettings, AccessDenied, ConnectionBusy)


@stage
def check_path(event: Event) -> dict[str, Any]:
    """Input: the connect's database and connection id. The check's facts (`result`), or the named error it
    failed with (`error`, which the machine fails with) and what drifted; `healthEvent` when the connection's
    health changed."""
    settings = Settings.parse(event.get("settings"))
    request = ConnectRequest.parse(event.get("input"), default_region=settings.stack_region)
    registry = registry_dynamodb(settings)
    try:
        result: Reachable | None = _check(settings, request, registry)
        problem = None
    except NOT_DRIFT:
        raise
    except ConnectError as error:
        result, problem = None, {"error": type(error).__name__, "cause": str(error), "drift": drift_of(error)}
    health_event = bookkeeping.record_health(registry, store.table_name(), request.connection_id, problem)
    return {"result": result, "error": {"Error": problem["error"], "Cause": problem["cause"]} if problem else None,
            "healthEvent": health_event}


def _check(settings: Settings, request: ConnectRequest, registry: DynamoDBClient) -> Reachable:
    session = database_session(request.region)
    nekt = functools.cache(lambda: nekt_session(settings, request.connection_id))  # one AssumeRole at most
    database_ec2 = client(session, "ec2")
    connection = store.get_connection(registry, store.table_name(), request.connection_id)
    facts = discover_facts(request, settings, client(session, "rds"), database_ec2, lambda: client(nekt(), "ec2"),
                           lattice_factory=lambda: client(session, "vpc-lattice"), connected=connected_path(connection),
                           database_client=any_client(session))
    compare_with_record(connection, facts, database_ec2)
    probing = settings.nekt_probe_function_arn and facts["mode"] != "public"
    resource_path = facts["mode"] == "resource-endpoint"
    return check_live_path(facts, client(nekt(), "lambda") if probing else None, settings.nekt_probe_function_arn,
                           database_ec2 if resource_path else None, client(nekt(), "ec2") if resource_path else None)
