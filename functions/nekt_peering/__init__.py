"""Automates the database <-> Nekt VPC connection guide: one module per workflow stage."""
