"""The rest of the network as AWS keeps it: peering options, tags per account, shared VPCs, quotas,
and what is briefly invisible after it is made."""

from __future__ import annotations

from emulator.strict.layer import Rule


def network_rules() -> list[Rule]:
    return []
