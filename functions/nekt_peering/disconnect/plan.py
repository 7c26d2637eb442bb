"""What a disconnect removes: exactly what the connection added and nobody else relies on.

From the registry: the resources the connection relies on (`relies`), minus those another live
connection still uses (`users`), minus those that were there before any connection (`origin:
existing`). A connection made before the registry has no item: its resources are found by its tags
(rollback.owned_by_connection), then counted the same way, which adopts it.

The answer has the shape the compensations take (the one Preflight's plan gives a failed connect),
so the disconnect runs the same steps as a rollback: a kept peering is `plan.peering`, a removed one
`peering`; the routes and rules to remove are planned as not existing before; the DNS option goes
back off when the connection turned it on and is its last user on a kept peering."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nekt_peering.core.ec2 import LIVE_PEERING_STATES, describe_peering, peering_facts, rule_facts
from nekt_peering.core.errors import PeeringFailed
from nekt_peering.core.model import CONNECTION_TAG_KEY, MANAGED_BY_TAG, DisconnectRequest, Settings
from nekt_peering.peering.undo import routes_to
from nekt_peering.registry import store
from nekt_peering.registry.bookkeeping import network_resources

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import FilterTypeDef

    from nekt_peering.core.model import DisconnectRequest, Settings
    from nekt_peering.core.shapes import ConnectionItem, PeeringFacts, ResourcePathRemoval


def plan_disconnect(database_ec2: EC2Client, nekt_ec2_factory: Callable[[], Any], dynamodb: DynamoDBClient,
                    table: str, request: DisconnectRequest, settings: Settings) -> dict[str, Any]:
    item = store.get_connection(dynamodb, table, request.connection_id)
    # The tags too, even for a registered connection: a connect whose rollback failed may have left, tagged
    # with the connection id, what the registry never recorded.
    found = _found_by_tags(database_ec2, nekt_ec2_factory, request, settings)
    network = str(item["network"]) if item is not None and item.get("network") else found["network"]
    registered = network_resources(dynamodb, table, network) if network else {}
    by_id = {resource["resourceId"]: resource for resource in found["resources"]} | {
        rid: registered[rid] for rid in (item["relies"] if item is not None else []) if rid in registered}
    mine = [registered.get(rid) or resource for rid, resource in by_id.items()]
    return _plan(database_ec2, nekt_ec2_factory, request, settings, network, mine, registered, item)


def _plan(database_ec2: EC2Client, nekt_ec2_factory: Callable[[], Any], request: DisconnectRequest,
          settings: Settings, network: str | None, mine: list[dict[str, Any]], registered: dict[str, dict[str, Any]],
          item: ConnectionItem | None) -> dict[str, Any]:
    cid = request.connection_id
    removes, keeps = [], []
    for resource in mine:
        others = sorted(set(resource.get("users", [])) - {cid})
        if resource["origin"] == "created" and not others:
            removes.append(resource)
        else:
            keeps.append({"resourceId": resource["resourceId"], "origin": resource["origin"], "usedBy": others})
    by_kind = {kind: [r for r in removes if r["kind"] == kind] for kind in ("peering", "route", "ingress", "dns")}
    peering_resource = next((r for r in mine if r["kind"] == "peering"), None)
    peering_id = peering_resource["details"]["peeringConnectionId"] if peering_resource else None
    removed_peering = by_kind["peering"][0] if by_kind["peering"] else None
    routes = [{"routeTableId": r["details"]["routeTableId"], "destinationCidr": r["details"]["destinationCidr"],
               "side": r["details"]["side"], "exists": False} for r in by_kind["route"]]
    peering_state: dict[str, Any] | None = None
    if removed_peering is not None:
        try:  # every route to a peering that goes would be a blackhole: those go too
            facts = peering_facts(describe_peering(database_ec2, str(peering_id)))
        except PeeringFailed:
            facts = None
        if facts is not None:
            routes += [route for route in routes_to(facts, database_ec2, nekt_ec2_factory, settings)
                       if (route["routeTableId"], route["destinationCidr"])
                       not in {(r["routeTableId"], r["destinationCidr"]) for r in routes}]
            peering_state = {"peeringConnectionId": peering_id, "status": facts["status"], "polls": 0,
                             "connectionTag": removed_peering.get("createdFor") or cid}
            if facts["status"] not in LIVE_PEERING_STATES:
                peering_state["status"] = facts["status"]
    dns = by_kind["dns"][0] if by_kind["dns"] and removed_peering is None else None
    kept_peering = None
    if peering_id and removed_peering is None:
        kept_peering = {"peeringConnectionId": peering_id, "status": "active",
                        "databaseSide": dns["details"]["side"] if dns else "requester",
                        "dnsResolution": dns is None, "connectionTag": None}
    ingress = [{"groupId": r["details"]["groupId"], "port": r["details"]["port"], "cidr": r["details"]["cidr"],
                "exists": False, "ruleId": r["details"].get("ruleId"), "connectionTag": r.get("createdFor") or cid}
               for r in by_kind["ingress"]]
    database: dict[str, Any] = dict(item.get("database") or {}) if item is not None else {}
    mode = (item.get("mode") if item is not None else None) or ("peering" if peering_id else "public")
    removal: ResourcePathRemoval | None = None
    if mode == "resource-endpoint":  # the compensations find the connection's own resources by its tag
        gateway = next((r["details"] for r in removes if r["kind"] == "gateway"), None)
        # The rule admitting the gateway's group; a rule tagged with the connection on a CIDR is the endpoint's
        # group's (Nekt in this account), which goes with that group.
        rule = next((r["details"] for r in by_kind["ingress"] if r["details"].get("sourceGroupId")), None)
        removal = {"connectionTag": cid,
                   "gateway": {"resourceGatewayId": gateway["resourceGatewayId"],
                               "securityGroupId": gateway["securityGroupId"]} if gateway else None,
                   "ingress": {"groupId": rule["groupId"], "ruleId": rule["ruleId"]} if rule else None}
        ingress = []
    return {
        "discovery": {
            "request": request.to_dict(),
            "settings": settings.to_dict(),
            "mode": mode,
            "database": {"region": request.region, "vpcId": database.get("vpcId") or _vpc_of(network),
                         "accountId": settings.stack_account_id, "publiclyAccessible": dns is not None},
            "nekt": {"vpcId": settings.nekt_vpc_id},
        },
        "plan": {"peering": kept_peering, "routes": routes, "ingress": ingress},
        "peering": peering_state,
        **({"removal": removal} if removal is not None else {}),
        "registry": {
            "network": network,
            "relies": [r["resourceId"] for r in mine],
            "registered": [r["resourceId"] for r in mine if r["resourceId"] in registered],
            "removes": [r["resourceId"] for r in removes],
            "keeps": keeps,
            "adopted": item is None,
        },
    }


def _vpc_of(network: str | None) -> str | None:
    """The database VPC id a peering or resource-endpoint network key names (account:region:vpc|...)."""
    if not network or network.endswith("|public"):
        return None
    return network.split("|", 1)[0].rsplit(":", 1)[-1]


def _found_by_tags(database_ec2: EC2Client, nekt_ec2_factory: Callable[[], Any], request: DisconnectRequest,
                   settings: Settings) -> dict[str, Any]:
    """A connection the registry does not know (made before it): what its tags say this product created
    for it, as resources created for it, and its network."""
    cid = request.connection_id
    owned = owned_by_connection(database_ec2, nekt_ec2_factory, request, settings)
    resources: list[dict[str, Any]] = []
    network = None
    peering = owned["peering"]
    account, region = settings.stack_account_id, request.region

    def created(resource_id: str, kind: str, details: dict[str, Any]) -> dict[str, Any]:
        return {"resourceId": resource_id, "kind": kind, "origin": "created", "createdFor": cid, "users": [cid],
                "details": details}

    if peering:
        vpc_id = owned["discovery"]["database"]["vpcId"]
        network = store.peering_network(account, region, vpc_id, settings.nekt_account_id, settings.nekt_region,
                                           settings.nekt_vpc_id)
        resources.append(created(store.peering_id(peering["peeringConnectionId"]), "peering",
                                 {"peeringConnectionId": peering["peeringConnectionId"]}))
        resources += [created(store.route_id(route["side"], route["routeTableId"], route["destinationCidr"]),
                              "route", {**route, "peeringConnectionId": peering["peeringConnectionId"]})
                      for route in owned["plan"]["routes"]]
    for rule in owned["plan"]["ingress"]:
        if network is None:
            network = store.public_network(account, region, rule["groupId"])
        resources.append(created(store.ingress_id(rule["groupId"], rule["port"], rule["cidr"]), "ingress",
                                 {key: rule[key] for key in ("groupId", "port", "cidr", "ruleId")}))
    return {"network": network, "resources": resources}


def owned_by_connection(
    database_ec2: EC2Client, nekt_ec2_factory: Callable[[], Any], request: DisconnectRequest, settings: Settings,
) -> dict[str, Any]:
    """What this product created for a connection, found by its tags, as the compensations take it.

    The peering tagged with the connection id from the database VPC to the Nekt VPC, live or, if none is,
    dead but still shown (never another one: a reused peering carries no tag of ours and stays), the
    routes on both sides that point at
    that peering, and the ingress rules tagged with the connection id. Nothing is planned to exist
    before, so each compensation removes what it finds, after checking the tag again."""
    connection_id = request.connection_id
    tagged: list[FilterTypeDef] = [{"Name": f"tag:{CONNECTION_TAG_KEY}", "Values": [connection_id]}]
    described = database_ec2.describe_vpc_peering_connections(Filters=tagged)["VpcPeeringConnections"]
    peerings = [
        facts for facts in map(peering_facts, described)
        if facts["tags"].get(CONNECTION_TAG_KEY) == connection_id
        and (facts["accepter"]["vpcId"], facts["accepter"]["ownerId"]) == (settings.nekt_vpc_id,
                                                                         settings.nekt_account_id)
    ]
    # The live one; else one that died outside the workflow (deleted by Nekt, expired) and that AWS
    # still shows for a while, if routes still point at it: blackholes this product left, which go too.
    live = [facts for facts in peerings if facts["status"] in LIVE_PEERING_STATES]
    peering: PeeringFacts | None = None
    routes: list[dict[str, Any]] = []
    for candidate in live[:1] or peerings:
        routes = routes_to(candidate, database_ec2, nekt_ec2_factory, settings)
        if candidate in live or routes:
            peering = candidate
            break
    rules = [rule_facts(rule) | {"groupId": rule["GroupId"]}
             for page in database_ec2.get_paginator("describe_security_group_rules").paginate(Filters=tagged)
             for rule in page["SecurityGroupRules"] if not rule.get("IsEgress")]
    ingress = [{"groupId": rule["groupId"], "port": rule["fromPort"], "cidr": rule["cidr"], "exists": False,
                "ruleId": rule["ruleId"]}
               for rule in rules if rule["tags"].get(CONNECTION_TAG_KEY) == connection_id
               and rule["tags"].get(MANAGED_BY_TAG[0]) == MANAGED_BY_TAG[1]
               and rule["protocol"] == "tcp" and rule["fromPort"] == rule["toPort"] and rule["cidr"]]
    return {
        "discovery": {
            "request": request.to_dict(),
            "settings": settings.to_dict(),
            "mode": "peering" if peering else "public",
            "database": {"region": request.region, "vpcId": peering["requester"]["vpcId"] if peering else None},
            "nekt": {"vpcId": settings.nekt_vpc_id},
        },
        "plan": {"peering": None, "routes": routes, "ingress": ingress},
        "peering": ({"peeringConnectionId": peering["peeringConnectionId"], "status": peering["status"], "polls": 0}
                    if peering else None),
    }
