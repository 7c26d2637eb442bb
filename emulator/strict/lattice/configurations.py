"""VPC Lattice's resource configurations: the database as a resource, on a resource gateway. The operations,
as emulator.strict.lattice.api serves them, and AWS's rules for a configuration: what each type takes, the
RDS databases an ARN configuration may name, and when it may be deleted."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from emulator.strict.lattice.backends import cluster_members, database_vpc, ec2, rds_database
from emulator.strict.lattice.book import (
    BookRule,
    Configuration,
    LatticeBook,
    Transient,
    error,
    now,
    random_hex,
    require,
)
from emulator.strict.lattice.gateways import gateway_named
from emulator.strict.layer import AwsError, Call, Rule

PRIVATE_RANGES = [ipaddress.ip_network(cidr) for cidr in ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12",
                                                          "192.168.0.0/16")]


def configuration_named(book: LatticeBook, call: Call, shared: bool = False, tick: bool = False) -> Configuration:
    """The configuration the call names; with `tick`, a look that moves its status on (a deleted one goes)."""
    identifier = call.params["resourceConfigurationIdentifier"]
    found = book.configuration(call, identifier, shared)
    if found is not None and tick:
        found = book.look_at(found)
    return require(found, "resource configuration", identifier)


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
    failure = book.failing.pop(params["name"], None)
    configuration = Configuration(
        f"rcfg-{random_hex(17)}", params["name"], call.account_id, call.region, kind, gateway_id, group_id,
        list(params.get("portRanges") or default_ports), params.get("protocol", "TCP"),
        # "The default is false" (API_CreateResourceConfiguration).
        params.get("resourceConfigurationDefinition"), bool(params.get("allowAssociationToShareableServiceNetwork",
                                                                       False)),
        dict(params.get("tags") or {}), now(), params.get("customDomainName"),
        Transient("CREATE_FAILED" if failure else "ACTIVE"),  # emulator.strict.lattice.api's lifecycle delays it
        failure)
    book.configurations[configuration.id] = configuration
    if kind == "ARN":
        _endpoint_children(book, configuration)
    answer = describe(book, configuration)
    for member in ("amazonManaged", "lastUpdatedAt"):
        answer.pop(member)
    answer.pop("failureReason", None)  # not known yet: the create is in progress
    return answer


def _endpoint_children(book: LatticeBook, parent: Configuration) -> None:
    """An ARN configuration of an Aurora cluster: a CHILD for each of the cluster's endpoints, made and managed
    by AWS ("Child resource configurations are automatically managed by AWS"), which a resource endpoint
    reaches one by one (one association, one DNS name each, as AWS's describe-vpc-endpoint-associations example
    shows). Which endpoints and which fields: not documented. A user's report shows a writer and a reader child,
    each with the RDS endpoint's name as `customDomainName`; `book.child_domain_names` False takes it away (the
    pessimistic reading), and no child has a `resourceConfigurationDefinition` (not documented for children)."""
    found = rds_database(((parent.definition or {}).get("arnResource") or {}).get("arn", ""))
    if found is None or found[0] != "cluster":
        return
    cluster = found[1]
    for role, host in (("writer", cluster.endpoint), ("reader", cluster.reader_endpoint)):
        child = Configuration(
            f"rcfg-{random_hex(17)}", f"{parent.name}-{role}"[:40], parent.account, parent.region, "CHILD",
            parent.gateway_id, parent.id, [], parent.protocol, None, False, {}, parent.created_at,
            amazon_managed=True, endpoint=str(host))
        book.configurations[child.id] = child


def get(book: LatticeBook, call: Call) -> dict[str, Any]:
    return describe(book, configuration_named(book, call, shared=True, tick=True))


def delete(book: LatticeBook, call: Call) -> dict[str, Any]:
    """DELETE_IN_PROGRESS (its children with it) until the next look, or as long as the lifecycle says."""
    configuration = configuration_named(book, call)
    if configuration.state.status != "DELETE_IN_PROGRESS":
        configuration.state = Transient("DELETE_IN_PROGRESS", 0, None)
        call.context["deleting"] = True
    for share in book.shares.values():  # RAM drops a deleted resource from its shares
        if configuration.arn in share.resources:
            share.resources[configuration.arn] = Transient("DISASSOCIATED")
    return {}


def list_(book: LatticeBook, call: Call) -> dict[str, Any]:
    gateway = call.params.get("resourceGatewayIdentifier")
    gateway_id = gateway.rsplit("/", 1)[-1] if gateway else None
    group = call.params.get("resourceConfigurationGroupIdentifier")
    group_id = group.rsplit("/", 1)[-1] if group else None
    items = []
    for c in list(book.configurations.values()):
        if (c.account, c.region) != (call.account_id, call.region) or (gateway_id and c.gateway_id != gateway_id) \
                or (group_id and c.group_id != group_id) or book.look_at(c) is None:
            continue
        item: dict[str, Any] = {"id": c.id, "name": c.name, "arn": c.arn, "type": c.type,
                                "status": book.status(c).status, "amazonManaged": c.amazon_managed,
                                "createdAt": c.created_at, "lastUpdatedAt": c.created_at}
        if c.custom_domain or (c.endpoint and book.child_domain_names):
            item["customDomainName"] = c.custom_domain or c.endpoint
        if c.gateway_id:
            item["resourceGatewayId"] = c.gateway_id
        if c.group_id:
            item["resourceConfigurationGroupId"] = c.group_id
        items.append(item)
    return {"items": items}


def describe(book: LatticeBook, configuration: Configuration) -> dict[str, Any]:
    status = book.status(configuration).status
    answer: dict[str, Any] = {
        "id": configuration.id, "name": configuration.name, "arn": configuration.arn, "type": configuration.type,
        "allowAssociationToShareableServiceNetwork": configuration.allow_shareable_network,
        "protocol": configuration.protocol, "status": status, "createdAt": configuration.created_at,
        "amazonManaged": configuration.amazon_managed, "lastUpdatedAt": configuration.created_at}
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
    elif configuration.endpoint and book.child_domain_names:
        answer["customDomainName"] = configuration.endpoint
    if status == "CREATE_FAILED" and configuration.failure_reason:
        answer["failureReason"] = configuration.failure_reason
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
                elif (outside := self._outside_the_gateway_vpc(call, ip)) is not None:
                    problems.append(f"{address} is not in the resource gateway's VPC {outside}: only IP addresses "
                                    "in the VPC are supported")
        for ports in params.get("portRanges") or []:
            low, _, high = ports.partition("-")
            if not (1 <= int(low) <= int(high or low) <= 65535):
                problems.append(f"port range {ports} is not within 1-65535")
        if problems:
            raise error("ValidationException", "; ".join(problems) + ".")

    def _outside_the_gateway_vpc(self, call: Call, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        """The gateway's VPC when `ip` is in none of its CIDR blocks; None when it is (or no gateway is named)."""
        gateway = self.book.gateway(call, call.params.get("resourceGatewayIdentifier") or "")
        if gateway is None:
            return None
        vpc = ec2(gateway.account, gateway.region).vpcs.get(gateway.vpc_id)
        if vpc is None:
            return None
        blocks = [association["cidr_block"] for association in vpc.cidr_block_association_set
                  if association.get("cidr_block_state", {}).get("state") == "associated"]
        return None if any(ip in ipaddress.ip_network(block) for block in blocks) else gateway.vpc_id


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
        users += [c.id for c in self.book.children(configuration) if not c.amazon_managed]
        if users:
            raise error("ConflictException", f"Resource configuration {configuration.id} is in use by "
                                             f"{', '.join(users)}.")


