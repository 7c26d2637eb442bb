"""Integration tier: the handlers and the strict emulator on moto (tests/emulated.py's fixtures), the
template deployed, no state machine run, no database server."""

from tests.emulated import api, aws, deploy, nekt, release_build, speedups, strict

__all__ = ["api", "aws", "deploy", "nekt", "release_build", "speedups", "strict"]
