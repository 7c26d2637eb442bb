"""ShareDatabaseFunction, CreateResourceEndpointFunction, and the resource-endpoint path's compensations
RemoveResourceEndpointFunction and UnshareDatabaseFunction, which the connect's rollback and the disconnect
share. Each gets the whole execution state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering import resource_path, rollback
from nekt_peering.aws import client, database_session, nekt_session
from nekt_peering.handlers.stage import Event, nekt_ec2, stage
from nekt_peering.model import Settings

if TYPE_CHECKING:
    from nekt_peering.shapes import ResourceEndpointRecord, RollbackProgress, SharedDatabase


@stage
def share_database(event: Event) -> SharedDatabase:
    session = database_session(event["discovery"]["database"]["region"])
    return resource_path.share_database(client(session, "ec2"), client(session, "vpc-lattice"), client(session, "ram"),
                                        event)


@stage
def create_resource_endpoint(event: Event) -> ResourceEndpointRecord:
    facts = event["discovery"]
    session = nekt_session(Settings.from_dict(facts["settings"]), facts["request"]["connectionId"])
    return resource_path.create_resource_endpoint(client(session, "ec2"), client(session, "ram"), event)


@stage
def remove_resource_endpoint(event: Event) -> RollbackProgress:
    progress = rollback.Rollback(event)
    resource_path.remove_resource_endpoint(nekt_ec2(event["discovery"]), event, progress)
    return progress.result()


@stage
def unshare_database(event: Event) -> RollbackProgress:
    session = database_session(event["discovery"]["database"]["region"])
    progress = rollback.Rollback(event)
    resource_path.unshare_database(client(session, "ec2"), client(session, "vpc-lattice"), client(session, "ram"),
                                   event, progress)
    return progress.result()
