"""The strict layer's rules, in the order they apply to a call: who may make it (IAM), then what it
may do (the peering's lifecycle, the rest of the network, then a database shared as a VPC resource, whose
rules also serve what moto does not implement)."""

from __future__ import annotations

from emulator.strict.events import event_rules
from emulator.strict.hosted_zones import hosted_zone_rules
from emulator.strict.iam import iam_rules
from emulator.strict.lattice import LatticeBook, lattice_rules
from emulator.strict.layer import Rule
from emulator.strict.network import network_rules
from emulator.strict.peerings import peering_rules
from emulator.strict.redshift import redshift_rules
from emulator.strict.serverless import serverless_rules


def all_rules() -> list[Rule]:
    # What the lattice rules serve: IAM reads their ARNs and tags, the network the security groups they use.
    lattice = LatticeBook()
    return [*iam_rules(lattice), *peering_rules(), *network_rules(lattice), *lattice_rules(lattice),
            *serverless_rules(), *redshift_rules(), *hosted_zone_rules(), *event_rules()]
