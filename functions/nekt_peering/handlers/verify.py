"""VerifyFunction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.connect.verify import verify as verify_live_state
from nekt_peering.core.aws import client, nekt_session
from nekt_peering.core.model import Settings
from nekt_peering.handlers.stage import Event, database_ec2, stage

if TYPE_CHECKING:
    from nekt_peering.core.shapes import Connected


@stage
def verify(event: Event) -> Connected:
    """With peering or a resource endpoint, one session into the Nekt account serves both its EC2 reads and the
    probe's invocation."""
    facts = event["discovery"]
    if facts["mode"] == "public":
        return verify_live_state(database_ec2(facts), None, event)
    settings = Settings.from_dict(facts["settings"])
    session = nekt_session(settings, facts["request"]["connectionId"])
    nekt_lambda = client(session, "lambda") if settings.nekt_probe_function_arn else None
    return verify_live_state(database_ec2(facts), client(session, "ec2"), event, nekt_lambda,
                             settings.nekt_probe_function_arn)
