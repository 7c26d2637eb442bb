"""The public path, for a database reachable from the internet: its security group admits Nekt's public IP
(the ingress stage). No peering, no route."""
