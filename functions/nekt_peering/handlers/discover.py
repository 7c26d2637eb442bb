"""DiscoverFunction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering import exclusive
from nekt_peering.aws import client, database_session, nekt_session
from nekt_peering.discover import discover as discover_facts
from nekt_peering.handlers.stage import Event, stage
from nekt_peering.model import ConnectRequest, Settings

if TYPE_CHECKING:
    from nekt_peering.shapes import Facts


@stage
def discover(event: Event) -> Facts:
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
