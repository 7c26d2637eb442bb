"""The resource-endpoint path (AWS PrivateLink for VPC resources): the database shared as a VPC resource
through a resource gateway, a resource configuration and a RAM share (`share`), reached by a resource VPC
endpoint in the Nekt VPC (`endpoint`). `discover` and `plan` are its part of Discover and Preflight, `names`
what its stages look for, `undo` its compensations. No peering, no route, overlapping CIDRs allowed."""
