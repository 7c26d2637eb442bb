"""ShareDatabaseFunction: the resource-endpoint path in the customer's account (gateway, configuration, share)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.core.aws import client, database_session
from nekt_peering.handlers.stage import Event, stage
from nekt_peering.resource_endpoint.share import share_database as share

if TYPE_CHECKING:
    from nekt_peering.core.shapes import SharedDatabase

@stage
def share_database(event: Event) -> SharedDatabase:
    session = database_session(event["discovery"]["database"]["region"])
    return share(client(session, "ec2"), client(session, "vpc-lattice"), client(session, "ram"), event)
