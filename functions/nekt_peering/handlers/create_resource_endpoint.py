"""CreateResourceEndpointFunction: the resource-endpoint path in the Nekt account."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.core.aws import client, nekt_session
from nekt_peering.core.model import Settings
from nekt_peering.handlers.stage import Event, stage
from nekt_peering.resource_endpoint.endpoint import create_resource_endpoint as create

if TYPE_CHECKING:
    from nekt_peering.core.shapes import ResourceEndpointRecord

@stage
def create_resource_endpoint(event: Event) -> ResourceEndpointRecord:
    facts = event["discovery"]
    session = nekt_session(Settings.from_dict(facts["settings"]), facts["request"]["connectionId"])
    return create(client(session, "ec2"), client(session, "ram"), event)
