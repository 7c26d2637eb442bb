"""The consumer's resource VPC endpoint (ec2 CreateVpcEndpoint, VpcEndpointType=Resource) for a resource
configuration it owns or was shared: moto makes the endpoint and ignores the rest; the rule here keeps what
AWS adds (the configuration, DNS names, addresses, lifecycle) and AWS's rules for where an endpoint may go."""

from __future__ import annotations

import fnmatch
import functools
from typing import Any

from emulator.strict.lattice.backends import database_address, ec2, free_block, rds_database, subnet_of
from emulator.strict.lattice.book import (
    BookRule,
    Configuration,
    Endpoint,
    LatticeBook,
    Transient,
    random_hex,
    require,
)
from emulator.strict.layer import AwsError, Call, Rule, Served
from emulator.strict.shapes import check_output

ENDPOINT_BLOCK = 16  # addresses a resource endpoint takes in each subnet (docs/aws-fidelity.md: not AWS's pages)


def candidate(call: Call, endpoint_id: str = "") -> Endpoint:
    """The resource endpoint a CreateVpcEndpoint asks for, as the book keeps it (names given once it is made)."""
    options = call.params.get("DnsOptions") or {}
    return Endpoint(endpoint_id, call.account_id, call.region, call.params.get("VpcId", ""),
                    call.params.get("ResourceConfigurationArn") or "", list(call.params.get("SubnetIds") or []), "",
                    "", bool(call.params.get("PrivateDnsEnabled", False)),  # false unless asked (CLI reference)
                    "", dns_preference=options.get("PrivateDnsPreference", "VERIFIED_DOMAINS_ONLY"),
                    specified_domains=list(options.get("PrivateDnsSpecifiedDomains") or []))


def creating_endpoint(call: Call) -> bool:
    return call.service == "ec2" and call.operation == "CreateVpcEndpoint" and \
        call.params.get("VpcEndpointType") == "Resource"


