"""RevokeIngressFunction: compensation of Authorize ingress (the connect's rollback and the disconnect).

Each compensation gets the whole execution state (what failed, what was planned and done) and returns the
rollback so far, which the next one carries on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.handlers.stage import Event, compensate, database_ec2, stage
from nekt_peering.ingress.revoke import revoke_ingress as revoke

if TYPE_CHECKING:
    from nekt_peering.core.shapes import RollbackProgress

@stage
def revoke_ingress(event: Event) -> RollbackProgress:
    return compensate(event, lambda progress: revoke(database_ec2(event["discovery"]), event, progress))
