"""Stage 11, Verify: re-read the live state and prove the connection is complete, then prove the path:
network ACLs evaluated on both sides, and a handshake from the probe in the Nekt VPC when deployed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from nekt_peering.connect.drift import CHANGE_DRIFT, PROBE_STAGES
from nekt_peering.connect.preflight import plan
from nekt_peering.core.ec2 import DATABASE_SIDE, NEKT_SIDE, describe_peering, peering_facts, route_target
from nekt_peering.core.errors import Unreachable, VerificationFailed
from nekt_peering.core.network_acls import check_network_acls, path_denials, read_network_acls
from nekt_peering.ingress.authorize import find_rule
from nekt_peering.peering import dns
from nekt_peering.resource_endpoint.find import connect_to, endpoint_names, find_endpoints, hostname_of
from nekt_peering.resource_endpoint.names import tls_advice
from nekt_peering.resource_endpoint.plan import gateway_rule

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_lambda import LambdaClient

    from nekt_peering.core.shapes import (
        Check,
        Connected,
        DatabaseFacts,
        EndpointName,
        Facts,
        PeeringSide,
        ProbeFacts,
        Reachable,
    )

PATH_NOT_PROBED = "configuration verified, path not probed"


def verify(database_ec2: EC2Client, nekt_ec2: EC2Client | None, state: dict[str, Any],
           nekt_lambda: LambdaClient | None = None, probe_function_arn: str = "") -> Connected:
    """`nekt_lambda` (the accepter role's Lambda client) and `probe_function_arn` when the probe is deployed."""
    if state["plan"]["mode"] == "resource-endpoint":
        return verify_resource_path(database_ec2, nekt_ec2, state, nekt_lambda, probe_function_arn)
    plan, ingress = state["plan"], state["ingress"]
    checks = [_check_ingress(database_ec2, ingress)]
    peering_id = None
    if plan["mode"] == "peering":
        peering_id = state["peering"]["peeringConnectionId"]
        peering = peering_facts(describe_peering(database_ec2, peering_id))
        checks.append(_check(f"peering {peering_id} is active", peering["status"] == "active",
                             f"status is {peering['status']!r}"))
        live_tables = _route_tables({NEKT_SIDE: nekt_ec2, DATABASE_SIDE: database_ec2}, state["routes"])
        checks += [_check_route(live_tables[route["routeTableId"]], route, peering_id) for route in state["routes"]]
        if dns.needed(state["discovery"]):
            side: PeeringSide = state["dnsResolution"]["side"]
            checks.append(_check(f"DNS resolution from the Nekt VPC is on ({side} side)",
                                 peering[side]["allowDnsResolutionFromRemoteVpc"],
                                 "AllowDnsResolutionFromRemoteVpc is off"))
    _refuse_unless_all_pass(checks)
    checks.append(check_live_network_acls(database_ec2, nekt_ec2, state["discovery"],
                                          "Verify read the ACLs after the changes"))
    probe = None
    database = state["discovery"]["database"]
    if nekt_lambda is not None and probe_function_arn and plan["mode"] == "peering":
        probe = run_probe(nekt_lambda, probe_function_arn, database)
        checks.append(_check(f"the probe in the Nekt VPC reached {probe['host']}:{probe['port']}", True, ""))
    return {
        "status": "CONNECTED",
        "mode": plan["mode"],
        "connectionId": plan["connectionId"],
        "database": plan["database"],
        "hostname": database["endpoint"],
        "peeringConnectionId": peering_id,
        "routes": state.get("routes", []),
        "ingress": ingress,
        "dnsResolution": state.get("dnsResolution"),
        "checks": checks,
        "probe": probe,
        "path": probe["detail"] if probe else PATH_NOT_PROBED + (
            " (the probe checks the peering path only)" if plan["mode"] == "public" else ""),
    }


def verify_resource_path(database_ec2: EC2Client, nekt_ec2: EC2Client | None, state: dict[str, Any],
                         nekt_lambda: LambdaClient | None, probe_function_arn: str) -> Connected:
    """The resource-endpoint path, live: the database's group admits the gateway's, the endpoint is Available
    and its configuration Accessible to it; then the ACLs and the probe, at the endpoint's DNS name."""
    plan, shared, endpoint = state["plan"], state["sharedDatabase"], state["resourceEndpoint"]
    database = state["discovery"]["database"]
    rule_id, gateway_group = shared.get("ingressRuleId"), shared["gatewaySecurityGroupId"]
    rules = database_ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"] \
        if rule_id else []
    checks = [_check(f"{database['securityGroupId']} allows TCP {database['port']} from the resource gateway's "
                     f"group {gateway_group}",
                     any(rule.get("ReferencedGroupInfo", {}).get("GroupId") == gateway_group
                         and rule.get("FromPort") == rule.get("ToPort") == database["port"] for rule in rules),
                     "the rule is missing")]
    endpoint_id = str(endpoint["vpcEndpointId"])
    live = (nekt_ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"] or [{}])[0] \
        if nekt_ec2 is not None else {}
    checks.append(_check(f"resource endpoint {endpoint_id} is Available", live.get("State") == "Available",
                         f"its state is {live.get('State')!r}"))
    names = endpoint_names(nekt_ec2, endpoint_id, list(shared.get("endpoints") or []), database) \
        if nekt_ec2 is not None else None
    chosen = connect_to(names, state["discovery"]["request"].get("endpoint", "writer")) if names else None
    checks.append(_check(f"the database's resource configuration is accessible through {endpoint_id}",
                         chosen is not None and chosen["accessible"],
                         "not accessible: the share was removed or not accepted" if names else
                         "AWS shows no association with a DNS name for it"))
    _refuse_unless_all_pass(checks, ["gateway-rule-missing", "resource-endpoint-gone", "resource-share-gone"])
    checks.append(check_live_network_acls(database_ec2, None, state["discovery"],
                                          "Verify read the ACLs after the changes"))
    hostname = hostname_of(cast("EndpointName", chosen))  # refused above when None
    probe = None
    if nekt_lambda is not None and probe_function_arn:
        # No CIDRs: the endpoint's addresses are Nekt's own, so "inside the database VPC" does not apply.
        probe = run_probe(nekt_lambda, probe_function_arn, database, host=hostname, cidrs=[])
        checks.append(_check(f"the probe in the Nekt VPC reached {hostname}:{database['port']}", True, ""))
    return {
        "status": "CONNECTED",
        "mode": plan["mode"],
        "connectionId": plan["connectionId"],
        "database": plan["database"],
        "hostname": hostname,
        "peeringConnectionId": None,
        "routes": [],
        "ingress": None,
        "dnsResolution": None,
        "resourcePath": {"resourceGatewayId": shared["resourceGatewayId"],
                         "resourceConfigurationArn": shared["resourceConfigurationArn"],
                         "resourceShareArn": shared["resourceShareArn"], "vpcEndpointId": endpoint_id,
                         "names": names or [], "tls": tls_advice(chosen)},
        "checks": checks,
        "probe": probe,
        "path": probe["detail"] if probe else PATH_NOT_PROBED,
    }


def check_live_network_acls(database_ec2: EC2Client, nekt_ec2: EC2Client | None, facts: Facts,
                            consequence: str) -> Check:
    """The ACLs of the database's subnets and Nekt's private subnets, read now, evaluated on the path."""
    database_acls = read_network_acls(database_ec2, facts["database"]["subnetIds"])
    nekt = facts["nekt"]
    nekt_acls = read_network_acls(nekt_ec2, nekt["privateSubnetIds"]) \
        if facts["mode"] == "peering" and nekt is not None and nekt_ec2 is not None else []
    return check_network_acls(path_denials(facts, database_acls, nekt_acls), consequence)


def run_probe(nekt_lambda: LambdaClient, function_arn: str, database: DatabaseFacts, host: str | None = None,
              cidrs: list[str] | None = None) -> ProbeFacts:
    """Invoke the probe (nekt_peering.probe) in the Nekt account; its facts, or Unreachable naming the stage.
    By default it reaches the database's endpoint, and tells whether it resolved inside the database's VPC;
    on the resource-endpoint path, `host` is the endpoint's DNS name and `cidrs` empty."""
    request = {"host": host or database["endpoint"], "port": database["port"],
               "engine": database["engine"] or "unknown", "cidrs": cidrs if cidrs is not None else database["cidrs"]}
    answer = nekt_lambda.invoke(FunctionName=function_arn, InvocationType="RequestResponse",
                                Payload=json.dumps(request).encode())
    facts: dict[str, Any] = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        error = facts or {}
        raise VerificationFailed(
            f"the probe {function_arn} failed: {error.get('errorType')}: {error.get('errorMessage')}. Look at its "
            "log in the Nekt account and redeploy the Nekt account stack if it is not the released probe")
    if not facts.get("reachable"):
        seen = ", ".join(a["address"] + ("" if a.get("insideDatabaseVpc") is None else
                                         f" ({'inside' if a['insideDatabaseVpc'] else 'outside'} the database VPC)")
                         for a in facts.get("addresses", [])) or "no address"
        raise Unreachable(f"from the Nekt VPC, {request['host']}:{request['port']} failed at stage "
                          f"{facts.get('failedStage')}: {facts.get('detail')}. Resolved to: {seen}"
                          ).drifted(PROBE_STAGES.get(str(facts.get("failedStage")), "probe-tcp"))
    return cast("ProbeFacts", facts)  # the answer nekt_peering.probe.probe makes


def _refuse_unless_all_pass(checks: list[Check], drift: list[str] | None = None) -> None:
    """`drift`: what each check's failure means drifted, when a health check may run it."""
    failed = [index for index, check in enumerate(checks) if not check["ok"]]
    if failed:
        raise VerificationFailed(
            "the connection is incomplete: " + "; ".join(f"{checks[i]['check']}: {checks[i]['detail']}" for i in failed)
            + ". Run the workflow again to repair it; if this repeats, check for changes made outside it"
        ).drifted(*(drift[i] for i in failed) if drift else ())


def _check(name: str, ok: bool, problem: str) -> Check:
    return {"check": name, "ok": bool(ok), "detail": "ok" if ok else problem}


def _check_ingress(ec2: EC2Client, ingress: dict[str, Any]) -> Check:
    rule = find_rule(ec2, ingress["groupId"], ingress["port"], ingress["cidr"])
    return _check(f"{ingress['groupId']} allows TCP {ingress['port']} from {ingress['cidr']}", rule is not None,
                  "the rule is missing")


def _route_tables(clients: dict[str, Any], routes: list[dict[str, Any]]) -> dict[str, Any]:
    """One read per side for all the route tables the connection routes through."""
    tables: dict[str, Any] = {}
    for side, ec2 in clients.items():
        ids = sorted({route["routeTableId"] for route in routes if route["side"] == side})
        if ids:
            tables |= {table["RouteTableId"]: table
                       for table in ec2.describe_route_tables(RouteTableIds=ids)["RouteTables"]}
    return tables


def _check_route(route_table: dict[str, Any], route: dict[str, Any], peering_id: str) -> Check:
    live = next((r for r in route_table.get("Routes", [])
                 if r.get("DestinationCidrBlock") == route["destinationCidr"]), None)
    name = f"{route['routeTableId']} routes {route['destinationCidr']} to {peering_id}"
    if live is None:
        return _check(name, False, "the route is missing")
    if route_target(live) != peering_id:
        return _check(name, False, f"it goes to {route_target(live)}")
    return _check(name, live.get("State") == "active", f"the route is {live.get('State')!r}")


def check_path(facts: Facts, nekt_lambda: LambdaClient | None, probe_function_arn: str,
               database_ec2: EC2Client | None = None, nekt_ec2: EC2Client | None = None) -> Reachable:
    """The stand-alone re-check of a connection, from facts Discover has just read: the plan must have
    nothing left to do (else something was removed: VerificationFailed), the network ACLs must allow
    the path (Preflight's evaluation, NetworkAclDenies), and the probe must reach the database. On the
    resource-endpoint path (both EC2 clients given): Verify's checks of what the connection made, found again."""
    if facts["mode"] == "resource-endpoint" and database_ec2 is not None and nekt_ec2 is not None:
        return _check_resource_path(facts, database_ec2, nekt_ec2, nekt_lambda, probe_function_arn)
    planned = plan(facts)
    if planned["changes"]:
        raise VerificationFailed(
            "the connection is incomplete: " + "; ".join(change["summary"] for change in planned["changes"])
            + " is still to be done. Nothing was changed: connect again to repair it"
        ).drifted(*dict.fromkeys(CHANGE_DRIFT.get(change["action"], "check-failed") for change in planned["changes"]))
    checks: list[Check] = [{"check": "every peering, route, rule and option of the connection is in place", "ok": True,
               "detail": "ok"},
              {"check": "network ACLs allow the database's port and the replies, both sides", "ok": True,
               "detail": "ok"}]
    probe = None
    if nekt_lambda is not None and probe_function_arn and facts["mode"] == "peering":
        probe = run_probe(nekt_lambda, probe_function_arn, facts["database"])
        checks.append(_check(f"the probe in the Nekt VPC reached {probe['host']}:{probe['port']}", True, ""))
    return {
        "status": "REACHABLE",
        "mode": facts["mode"],
        "connectionId": facts["request"]["connectionId"],
        "database": planned["database"],
        "checks": checks,
        "probe": probe,
        "path": probe["detail"] if probe else PATH_NOT_PROBED + (
            " (the probe checks the peering path only)" if facts["mode"] == "public" else ""),
    }


def _check_resource_path(facts: Facts, database_ec2: EC2Client, nekt_ec2: EC2Client, nekt_lambda: LambdaClient | None,
                         probe_function_arn: str) -> Reachable:
    """The connection's gateway, the rule admitting it, its endpoint: found as Discover and the tags show them,
    then checked live as Verify checks them."""
    database = facts["database"]
    found: Mapping[str, Any] = facts.get("resourcePath") or {}
    gateway = found.get("gateway")
    group = (gateway or {}).get("securityGroupIds", [None])[0]
    admitting = gateway_rule(database, group)
    rule = admitting["ruleId"] if admitting else None
    endpoints = find_endpoints(nekt_ec2, facts["settings"]["nektVpcId"], facts["request"]["connectionId"])
    missing = [(what, drift) for what, drift, there in (
        ("the resource gateway", "resource-gateway-gone", gateway),
        ("the rule admitting the gateway's group", "gateway-rule-missing", rule),
        ("the resource endpoint", "resource-endpoint-gone", endpoints),
        ("the database's resource configuration", "resource-share-gone", found.get("configurationExists")))
        if not there]
    if missing:
        raise VerificationFailed(f"the connection is incomplete: {', '.join(what for what, _ in missing)} not found. "
                                 "Nothing was changed: connect again to repair it").drifted(*(d for _, d in missing))
    endpoint = endpoints[0]
    state: dict[str, Any] = {
        "discovery": facts,
        "plan": {"mode": facts["mode"], "connectionId": facts["request"]["connectionId"],
                 "database": {key: database[key] for key in
                              ("identifier", "kind", "engine", "endpoint", "port", "accountId", "region", "vpcId")}},
        "sharedDatabase": {"ingressRuleId": rule, "gatewaySecurityGroupId": group,
                           "endpoints": found.get("endpoints") or [],
                           "resourceGatewayId": gateway["resourceGatewayId"],  # type: ignore[index]
                           "resourceConfigurationArn": endpoint.get("ResourceConfigurationArn"),
                           "resourceShareArn": None},
        "resourceEndpoint": {"vpcEndpointId": endpoint["VpcEndpointId"]},
    }
    verified = verify_resource_path(database_ec2, nekt_ec2, state, nekt_lambda, probe_function_arn)
    return {"status": "REACHABLE", "mode": verified["mode"], "connectionId": verified["connectionId"],
            "database": verified["database"], "checks": verified["checks"], "probe": verified["probe"],
            "path": verified["path"]}
