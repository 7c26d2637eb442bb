"""AWS's rules where moto is permissive: see emulator.strict.layer and docs/aws-fidelity.md."""

from emulator.strict.layer import AwsError, Call, Principal, Rule, StrictAws, acting_as

__all__ = ["AwsError", "Call", "Principal", "Rule", "StrictAws", "acting_as"]
