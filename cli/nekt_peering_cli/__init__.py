"""`nekt-peering`: connect, plan, follow, list and disconnect the connections of a deployed stack."""
