"""AWS's rules where moto is permissive (docs/aws-fidelity.md): the machinery that runs them on every call
(emulator.strict.layer, whose names this package re-exports), and the rules themselves, one module or package
per part of AWS, all in order in emulator.strict.rules. emulator.aws installs them over moto."""

from emulator.strict.layer import AwsError, Call, Principal, Rule, StrictAws, acting_as

__all__ = ["AwsError", "Call", "Principal", "Rule", "StrictAws", "acting_as"]