class ResourceEndpoints(BookRule):
    """CreateVpcEndpoint with VpcEndpointType=Resource: moto makes the endpoint (so describe, delete and
    tags work) but ignores the configuration. This keeps what AWS adds: the configuration's ARN, the
    default DNS name (`<endpoint>.<rcfg>.<hash>.vpc-lattice-rsc.<region>.on.aws`) and, for an ARN
    configuration with private DNS, the database's own name; the VPC's default security group when none
    is given; the addresses it takes in its subnets; Deleting/Deleted after a delete. It serves
    DescribeVpcEndpointAssociations (moto: not implemented), where AWS documents the DNS entries."""

    name = "resource-endpoints"

    def before(self, call: Call) -> None:
        if call.service != "ec2":
            return
        if call.operation in ("DescribeVpcEndpoints", "DescribeVpcEndpointAssociations"):
            asked = call.params.get("VpcEndpointIds")
            for endpoint in self.book.endpoints.values():
                if (endpoint.account, endpoint.region) == (call.account_id, call.region) and (
                        not asked or endpoint.id in asked):
                    endpoint.state.tick()
        if call.operation == "DescribeVpcEndpointAssociations":
            raise Served(self._associations(call))
        if call.operation == "DeleteVpcEndpoints":
            deleting = []
            for endpoint_id in call.params.get("VpcEndpointIds", []):
                deleted = self.book.endpoints.get(endpoint_id)
                if deleted is not None and (deleted.account, deleted.region) == (call.account_id, call.region) \
                        and deleted.state.status not in ("Deleting", "Deleted"):
                    deleted.state = Transient("Deleting", 0, "Deleted")
                    self._release(deleted)
                    deleting.append(endpoint_id)
            call.context["deleting"] = deleting

    def after(self, call: Call, response: dict[str, Any]) -> None:
        if call.service != "ec2":
            return
        if creating_endpoint(call):
            self._created(call, response["VpcEndpoint"])
        elif call.operation == "DescribeVpcEndpoints":
            completed = []
            for answer in response.get("VpcEndpoints", []):
                endpoint = self.book.endpoints.get(answer["VpcEndpointId"])
                if endpoint is not None:
                    self._show(endpoint, answer)
                    completed.append(answer)
            check_answer(call, {"VpcEndpoints": completed})  # moto's own answers for other types are moto's
        elif call.operation == "DescribeSubnets":
            for subnet in response.get("Subnets", []):
                taken = sum(len(block) for block in self.book.addresses.get(subnet["SubnetId"], {}).values())
                if taken and "AvailableIpAddressCount" in subnet:
                    subnet["AvailableIpAddressCount"] = max(0, subnet["AvailableIpAddressCount"] - taken)

    def _created(self, call: Call, answer: dict[str, Any]) -> None:
        configuration_arn = call.params.get("ResourceConfigurationArn") or ""
        configuration_id = configuration_arn.rsplit("/", 1)[-1]
        endpoint_id = answer["VpcEndpointId"]
        backend = ec2(call.account_id, call.region)
        vpc = backend.vpcs[call.params["VpcId"]]
        endpoint = candidate(call, endpoint_id)
        endpoint.dns_name = f"{endpoint_id}.{configuration_id}.{random_hex(7)}.vpc-lattice-rsc.{call.region}.on.aws"
        endpoint.hosted_zone_id = "Z" + random_hex(20).upper()
        endpoint.association_id = f"vpce-rsc-asc-{random_hex(17)}"
        self.book.endpoints[endpoint_id] = endpoint
        for subnet_id in endpoint.subnet_ids:
            block = free_block(call.account_id, call.region, subnet_id, self.book, ENDPOINT_BLOCK)
            if block is not None:
                self.book.addresses.setdefault(subnet_id, {})[endpoint_id] = block
        made = backend.vpc_end_points[endpoint_id]
        groups = list(call.params.get("SecurityGroupIds") or [])
        if not groups:
            default = backend.get_default_security_group(vpc.id)
            groups = [default.id] if default is not None else []
        made.security_group_ids = groups
        self._show(endpoint, answer)
        check_answer(call, {"VpcEndpoint": answer})

    def _show(self, endpoint: Endpoint, answer: dict[str, Any]) -> None:
        backend = ec2(endpoint.account, endpoint.region)
        made = backend.vpc_end_points.get(endpoint.id)
        groups = getattr(made, "security_group_ids", None) or []
        for member in ("PolicyDocument", "RouteTableIds", "ServiceName", "RequesterManaged"):
            answer.pop(member, None)
        answer.update({
            "VpcEndpointType": "Resource", "State": endpoint.state.status, "IpAddressType": "ipv4",
            "ResourceConfigurationArn": endpoint.configuration_arn, "PrivateDnsEnabled": endpoint.private_dns,
            "Groups": [{"GroupId": g, "GroupName": _group_name(backend, g)} for g in groups],
            "NetworkInterfaceIds": [],
        })
        if endpoint.private_dns:
            answer["DnsOptions"] = {**answer.get("DnsOptions", {}), "PrivateDnsPreference": endpoint.dns_preference,
                                    "PrivateDnsSpecifiedDomains": endpoint.specified_domains}
        # botocore's model documents DnsEntries for interface endpoints only: a resource endpoint's names are
        # on its associations. The pessimistic reading: absent here.
        answer.pop("DnsEntries", None)

    def _release(self, endpoint: Endpoint) -> None:
        for blocks in self.book.addresses.values():
            blocks.pop(endpoint.id, None)

    def _associations(self, call: Call) -> dict[str, Any]:
        asked = call.params.get("VpcEndpointIds")
        found = []
        for endpoint in self.book.endpoints.values():
            if (endpoint.account, endpoint.region) != (call.account_id, call.region) or endpoint.state.status in (
                    "Deleted",) or (asked and endpoint.id not in asked):
                continue
            for association in self.book.associations(endpoint):
                accessible = endpoint.state.status == "Available" and self.book.status(
                    association.configuration).status == "ACTIVE" and self.book.shared_or_own(
                    association.configuration, endpoint)
                answer: dict[str, Any] = {
                    "Id": association.id, "VpcEndpointId": endpoint.id,
                    "AssociatedResourceAccessibility": "Accessible" if accessible else "Inaccessible",
                    "DnsEntry": {"DnsName": association.dns_name, "HostedZoneId": endpoint.hosted_zone_id},
                    "AssociatedResourceArn": association.configuration.arn}
                private = private_dns_name(self.book, endpoint, association.configuration)
                if private:
                    answer["PrivateDnsEntry"] = {"DnsName": private, "HostedZoneId": endpoint.hosted_zone_id}
                found.append(answer)
        response = {"VpcEndpointAssociations": found}
        check_answer(call, response)
        return response


