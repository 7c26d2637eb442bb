"""A VPC peering's life as AWS leads it: statuses and their timing, who may accept or delete it when,
and the routes that point at it."""

from __future__ import annotations

from emulator.strict.layer import Rule


def peering_rules() -> list[Rule]:
    return []
