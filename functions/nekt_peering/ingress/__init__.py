"""The security-group stage the public and peering paths end with: the database's security group admits Nekt
(its public IP, or the Nekt VPC's CIDR). `authorize` plans and makes the rule; `revoke` is its compensation."""
