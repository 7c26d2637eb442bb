"""Compensations of the resource-endpoint path, in reverse order of the connect: the resource
endpoint and its security group (Nekt account), then the share, the configuration, the gateway's rule and the
gateway (the customer's account) unless another connection still relies on them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code, tag_dict
from nekt_peering.core.compensation import connection_id_of
from nekt_peering.core.errors import ChangeRefused
from nekt_peering.core.model import CONNECTION_TAG_KEY, Settings
from nekt_peering.resource_endpoint.find import (
    find_configuration,
    find_endpoints,
    find_group_rule,
    find_product_gateway,
    find_shares,
    get_gateway,
    group_named,
)
from nekt_peering.resource_endpoint.names import (
    endpoint_group_name,
    gateway_group_name,
    managed,
    max_polls_of,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from nekt_peering.core.compensation import Rollback
    from nekt_peering.core.shapes import ResourcePathRemoval


# --- Compensations -----------------------------------------------------------------------------------


def removal_of(ec2: EC2Client, lattice: Any, state: Mapping[str, Any]) -> ResourcePathRemoval:
    """What the compensations remove: the disconnect's `removal`, when given; else a failed connect's. Per
    connection resources (share, configuration, endpoint and its group) are found by the connection's tag;
    the gateway (with its group) and the ingress rule only when this execution created them: the record
    says so, or (no record: a crash) the product's gateway carries this connection's tag while the plan
    reused none, and the rule carries it and was not there when Discover read the group."""
    if state.get("removal"):
        return state["removal"]  # type: ignore[no-any-return]
    connection_id = connection_id_of(state)
    removal: ResourcePathRemoval = {"connectionTag": connection_id, "gateway": None, "ingress": None}
    facts, path = state["discovery"], state["plan"].get("resourcePath") or {}
    database = facts["database"]
    record: Mapping[str, Any] = state.get("sharedDatabase") or {}
    gateway_group: str | None = record.get("gatewaySecurityGroupId")
    if record:
        if record.get("gatewayCreated"):
            removal["gateway"] = {"resourceGatewayId": record["resourceGatewayId"], "securityGroupId": gateway_group
                                  or ""}
    elif not (path.get("gateway") or {}).get("resourceGatewayId"):
        found = find_product_gateway(lattice, database["vpcId"])
        if found is not None:
            gateway_group = found["securityGroupIds"][0] if found["securityGroupIds"] else None
            if found["connectionTag"] == connection_id:
                removal["gateway"] = {"resourceGatewayId": found["resourceGatewayId"],
                                      "securityGroupId": gateway_group or ""}
        else:  # the group made just before a create that never happened
            group_id = group_named(ec2, database["vpcId"], gateway_group_name(database["vpcId"]))
            if group_id and _tagged(ec2, group_id, connection_id):
                removal["gateway"] = {"resourceGatewayId": "", "securityGroupId": group_id}
    if record.get("ingressCreated") and record.get("ingressRuleId"):
        removal["ingress"] = {"groupId": database["securityGroupId"], "ruleId": record["ingressRuleId"]}
    elif gateway_group and isinstance(database.get("port"), int):
        rule = find_group_rule(ec2, database["securityGroupId"], database["port"], gateway_group)
        before = {known["ruleId"] for known in database.get("securityGroupRules") or []}
        if rule is not None and rule["SecurityGroupRuleId"] not in before and tag_dict(rule.get("Tags")).get(
                CONNECTION_TAG_KEY) == connection_id:
            removal["ingress"] = {"groupId": database["securityGroupId"], "ruleId": rule["SecurityGroupRuleId"]}
    return removal


def kept(state: Mapping[str, Any]) -> set[str]:
    """The connection's own resources a failed connect keeps: "configuration", "share", "endpoint" (with its
    group). All of them when the connection was connected by this path as the run began: it still relies on
    them (its disconnect removes them), whatever a stage lost before returning its record. Otherwise those the
    stages' records say they found already made."""
    if state.get("removal"):
        return set(state["removal"].get("keep") or [])
    if state["discovery"].get("connected") == "resource-endpoint":
        return {"configuration", "share", "endpoint"}
    shared: Mapping[str, Any] = state.get("sharedDatabase") or {}
    endpoint: Mapping[str, Any] = state.get("resourceEndpoint") or {}
    found = set()
    if shared.get("resourceConfigurationId") and not shared.get("configurationCreated"):
        found.add("configuration")
    if shared.get("resourceShareArn") and not shared.get("shareCreated"):
        found.add("share")
    if endpoint.get("vpcEndpointId") and not endpoint.get("created"):
        found.add("endpoint")
    return found


