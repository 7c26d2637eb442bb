"""VPC Lattice's resource configurations: the database as a resource, on a resource gateway. The operations,
as emulator.strict.lattice.api serves them, and AWS's rules for a configuration: what each type takes, the
RDS databases an ARN configuration may name, and when it may be deleted."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from emulator.strict.lattice.backends import cluster_members, database_vpc, rds_database
from emulator.strict.lattice.book import BookRule, Configuration, LatticeBook, error, now, random_hex, require
from emulator.strict.lattice.gateways import gateway_named
from emulator.strict.layer import AwsError, Call, Rule

PRIVATE_RANGES = [ipaddress.ip_network(cidr) for cidr in ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12",
                                                          "192.168.0.0/16")]


def configuration_named(book: LatticeBook, call: Call, shared: bool = False) -> Configuration:
    identifier = call.params["resourceConfigurationIdentifier"]
    return require(book.configuration(call, identifier, shared), "resource configuration", identifier)


# --- the operations ----------------------------------------------------------------------------------------


def create(book: LatticeBook, call: Call) -> dict[str, Any]:
    params = call.params
    kind = params["type"]
    if kind == "CIDR":
        raise AwsError("NotEmulated", "not emulated: resource configurations of type CIDR (tunnel endpoints): "
                                      "add them to emulator/strict/lattice/configurations.py", 500)
    gateway_id = None
    if params.get("resourceGatewayIdentifier"):
        gateway_id = gateway_named(book, call).id
    group_id = None
    if params.get("resourceConfigurationGroupIdentifier"):
        identifier = params["resourceConfigurationGroupIdentifier"]
        group = require(book.configuration(call, identifier), "resource configuration", identifier)
        group_id, gateway_id = group.id, group.gateway_id
    default_ports = [] if kind == "ARN" else ["1-65535"]
    configuration = Configuration(
        f"rcfg-{random_hex(17)}", params["name"], call.account_id, call.region, kind, gateway_id, group_id,
        list(params.get("portRanges") or default_ports), params.get("protocol", "TCP"),
        # "The default is false" (API_CreateResourceConfiguration).
        params.get("resourceConfigurationDefinition"), bool(params.get("allowAssociationToShareableServiceNetwork",
                                                                       False)),
        dict(params.get("tags") or {}), now(), params.get("customDomainName"))
    book.configurations[configuration.id] = configuration
    answer = describe(configuration)
    for member in ("amazonManaged", "lastUpdatedAt"):
        answer.pop(member)
    return answer


def get(book: LatticeBook, call: Call) -> dict[str, Any]:
    return describe(configuration_named(book, call, shared=True))


def delete(book: LatticeBook, call: Call) -> dict[str, Any]:
    configuration = configuration_named(book, call)
    del book.configurations[configuration.id]
    for share in book.shares.values():  # RAM drops a deleted resource from its shares
        if configuration.arn in share.resources:
            share.resources[configuration.arn] = "DISASSOCIATED"
    return {}


def list_(book: LatticeBook, call: Call) -> dict[str, Any]:
    gateway = call.params.get("resourceGatewayIdentifier")
    gateway_id = gateway.rsplit("/", 1)[-1] if gateway else None
    items = []
    for c in book.configurations.values():
        if (c.account, c.region) != (call.account_id, call.region) or (gateway_id and c.gateway_id != gateway_id):
            continue
        item: dict[str, Any] = {"id": c.id, "name": c.name, "arn": c.arn, "type": c.type, "status": "ACTIVE",
                                "amazonManaged": False, "createdAt": c.created_at, "lastUpdatedAt": c.created_at}
        if c.gateway_id:
            item["resourceGatewayId"] = c.gateway_id
        if c.group_id:
            item["resourceConfigurationGroupId"] = c.group_id
        items.append(item)
    return {"items": items}


def describe(configuration: Configuration) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": configuration.id, "name": configuration.name, "arn": configuration.arn, "type": configuration.type,
        "allowAssociationToShareableServiceNetwork": configuration.allow_shareable_network,
        "protocol": configuration.protocol, "status": "ACTIVE", "createdAt": configuration.created_at,
        "amazonManaged": False, "lastUpdatedAt": configuration.created_at}
    if configuration.port_ranges:
        answer["portRanges"] = configuration.port_ranges
    if configuration.gateway_id:
        answer["resourceGatewayId"] = configuration.gateway_id
    if configuration.group_id:
        answer["resourceConfigurationGroupId"] = configuration.group_id
    if configuration.definition:
        answer["resourceConfigurationDefinition"] = configuration.definition
    if configuration.custom_domain:
        answer["customDomainName"] = configuration.custom_domain
    return answer


CONFIGURATION_OPERATIONS: dict[str, Callable[[LatticeBook, Call], dict[str, Any]]] = {
    "CreateResourceConfiguration": create, "GetResourceConfiguration": get, "DeleteResourceConfiguration": delete,
    "ListResourceConfigurations": list_}


# --- the rules -----------------------------------------------------------------------------------------------


class ConfigurationDefinition(BookRule):
    """What each type of resource configuration takes: SINGLE and CHILD a DNS name or an IP address,
    GROUP none (its children have them), ARN an ARN; SINGLE, GROUP and ARN a resource gateway, CHILD a
    group; port ranges for SINGLE, GROUP and CHILD only; TCP only; an IP address only from the private
    ranges."""

    name = "resource-configuration-definition"

    def before(self, call: Call) -> None:
        if call.service != "vpc-lattice" or call.operation != "CreateResourceConfiguration":
            return
        params = call.params
        kind = params["type"]
        definition = params.get("resourceConfigurationDefinition") or {}
        wanted = {"SINGLE": {"dnsResource", "ipResource"}, "CHILD": {"dnsResource", "ipResource"},
                  "ARN": {"arnResource"}, "GROUP": set()}.get(kind)
        if wanted is None:
            return
        problems = []
        if set(definition) - wanted or (wanted and not definition):
            problems.append(f"a {kind} resource configuration is defined by "
                            f"{' or '.join(sorted(wanted)) or 'no resourceConfigurationDefinition'}")
        if kind == "CHILD":
            if not params.get("resourceConfigurationGroupIdentifier") or params.get("resourceGatewayIdentifier"):
                problems.append("a CHILD resource configuration names its GROUP, not a resource gateway")
            else:
                group = self.book.configuration(call, params["resourceConfigurationGroupIdentifier"])
                if group is not None and group.type != "GROUP":
                    problems.append(f"{group.id} is a {group.type} resource configuration, not a GROUP")
        elif not params.get("resourceGatewayIdentifier"):
            problems.append(f"a {kind} resource configuration needs a resourceGatewayIdentifier")
        if kind == "ARN" and params.get("portRanges"):
            problems.append("portRanges apply to SINGLE, GROUP and CHILD resource configurations only")
        if params.get("protocol", "TCP") != "TCP":
            problems.append("only the TCP protocol is supported")
        address = (definition.get("ipResource") or {}).get("ipAddress")
        if address is not None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                problems.append(f"{address} is not an IP address")
            else:
                if ip.version == 4 and not any(ip in network for network in PRIVATE_RANGES):
                    problems.append(f"{address} is not in 10.0.0.0/8, 100.64.0.0/10, 172.16.0.0/12 or "
                                    "192.168.0.0/16: public IP addresses aren't supported")
        for ports in params.get("portRanges") or []:
            low, _, high = ports.partition("-")
            if not (1 <= int(low) <= int(high or low) <= 65535):
                problems.append(f"port range {ports} is not within 1-65535")
        if problems:
            raise error("ValidationException", "; ".join(problems) + ".")


def _arn_of(call: Call) -> str | None:
    """The ARN a CreateResourceConfiguration of type ARN names."""
    if call.service != "vpc-lattice" or call.operation != "CreateResourceConfiguration" or call.params["type"] != "ARN":
        return None
    arn = ((call.params.get("resourceConfigurationDefinition") or {}).get("arnResource") or {}).get("arn")
    return str(arn) if arn else None


class ArnResource(BookRule):
    """An ARN resource configuration: "The only supported ARN-based resources are Amazon RDS resources";
    the database exists in the caller's account and Region, in the resource gateway's VPC."""

    name = "arn-resource-rds"

    def before(self, call: Call) -> None:
        arn = _arn_of(call)
        if arn is None:
            return
        parts = arn.split(":")
        if len(parts) < 6 or parts[2] != "rds":
            raise error("ValidationException", f"{arn}: the only supported ARN-based resources are Amazon RDS "
                                               "resources.")
        if (parts[3], parts[4]) != (call.region, call.account_id):
            raise error("ValidationException", f"{arn} is not in this account and Region ({call.account_id}, "
                                               f"{call.region}).")
        found = require(rds_database(arn), "arn resource", arn)
        gateway = self.book.gateway(call, call.params.get("resourceGatewayIdentifier") or "")
        vpc_id = database_vpc(*found)
        if gateway is not None and vpc_id is not None and vpc_id != gateway.vpc_id:
            raise error("ValidationException", f"{arn} is in {vpc_id}, not in the resource gateway's VPC "
                                               f"{gateway.vpc_id}.")


class ArnResourceNotPublic(Rule):
    """"You can't create a resource configuration for a publicly accessible cluster." A cluster is publicly
    accessible when it, or any of its instances, is."""

    name = "arn-resource-not-public"

    def before(self, call: Call) -> None:
        arn = _arn_of(call)
        found = rds_database(arn) if arn else None
        if found is None or found[0] != "cluster":
            return
        cluster = found[1]
        public = [cluster.db_cluster_identifier] if getattr(cluster, "publicly_accessible", False) else []
        public += [db.db_instance_identifier for db in cluster_members(cluster) if db.publicly_accessible]
        if public:
            raise error("ValidationException", f"{arn} is publicly accessible ({', '.join(public)}): a resource "
                                               "configuration can't be created for a publicly accessible cluster.")


class ArnResourceClusterOnly(Rule):
    """An ARN resource configuration for an RDS DB *instance*: AWS documents ARN configurations with an
    Aurora / RDS cluster ARN and says nothing of an instance's. Not documented either way, so the emulator
    refuses it: the product then shares an instance by its endpoint (a SINGLE configuration with a
    dnsResource), which is documented to work. Relax it to accept an instance ARN."""

    name = "arn-resource-cluster-only"

    def before(self, call: Call) -> None:
        arn = _arn_of(call)
        found = rds_database(arn) if arn else None
        if found is not None and found[0] == "db":
            raise error("ValidationException", f"{arn} is an RDS DB instance: the emulator accepts an RDS cluster "
                                               "ARN only (docs/aws-fidelity.md).")


class ConfigurationInUse(BookRule):
    """A resource configuration with a live resource endpoint, or a GROUP with children, is not deleted
    (ConflictException). Not documented: the stricter possibility, so the product deletes in reverse."""

    name = "resource-configuration-in-use"

    def before(self, call: Call) -> None:
        if call.service != "vpc-lattice" or call.operation != "DeleteResourceConfiguration":
            return
        configuration = self.book.configuration(call, call.params["resourceConfigurationIdentifier"])
        if configuration is None:
            return
        users = [e.id for e in self.book.live_endpoints(configuration.arn)]
        users += [c.id for c in self.book.configurations.values() if c.group_id == configuration.id]
        if users:
            raise error("ConflictException", f"Resource configuration {configuration.id} is in use by "
                                             f"{', '.join(users)}.")
