"""CheckPathFunction: the check-path machine's one stage, a connection's path re-checked read-only."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from nekt_peering.connect.discover import discover as discover_facts
from nekt_peering.connect.path_choice import connected_path
from nekt_peering.connect.verify import check_path as check_live_path
from nekt_peering.core.aws import any_client, client, database_session, nekt_session
from nekt_peering.core.model import ConnectRequest, Settings
from nekt_peering.handlers.stage import Event, registry_dynamodb, stage
from nekt_peering.registry import store

if TYPE_CHECKING:
    from nekt_peering.core.shapes import Reachable


@stage
def check_path(event: Event) -> Reachable:
    """Input: the connect's database and connection id."""
    settings = Settings.parse(event.get("settings"))
    request = ConnectRequest.parse(event.get("input"), default_region=settings.stack_region)
    session = database_session(request.region)
    nekt = functools.cache(lambda: nekt_session(settings, request.connection_id))  # one AssumeRole at most
    database_ec2 = client(session, "ec2")
    connection = store.get_connection(registry_dynamodb(settings), store.table_name(), request.connection_id)
    facts = discover_facts(request, settings, client(session, "rds"), database_ec2, lambda: client(nekt(), "ec2"),
                           lattice_factory=lambda: client(session, "vpc-lattice"), connected=connected_path(connection),
                           database_client=any_client(session))
    probing = settings.nekt_probe_function_arn and facts["mode"] != "public"
    resource_path = facts["mode"] == "resource-endpoint"
    return check_live_path(facts, client(nekt(), "lambda") if probing else None, settings.nekt_probe_function_arn,
                           database_ec2 if resource_path else None, client(nekt(), "ec2") if resource_path else None)
