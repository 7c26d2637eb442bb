"""The strict layer's rules, in the order they apply to a call: who may make it (IAM), then what it
may do (the peering's lifecycle, then the rest of the network)."""

from __future__ import annotations

from emulator.strict.layer import Rule


def all_rules() -> list[Rule]:
    from emulator.strict.iam import iam_rules
    from emulator.strict.network import network_rules
    from emulator.strict.peerings import peering_rules

    return [*iam_rules(), *peering_rules(), *network_rules()]
