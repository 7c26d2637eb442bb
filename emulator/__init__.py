"""An emulated AWS for this project: the real template, state machine and handlers on moto.

Used by the tests and by `make demo`. Not deployed.
"""
