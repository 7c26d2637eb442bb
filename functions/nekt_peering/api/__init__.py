"""The REST API (`app`, Powertools' REST resolver) and what it and the CLI know of connections
(`connections`: the registry and the executions)."""
