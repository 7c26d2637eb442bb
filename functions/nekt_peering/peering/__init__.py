"""The peering path: the database VPC peered with the Nekt VPC (`plan`, `request`: request and accept),
routes on both sides (`routes`), the peering's DNS option when needed (`dns`), then the ingress stage;
`undo` holds its compensations."""
