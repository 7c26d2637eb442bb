"""Stage 2, Preflight: turn the discovered facts into the plan, refusing what AWS or safety forbids.

Pure logic over Discover's facts: no AWS call, so a dry run is exactly this plan."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from nekt_peering.core.errors import ConnectError
from nekt_peering.core.network_acls import check_network_acls, path_denials
from nekt_peering.peering import dns
from nekt_peering.peering.plan import peering_changes, plan_peering
from nekt_peering.public.plan import plan_public, public_changes
from nekt_peering.resource_endpoint.plan import plan_resource_path, resource_path_changes

if TYPE_CHECKING:
    from nekt_peering.core.shapes import (
        Change,
        Plan,
        PlanDatabase,
        PlannedIngress,
        PlannedResourcePath,
        PlannedRoute,
        ReusedPeering,
    )


def plan(facts: Mapping[str, Any]) -> Plan:
    database, nekt, request = facts["database"], facts["nekt"], facts["request"]
    peering: ReusedPeering | None = None
    routes: list[PlannedRoute] = []
    ingress: PlannedIngress | None = None
    resource_path: PlannedResourcePath | None = None
    try:
        if facts["mode"] == "public":
            ingress = plan_public(facts)
        elif facts["mode"] == "peering":
            peering, routes, ingress = plan_peering(facts)
        else:
            resource_path = plan_resource_path(facts)
    except ConnectError as refusal:
        reason = facts.get("modeReason", "")
        if reason.startswith("auto: peering."):  # auto could not take the other path: say why
            raise type(refusal)(f"{refusal} ({reason.removeprefix('auto: peering. ')})") from None
        raise
    check_network_acls(path_denials(facts, database["networkAcls"], nekt["networkAcls"] if nekt else []),
                       "Nothing was changed")
    return {
        "status": "PLANNED",
        "mode": facts["mode"],
        "modeReason": facts.get("modeReason", "requested"),
        "connectionId": request["connectionId"],
        "dryRun": request["dryRun"],
        "database": cast("PlanDatabase", {key: database[key] for key in
                     ("identifier", "kind", "engine", "endpoint", "port", "accountId", "region", "vpcId")}),
        "peering": peering,
        "routes": routes,
        "ingress": ingress,
        "resourcePath": resource_path,
        "dnsResolution": {"needed": dns.needed(facts), "reason": dns.why(facts)},
        "changes": _changes(facts, peering, routes, ingress, resource_path),
    }


def _changes(facts: Mapping[str, Any], peering: ReusedPeering | None, routes: list[PlannedRoute],
             ingress: PlannedIngress | None, resource_path: PlannedResourcePath | None) -> list[Change]:
    if resource_path is not None:
        return resource_path_changes(facts, resource_path)
    if facts["mode"] == "peering":
        return peering_changes(facts, peering, routes, cast("PlannedIngress", ingress))
    return public_changes(cast("PlannedIngress", ingress))
