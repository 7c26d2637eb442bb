"""What every stage and path shares, and nothing else: the model (inputs, settings), the shapes the stages
pass each other, the named errors, AWS sessions and clients, quotas, network ACLs, the EC2 facts, and the
compensation machinery. Imports no other package of nekt_peering."""