@functools.cache
def _operation_model(service: str, operation: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service).operation_model(operation)


def check_answer(call: Call, response: dict[str, Any]) -> None:
    """An answer of moto's that a rule completed must still be one AWS could send."""
    check_output(_operation_model(call.service, call.operation), response)


def _group_name(backend: Any, group_id: str) -> str:
    group = backend.get_security_group_from_id(group_id)
    return str(group.name) if group is not None else group_id


def private_dns_name(book: LatticeBook, endpoint: Endpoint, configuration: Configuration) -> str | None:
    """The name the Nekt VPC's private hosted zone gives this association, if any. AWS makes one for "resource
    configurations that use ARNs" (each child's: an Aurora cluster's writer and reader endpoints; else the
    database's address), and for a custom domain name by the endpoint's DnsOptions: VERIFIED_DOMAINS_ONLY (the
    default) only a verified one (none is here: verification is not emulated), SPECIFIED_DOMAINS_ONLY only one
    it names, ALL_DOMAINS any. Pessimistic: SPECIFIED_DOMAINS_ONLY names an ARN configuration's too."""
    if not endpoint.private_dns:
        return None
    managed_by_aws = True
    if configuration.endpoint:
        name = configuration.endpoint
    elif configuration.type == "ARN":
        found = rds_database(((configuration.definition or {}).get("arnResource") or {}).get("arn", ""))
        if found is None:
            return None
        name = database_address(*found)
    elif configuration.custom_domain:
        name, managed_by_aws = configuration.custom_domain, False
    else:
        return None
    specified = any(fnmatch.fnmatchcase(name.lower(), domain.lower()) for domain in endpoint.specified_domains)
    allowed = {"ALL_DOMAINS": True, "SPECIFIED_DOMAINS_ONLY": specified,
               "VERIFIED_DOMAINS_AND_SPECIFIED_DOMAINS": managed_by_aws or specified}.get(endpoint.dns_preference,
                                                                                        managed_by_aws)
    return name if allowed else None


# --- the rules of a resource endpoint ------------------------------------------------------------------------


class EndpointConfiguration(BookRule):
    """A resource endpoint is for a resource configuration the caller owns, or one shared with it whose
    share it has accepted ("you must review and accept the resource share"), in the same Region (the
    resource-configuration path is Regional), of type SINGLE, GROUP or ARN (not CHILD). The exact error
    code AWS sends is not documented: InvalidParameter here."""

    name = "resource-endpoint-configuration"

    def before(self, call: Call) -> None:
        if not creating_endpoint(call):
            return
        arn = call.params.get("ResourceConfigurationArn")
        if not arn:
            raise AwsError("MissingParameter", "The request must contain the parameter ResourceConfigurationArn "
                                               "for an endpoint of type Resource.")
        region = arn.split(":")[3] if arn.count(":") >= 5 else ""
        if region != call.region:
            raise AwsError("InvalidParameter", f"{arn} is in Region {region}: a resource endpoint in {call.region} "
                                               "can only use a resource configuration of its own Region.")
        configuration = self.book.configuration(call, arn, shared=True)
        if configuration is None:
            pending = [i.arn for i in self.book.invitations.values() if i.receiver == call.account_id and
                       i.status == "PENDING" and arn in self.book.shares[i.share_arn].resources]
            hint = f" (invitation {pending[0]} is pending: accept it first)" if pending else ""
            raise AwsError("InvalidParameter", f"The resource configuration {arn} does not exist or is not shared "
                                               f"with account {call.account_id}{hint}.")
        if configuration.type == "CHILD":
            raise AwsError("InvalidParameter", f"{arn} is a CHILD resource configuration: a resource endpoint takes "
                                               "a SINGLE, GROUP or ARN resource configuration.")