def _tagged(ec2: EC2Client, group_id: str, connection_id: str) -> bool:
    groups = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    return any(tag_dict(group.get("Tags")).get(CONNECTION_TAG_KEY) == connection_id for group in groups)


def _removal_tag(state: Mapping[str, Any]) -> str:
    return str((state.get("removal") or {}).get("connectionTag") or connection_id_of(state))


def _wait_or_leave(state: Mapping[str, Any], rollback: Rollback, waiting_for: list[str]) -> None:
    max_polls = max_polls_of(state)
    rollback.wait_or_leave(waiting_for, max_polls, f"AWS had not finished deleting it after {max_polls} polls: check "
                                                   "it in the console and delete what is left by hand")


def remove_resource_endpoint(nekt_ec2: EC2Client, state: Mapping[str, Any], rollback: Rollback) -> None:
    """The connection's resource endpoints in the Nekt VPC, until AWS shows them Deleted; then the
    endpoint's security group. Runs first: the customer's configuration cannot go while an endpoint uses it."""
    connection_tag = _removal_tag(state)
    vpc_id = Settings.from_dict(state["discovery"]["settings"]).nekt_vpc_id
    if "endpoint" in kept(state):
        return
    try:
        endpoints = find_endpoints(nekt_ec2, vpc_id, connection_tag)
    except ClientError as error:
        rollback.could_not(f"the resource endpoints of {connection_tag} in {vpc_id}",
                           f"could not list them: {error_code(error)}")
        return
    waiting_for = []
    for endpoint in endpoints:
        endpoint_id, status = endpoint["VpcEndpointId"], endpoint.get("State", "")
        what = f"resource endpoint {endpoint_id} in {vpc_id}"
        if status != "Deleting" and not _delete_endpoint(nekt_ec2, endpoint_id, what, rollback):
            continue
        waiting_for.append(f"{what} (Deleting)")
    if waiting_for:
        _wait_or_leave(state, rollback, waiting_for)
        return
    group_id = group_named(nekt_ec2, vpc_id, endpoint_group_name(connection_tag))
    if group_id is not None and _tagged(nekt_ec2, group_id, connection_tag):
        _delete_group(nekt_ec2, group_id, f"security group {group_id} ({endpoint_group_name(connection_tag)})",
                      rollback)


def _delete_endpoint(nekt_ec2: EC2Client, endpoint_id: str, what: str, rollback: Rollback) -> bool:
    """DeleteVpcEndpoints answers a refusal in `Unsuccessful`, not as an error."""
    try:
        answer = nekt_ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])
    except ClientError as error:
        rollback.could_not(what, f"{error_code(error)}: {error.response['Error'].get('Message', '')}")
        return False
    refused = [item.get("Error", {}) for item in answer.get("Unsuccessful") or []]
    if refused:
        rollback.could_not(what, f"{refused[0].get('Code', '')}: {refused[0].get('Message', '')}")
        return False
    rollback.undone.append(what)
    return True


def _delete_group(ec2: EC2Client, group_id: str, what: str, rollback: Rollback) -> None:
    try:
        ec2.delete_security_group(GroupId=group_id)
    except ClientError as error:
        if error_code(error) != "InvalidGroup.NotFound":
            rollback.could_not(what, f"{error_code(error)}: {error.response['Error'].get('Message', '')}")
        return
    rollback.undone.append(what)


