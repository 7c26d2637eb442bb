"""PreflightFunction: makes no AWS call."""

from __future__ import annotations

from nekt_peering.handlers.stage import Event, stage
from nekt_peering.preflight import plan as make_plan


@stage
def preflight(event: Event) -> Event:
    return make_plan(event["discovery"])