class EndpointSubnets(Rule):
    """A resource endpoint's subnets are in its VPC, one per Availability Zone ("one subnet per Availability
    Zone"); its security groups are in its VPC."""

    name = "resource-endpoint-subnets"

    def before(self, call: Call) -> None:
        if not creating_endpoint(call):
            return
        vpc_id = call.params.get("VpcId")
        zones: dict[str, str] = {}
        if not call.params.get("SubnetIds"):
            raise AwsError("InvalidParameter", "A resource endpoint needs at least one subnet.")
        for subnet_id in call.params["SubnetIds"]:
            subnet = require(subnet_of(call.account_id, call.region, subnet_id), "subnet", subnet_id)
            if subnet.vpc_id != vpc_id:
                raise AwsError("InvalidParameter", f"Subnet {subnet_id} is not in VPC {vpc_id}.")
            zone = subnet.availability_zone_id
            if zone in zones:
                raise AwsError("DuplicateSubnetsInSameZone",
                               f"Found another subnet {zones[zone]} in the same Availability Zone ({zone}) as "
                               f"{subnet_id}: only one subnet per Availability Zone.")
            zones[zone] = subnet_id
        backend = ec2(call.account_id, call.region)
        for group_id in call.params.get("SecurityGroupIds") or []:
            group = require(backend.get_security_group_from_id(group_id), "security group", group_id)
            if group.vpc_id != vpc_id:
                raise AwsError("InvalidParameter", f"Security group {group_id} is not in VPC {vpc_id}.")


class EndpointZones(BookRule):
    """"At least one Availability Zone of the VPC endpoint and the resource gateway have to overlap." Zones
    are compared by zone ID: a zone's name maps to different zones in different accounts."""

    name = "resource-endpoint-zones"

    def before(self, call: Call) -> None:
        if not creating_endpoint(call):
            return
        configuration = self.book.configuration(call, call.params.get("ResourceConfigurationArn") or "", shared=True)
        if configuration is None or configuration.gateway_id is None:
            return
        gateway = self.book.gateways.get(configuration.gateway_id)
        if gateway is None:
            return
        gateway_zones = {s.availability_zone_id for s in (subnet_of(gateway.account, gateway.region, i)
                                                          for i in gateway.subnet_ids) if s is not None}
        endpoint_zones = {s.availability_zone_id for s in (subnet_of(call.account_id, call.region, i)
                                                           for i in call.params.get("SubnetIds") or []) if s}
        if endpoint_zones and not endpoint_zones & gateway_zones:
            raise AwsError("InvalidParameter",
                           f"The endpoint's Availability Zones ({', '.join(sorted(endpoint_zones))}) and the resource "
                           f"gateway {gateway.id}'s ({', '.join(sorted(gateway_zones))}) do not overlap: at least one "
                           "must.")


class EndpointAddresses(BookRule):
    """A resource endpoint takes 16 contiguous free addresses in each of its subnets. AWS's pages do not say
    so; a provider's documentation does (docs/aws-fidelity.md): kept as the stricter possibility."""

    name = "resource-endpoint-addresses"

    def before(self, call: Call) -> None:
        if not creating_endpoint(call):
            return
        for subnet_id in call.params.get("SubnetIds") or []:
            if subnet_of(call.account_id, call.region, subnet_id) is not None and free_block(
                    call.account_id, call.region, subnet_id, self.book, ENDPOINT_BLOCK) is None:
                raise AwsError("InsufficientFreeAddressesInSubnet",
                               f"Subnet {subnet_id} has no {ENDPOINT_BLOCK} contiguous free IP addresses for the "
                               "resource endpoint.")