class ConfigurationState(BookRule):
    """Only an ACTIVE resource configuration is shared (RAM), reached (a resource endpoint) or deleted while
    it is being created; an Amazon-managed CHILD is not deleted on its own. AWS documents the statuses
    (CREATE_IN_PROGRESS … CREATE_FAILED, `failureReason`), not what a call on a configuration in each answers:
    the emulator refuses, the stricter possibility, so the product waits for ACTIVE."""

    name = "resource-configuration-state"

    def before(self, call: Call) -> None:
        for arn in self._configurations(call):
            configuration = self.book.configuration(call, arn, shared=True)
            if configuration is None:
                continue
            status = self.book.status(configuration).status
            if call.operation == "DeleteResourceConfiguration":
                if configuration.amazon_managed:
                    raise error("ValidationException", f"Resource configuration {configuration.id} is managed by "
                                                       "Amazon: it goes with its parent.")
                if status != "CREATE_IN_PROGRESS":
                    continue
            elif status == "ACTIVE":
                continue
            code = {"ram": "InvalidParameterException", "ec2": "InvalidParameter"}.get(call.service,
                                                                                      "ConflictException")
            raise error(code, f"Resource configuration {configuration.arn} is {status}.")

    @staticmethod
    def _configurations(call: Call) -> list[str]:
        if call.service == "ram" and call.operation in ("CreateResourceShare", "AssociateResourceShare"):
            return [arn for arn in call.params.get("resourceArns") or [] if ":resourceconfiguration/" in arn]
        if call.service == "ec2" and call.operation == "CreateVpcEndpoint" and \
                call.params.get("VpcEndpointType") == "Resource":
            return [call.params.get("ResourceConfigurationArn") or ""]
        if call.service == "vpc-lattice" and call.operation == "DeleteResourceConfiguration":
            return [call.params["resourceConfigurationIdentifier"]]
        return []
