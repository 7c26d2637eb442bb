"""FindConnectionFunction: the disconnect's first stage, what to remove (the registry's count and the
connection's tags), in the shape the compensations take."""

from __future__ import annotations

from nekt_peering.core.aws import client, database_session, nekt_session
from nekt_peering.core.model import DisconnectRequest, Settings
from nekt_peering.disconnect.plan import plan_disconnect
from nekt_peering.handlers.stage import Event, registry_dynamodb, stage
from nekt_peering.registry import store


@stage
def find_connection(event: Event) -> Event:
    settings = Settings.parse(event.get("settings"))
    request = DisconnectRequest.parse(event.get("input"), default_region=settings.stack_region)
    session = database_session(request.region)
    read_at = store.now()  # what Take the locks compares with
    plan = plan_disconnect(
        client(session, "ec2"), lambda: client(nekt_session(settings, request.connection_id), "ec2"),
        registry_dynamodb(settings), store.table_name(), request, settings)
    plan["discovery"]["readAt"] = read_at
    # The execution's state from here on (ResultPath $): with what Find needs to run again after a wait, and the
    # release the result events name.
    return {**plan, "input": event["input"], "settings": event["settings"], "executionId": event["executionId"],
            "workflow": "disconnect", **({"release": event["release"]} if "release" in event else {})}
