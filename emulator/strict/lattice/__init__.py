"""A database shared as a VPC resource (AWS PrivateLink for VPC resources), as AWS runs it.

moto 5.2.5 answers VPC Lattice's CreateResourceGateway and CreateResourceConfiguration "not yet
implemented", its RAM refuses to share a resource configuration and knows no invitations, and its
CreateVpcEndpoint ignores ResourceConfigurationArn, answers `available` at once and gives no DNS
name. The rules here serve what moto lacks and hold all of it to AWS's documented rules
(docs/aws-fidelity.md, "PrivateLink for VPC resources"):

- the provider (database) account makes a resource gateway in the database's VPC and a resource
  configuration for the database on it (vpc-lattice);
- it shares the configuration with the consumer (Nekt) account in a RAM resource share; outside an
  Organization with RAM sharing enabled the consumer gets an invitation, which it accepts;
- the consumer makes a resource VPC endpoint (ec2 CreateVpcEndpoint, VpcEndpointType=Resource) for
  the configuration in its own VPC; the endpoint gives the DNS name to connect to.

Each account sees its own things in its own Region. Time is counted in calls that could show a
thing (a "tick", as for peerings): `Timing` says how many each transient status lasts.

The modules, each importing only those above it:

- book: what the rules know (`LatticeBook`), its records and their statuses, the lookups as the caller
  sees them, and AWS's not-found errors (`require`);
- backends: what the rules read of moto's EC2 and RDS (subnets, free addresses, databases);
- gateways, configurations: VPC Lattice's resource gateways and resource configurations, their operations
  and rules;
- api: the VPC Lattice API as one rule serving those operations, names, and the lifecycle of gateways and
  endpoints;
- ram: RAM's shares of a resource configuration and their invitations;
- endpoints: the consumer's resource VPC endpoint and its rules;
- dataplane: where an endpoint's DNS name leads, for the probe (emulator/network.py).
"""

from __future__ import annotations

from emulator.strict.lattice import dataplane
from emulator.strict.lattice.api import LatticeApi, LatticeLifecycle, UniqueNames
from emulator.strict.lattice.book import LatticeBook, Timing
from emulator.strict.lattice.configurations import (
    ArnResource,
    ArnResourceClusterOnly,
    ArnResourceNotPublic,
    ConfigurationDefinition,
    ConfigurationInUse,
    ConfigurationState,
)
from emulator.strict.lattice.endpoints import (
    EndpointAddresses,
    EndpointConfiguration,
    EndpointPrivateDns,
    EndpointQuota,
    EndpointSubnets,
    EndpointZones,
    ResourceEndpoints,
)
from emulator.strict.lattice.gateways import (
    GatewayAddresses,
    GatewayInUse,
    GatewayQuota,
    GatewayState,
    GatewaySubnets,
    LatticeZones,
)
from emulator.strict.lattice.ram import RamShareable, RamShares
from emulator.strict.layer import Rule

__all__ = ["LatticeBook", "Timing", "lattice_rules"]


def lattice_rules(book: LatticeBook | None = None) -> list[Rule]:
    """Checks first, then the rules that serve or complete the answer, then the lifecycle."""
    book = book or LatticeBook()
    dataplane.INSTALLED[:] = [book]
    return [
        GatewaySubnets(), LatticeZones(), GatewayAddresses(book), GatewayQuota(book), UniqueNames(book),
        GatewayState(book), GatewayInUse(book), ConfigurationDefinition(book), ArnResource(book),
        ArnResourceNotPublic(), ArnResourceClusterOnly(), ConfigurationInUse(book), RamShareable(book),
        EndpointConfiguration(book), EndpointSubnets(), EndpointZones(book), EndpointAddresses(book),
        EndpointPrivateDns(book), EndpointQuota(book), ConfigurationState(book), LatticeApi(book), RamShares(book),
        ResourceEndpoints(book), LatticeLifecycle(book)]
