"""DiscoverFunction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from nekt_peering.connect.discover import discover as discover_facts
from nekt_peering.connect.path_choice import connected_path, gone_peering, refuse_moved
from nekt_peering.core.aws import any_client, client, database_session, nekt_session
from nekt_peering.core.model import ConnectRequest, Settings
from nekt_peering.handlers.stage import Event, registry_dynamodb, stage
from nekt_peering.registry import store

if TYPE_CHECKING:
    from nekt_peering.core.shapes import Facts


@stage
def discover(event: Event) -> Facts:
    settings = Settings.parse(event.get("settings"))
    request = ConnectRequest.parse(event.get("input"), default_region=settings.stack_region)
    session = database_session(request.region)
    read_at = datetime.now(UTC).isoformat(timespec="microseconds")  # what Take the locks compares with
    connection = store.get_connection(registry_dynamodb(settings), store.table_name(), request.connection_id)
    facts = discover_facts(
        request, settings, client(session, "rds"), client(session, "ec2"),
        lambda: client(nekt_session(settings, request.connection_id), "ec2"),
        lambda side: client(session if side == "database" else nekt_session(settings, request.connection_id),
                            "service-quotas"),
        lambda: client(session, "vpc-lattice"),
        connected_path(connection),
        database_client=any_client(session),
    )
    refuse_moved(connection, facts)
    gone = gone_peering(connection, facts)
    if gone is not None:
        facts["gonePeering"] = gone
    facts["readAt"] = read_at
    return facts
