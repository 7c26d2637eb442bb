"""UnshareDatabaseFunction: compensation of Share the database.

Each compensation gets the whole execution state (what failed, what was planned and done) and returns the
rollback so far, which the next one carries on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.core.aws import client, database_session
from nekt_peering.handlers.stage import Event, compensate, stage
from nekt_peering.resource_endpoint.undo import unshare_database as unshare

if TYPE_CHECKING:
    from nekt_peering.core.shapes import RollbackProgress

@stage
def unshare_database(event: Event) -> RollbackProgress:
    session = database_session(event["discovery"]["database"]["region"])
    return compensate(event, lambda progress: unshare(
        client(session, "ec2"), client(session, "vpc-lattice"), client(session, "ram"), event, progress))