class EndpointPrivateDns(BookRule):
    """Private DNS for a resource endpoint needs the VPC's DNS hostnames and DNS resolution attributes on
    ("ensure that the attributes Enable DNS hostnames and Enable DNS support are enabled for your VPC");
    DnsOptions' PrivateDnsPreference "Only supported when private DNS is enabled", PrivateDnsSpecifiedDomains
    only with a preference that names domains. Two endpoints of a VPC serving one name privately: not documented
    for resource endpoints; refused here (the stricter possibility, as interface endpoints are)."""

    name = "resource-endpoint-private-dns"

    def before(self, call: Call) -> None:
        if not creating_endpoint(call):
            return
        options = call.params.get("DnsOptions") or {}
        if not call.params.get("PrivateDnsEnabled"):
            if options.get("PrivateDnsPreference") or options.get("PrivateDnsSpecifiedDomains"):
                raise AwsError("InvalidParameter", "DnsOptions.PrivateDnsPreference and PrivateDnsSpecifiedDomains "
                                                   "are only supported when private DNS is enabled.")
            return
        if options.get("PrivateDnsSpecifiedDomains") and options.get("PrivateDnsPreference") not in (
                "SPECIFIED_DOMAINS_ONLY", "VERIFIED_DOMAINS_AND_SPECIFIED_DOMAINS"):
            raise AwsError("InvalidParameter", "PrivateDnsSpecifiedDomains is only supported with the private DNS "
                                               "preference verified-domains-and-specified-domains or "
                                               "specified-domains-only.")
        vpc = ec2(call.account_id, call.region).vpcs.get(call.params.get("VpcId"))
        if vpc is not None and not (vpc.enable_dns_hostnames and vpc.enable_dns_support):
            raise AwsError("InvalidParameter", f"To enable private DNS, VPC {vpc.id} needs the enableDnsHostnames "
                                               "and enableDnsSupport attributes on.")
        configuration = self.book.configuration(call, call.params.get("ResourceConfigurationArn") or "", shared=True)
        if configuration is None:
            return
        wanted = _private_names(self.book, candidate(call), configuration)
        for other in self.book.endpoints.values():
            if other.vpc_id != call.params.get("VpcId") or other.state.status == "Deleted":
                continue
            other_configuration = self.book.configurations.get(other.configuration_arn.rsplit("/", 1)[-1])
            taken = wanted & _private_names(self.book, other, other_configuration) if other_configuration else set()
            if taken:
                raise AwsError("InvalidParameter", f"private-dns-enabled cannot be set because there is already a "
                                                   f"conflicting DNS domain for {', '.join(sorted(taken))} in the VPC "
                                                   f"{vpc.id if vpc else ''} (endpoint {other.id}).")


def _private_names(book: LatticeBook, endpoint: Endpoint, configuration: Configuration) -> set[str]:
    targets = book.children(configuration) or [configuration]
    return {name for target in targets if (name := private_dns_name(book, endpoint, target))}


class EndpointQuota(BookRule):
    """Resource VPC endpoints per VPC: 200 (L-CA6CC422)."""

    name = "resource-endpoint-quota"

    def before(self, call: Call) -> None:
        if not creating_endpoint(call):
            return
        limit = self.book.limits["resource-endpoints-per-vpc"]
        vpc_id = call.params.get("VpcId")
        if sum(1 for e in self.book.endpoints.values()
               if e.vpc_id == vpc_id and e.state.status not in ("Deleted",)) >= limit:
            raise AwsError("VpcEndpointLimitExceeded",
                           f"VPC {vpc_id} has reached the limit of {limit} resource VPC endpoints.")

