"""PreflightFunction: makes no AWS call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.connect.preflight import plan as make_plan
from nekt_peering.handlers.stage import Event, stage

if TYPE_CHECKING:
    from nekt_peering.core.shapes import Plan


@stage
def preflight(event: Event) -> Plan:
    return make_plan(event["discovery"])
