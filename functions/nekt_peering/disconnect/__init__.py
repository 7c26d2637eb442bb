"""The disconnect workflow's own logic: what to remove (`plan`: the registry's count and the connection's tags),
and whether what the other connections rely on is still in place afterwards (`others_intact`). The removal
itself is the paths' compensations."""
