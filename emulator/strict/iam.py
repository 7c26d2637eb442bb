"""IAM evaluated on every call: the caller's policies from template.yaml / nekt-account/template.yaml."""

from __future__ import annotations

from emulator.strict.layer import Rule


def iam_rules() -> list[Rule]:
    return []
