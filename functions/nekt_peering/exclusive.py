"""Which connection an execution input names (a connect's or a disconnect's)."""

from __future__ import annotations

from typing import Any


def connection_of(raw: Any) -> str | None:
    """The connection an execution input names (connect or disconnect): its connectionId, else the
    database identifier, as the workflow defaults it. None when the input names none."""
    if not isinstance(raw, dict):
        return None
    database = raw.get("database")
    named = raw.get("connectionId", database.get("identifier") if isinstance(database, dict) else None)
    return named if isinstance(named, str) else None
