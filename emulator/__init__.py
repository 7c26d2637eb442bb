"""An emulated AWS for this project: the real template, state machine and handlers on moto, with
AWS's own rules where moto is permissive (emulator.strict, docs/aws-fidelity.md).

Used by the tests and by `make demo`. Not deployed.
"""
