"""End-to-end tier: the real ASL run on moto's Step Functions with the handlers in process, the real
database servers on 127.0.0.1 (one of each per worker, started when a test first asks), the CLI and the
demo over HTTP, sam local (tests/emulated.py's fixtures)."""

from tests.emulated import (
    api,
    aws,
    deploy,
    mariadb,
    nekt,
    postgres,
    postgres_tls_only,
    release_build,
    speedups,
    strict,
)

__all__ = ["api", "aws", "deploy", "mariadb", "nekt", "postgres", "postgres_tls_only", "release_build", "speedups",
           "strict"]