def unshare_database(ec2: EC2Client, lattice: Any, ram: Any, state: Mapping[str, Any], rollback: Rollback) -> None:
    """In reverse: the connection's RAM shares, its resource configuration, then, when the removal lists
    them, the database group's rule admitting the gateway and the gateway itself (until AWS no longer
    shows it), then the gateway's security group."""
    removal = removal_of(ec2, lattice, state)
    connection_tag, keep = removal["connectionTag"], kept(state)
    shares = [] if "share" in keep else _listed(rollback, f"the resource shares of {connection_tag}", find_shares,
                                                 ram, connection_tag)
    for share in shares or []:
        rollback.attempt(f"resource share {share['resourceShareArn']}", ram.delete_resource_share,
                         resourceShareArn=share["resourceShareArn"])
    configuration = None if "configuration" in keep else _listed(
        rollback, f"the resource configuration of {connection_tag}", find_configuration, lattice, connection_tag)
    if configuration and _delete_configuration(lattice, state, configuration, rollback):
        return  # AWS deletes it asynchronously: the gateway cannot go before it is gone
    ingress = removal.get("ingress")
    if ingress:
        _revoke_gateway_rule(ec2, ingress["groupId"], ingress["ruleId"], rollback)
    gateway = removal.get("gateway") or {}
    if gateway.get("resourceGatewayId") and _delete_gateway(lattice, state, gateway["resourceGatewayId"], rollback):
        return  # being deleted: its security group goes once the gateway is gone
    if gateway.get("securityGroupId"):
        group_id = gateway["securityGroupId"]
        try:
            groups = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        except ClientError as error:
            if error_code(error) != "InvalidGroup.NotFound":
                rollback.could_not(f"security group {group_id}", f"could not read it: {error_code(error)}")
            return
        if groups and managed(tag_dict(groups[0].get("Tags"))):
            _delete_group(ec2, group_id, f"security group {group_id} ({groups[0]['GroupName']})", rollback)


def _delete_configuration(lattice: Any, state: Mapping[str, Any], configuration: Mapping[str, str],
                          rollback: Rollback) -> bool:
    """Delete the connection's configuration; True while AWS still shows it (being created: it cannot be
    deleted yet; being deleted: its gateway cannot go before it)."""
    what = f"resource configuration {configuration['id']}"
    status = configuration.get("status", "")
    if status not in ("CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS"):
        before = len(rollback.left)
        rollback.attempt(what, lattice.delete_resource_configuration,
                         resourceConfigurationIdentifier=configuration["id"])
        if len(rollback.left) > before:
            return False  # refused (an endpoint still uses it, a permission): left, named
        status = "DELETE_IN_PROGRESS"
    _wait_or_leave(state, rollback, [f"{what} ({status})"])
    return True


def _listed(rollback: Rollback, what: str, find: Any, *arguments: Any) -> Any:
    try:
        return find(*arguments)
    except ClientError as error:
        rollback.could_not(what, f"could not list them: {error_code(error)}")
    except ChangeRefused:
        pass  # a configuration of that name that is not this connection's: not ours to remove
    return None


def _revoke_gateway_rule(ec2: EC2Client, group_id: str, rule_id: str, rollback: Rollback) -> None:
    what = f"ingress rule {rule_id} (from the resource gateway's group) on {group_id}"
    try:
        rules = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"]
    except ClientError as error:
        if error_code(error) not in ("InvalidSecurityGroupRuleId.NotFound", "InvalidGroup.NotFound"):
            rollback.could_not(what, f"could not read it: {error_code(error)}")
        return
    if not rules or not managed(tag_dict(rules[0].get("Tags"))):
        return  # gone, or not this product's: never removed
    rollback.attempt(what, ec2.revoke_security_group_ingress, GroupId=group_id, SecurityGroupRuleIds=[rule_id])


def _delete_gateway(lattice: Any, state: Mapping[str, Any], gateway_id: str, rollback: Rollback) -> bool:
    """Delete the gateway (this product's only); True while AWS still shows it being deleted or created."""
    what = f"resource gateway {gateway_id}"
    try:
        gateway = get_gateway(lattice, gateway_id)
    except ClientError as error:
        rollback.could_not(what, f"could not read it: {error_code(error)}")
        return False
    if gateway is None:
        return False
    if gateway["connectionTag"] is None:
        return False  # not this product's: never deleted
    status = gateway["status"]
    if status not in ("DELETE_IN_PROGRESS", "CREATE_IN_PROGRESS"):  # AWS deletes it once it is created
        before = len(rollback.left)
        rollback.attempt(what, lattice.delete_resource_gateway, resourceGatewayIdentifier=gateway_id)
        if len(rollback.left) > before:
            return False  # refused (another configuration still on it, a permission): left, named
        status = "DELETE_IN_PROGRESS"
    _wait_or_leave(state, rollback, [f"{what} ({status})"])
    return True
