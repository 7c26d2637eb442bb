"""PreflightFunction: makes no AWS call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nekt_peering.handlers.stage import Event, stage
from nekt_peering.preflight import plan as make_plan

if TYPE_CHECKING:
    from nekt_peering.shapes import Plan


@stage
def preflight(event: Event) -> Plan:
    return make_plan(event["discovery"])
