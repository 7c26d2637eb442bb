"""What the workflows write in the connection registry (nekt_peering.registry.store): the locks that keep two
runs apart, what a connection relies on once connected, and its outcome.

Locks. A run holds two: its connection's (a connect and a disconnect of one connection never run at
once: the second fails ConnectionBusy at once) and its network's (runs that change the same VPC pair
are serialized: the second waits, then reads the facts again under the lock). Both are taken in one
transaction with the connection item, each with a lease; a lock is free when nobody holds it, when
its lease has ended, or when DescribeExecution says the execution holding it has ended. Every exit
path of both workflows releases them.

Counting. Each resource a connection relies on has an item in its network's partition: `origin`
(created by this product, or found there before any connection relied on it), `createdFor`, and
`users`, the connections that rely on it. A disconnect removes a resource only when its origin is
`created` and no other connection uses it (nekt_peering.disconnect.plan)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from nekt_peering.core.aws import error_code
from nekt_peering.core.errors import ConnectionBusy
from nekt_peering.core.model import CONNECTION_TAG_KEY, MANAGED_BY_TAG, Settings
from nekt_peering.registry import store

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient

    from nekt_peering.core.shapes import LockResult, Workflow

logger = logging.getLogger(__name__)

_EXECUTION_ARN = re.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:]+:[^:]+$")
# Beyond the polls, what a run may spend holding its locks: Lambda retries, the stages themselves.
LEASE_MARGIN_SECONDS = 3600
POLL_LOOPS = 4
TRANSACTION_ATTEMPTS = 3
ENDED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
Clock = Callable[[], float]


def transact(dynamodb: DynamoDBClient, items: list[dict[str, Any]]) -> None:
    """One DynamoDB transaction (at most 100 items, each a different item)."""
    dynamodb.transact_write_items(TransactItems=cast("Any", items))


def lease_seconds(settings: Settings) -> int:
    """Longer than any run can hold its locks: the most bounded poll loops of one run (the resource-endpoint
    path's four: gateway, endpoint, and each of their removals; peering has three) and the margin. A lock
    outliving its lease belongs to a run that died without releasing it."""
    return POLL_LOOPS * settings.max_polls * max(settings.poll_interval_seconds, 1) + LEASE_MARGIN_SECONDS


def network_of(facts: Mapping[str, Any]) -> str:
    """The lock scope and resource partition of a connect: the VPC pair, or the database's security group."""
    database = facts["database"]
    if facts["mode"] == "public":
        return store.public_network(database["accountId"], database["region"], database["securityGroupId"])
    if facts["mode"] == "resource-endpoint":
        return store.resource_network(database["accountId"], database["region"], database["vpcId"])
    nekt = facts["nekt"]
    return store.peering_network(database["accountId"], database["region"], database["vpcId"],
                                    nekt["accountId"], nekt["region"], nekt["vpcId"])


# Locks -------------------------------------------------------------------------------------------------


class Locks:
    """One run's locks: its connection's and its network's.

    A lock item stays once made: taking it sets its `holder` and lease, releasing it removes them and
    sets `releasedAt`. A run that read its facts before taking its locks compares that time with
    `releasedAt`: if another run released the lock since, what it changed is not in the facts, and the
    run reads them again (`waited`)."""

    def __init__(self, dynamodb: DynamoDBClient, sfn: SFNClient, table: str, connection_id: str, network: str,
                 execution_arn: str, workflow: Workflow, clock: Clock = time.time) -> None:
        self.dynamodb, self.sfn, self.table = dynamodb, sfn, table
        self.connection_id, self.network = connection_id, network
        self.execution_arn, self.workflow, self.clock = execution_arn, workflow, clock
        self.scopes = {"connection": f"connection#{connection_id}", "network": f"network#{network}"}

    def take(self, settings: Settings, previous: Mapping[str, Any] | None, connection: Mapping[str, Any],
             read_at: str | None = None) -> LockResult:
        """Both locks and the connection item (`connection`: the fields this run sets), in one transaction.

        `previous` is this step's last result in the execution (how long it has waited). `read_at`: when
        the facts were read (None: unknown). `waited` asks the workflow to read them again under the
        locks: it had to wait, or another run released a lock after the facts were read. A run that holds
        its locks already took them before reading these facts, unless the step itself is run again."""
        wait_seconds = max(settings.poll_interval_seconds, 1)
        waiting = previous is not None and not previous["acquired"]
        polls = int(previous["polls"]) + 1 if waiting and previous else 0
        held = self._locks()
        if held is None:
            return {"acquired": False, "waited": True, "polls": polls + 1, "waitSeconds": wait_seconds}
        if all(lock and lock.get("holder") == self.execution_arn for lock in held.values()):
            stale = any(not _read_after(read_at, lock) and _released_since(lock, read_at) for lock in held.values())
            return {"acquired": True, "waited": stale, "polls": 0, "waitSeconds": wait_seconds}
        locks = held
        for attempt in range(TRANSACTION_ATTEMPTS):
            now = self.clock()
            if attempt:
                read = self._locks()
                if read is None:
                    continue
                locks = read
            takeover: dict[str, str] = {}
            for name, scope in self.scopes.items():
                lock = locks[scope]
                if not _held_by_another(lock, self.execution_arn, now):
                    continue
                assert lock is not None
                if self._has_ended(str(lock["holder"])):
                    takeover[scope] = str(lock["holder"])
                elif name == "connection":
                    raise ConnectionBusy(
                        f"connection {self.connection_id} is being {_doing(lock)} by {lock['holder']} (since "
                        f"{lock.get('acquiredAt', 'a moment ago')}). Nothing was changed: follow that execution, "
                        "and start again once it has finished if you still need to")
                else:
                    logger.info("network %s is held by %s: waiting", self.network, lock["holder"])
                    return {"acquired": False, "waited": True, "polls": polls + 1, "waitSeconds": wait_seconds,
                            "heldBy": str(lock["holder"])}
            try:
                transact(self.dynamodb, [
                    *(self._take(scope, locks[scope], now, settings, takeover.get(scope))
                      for scope in self.scopes.values()),
                    self._put_connection(connection),
                ])
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                continue  # another run moved first: look again
            stale = any(_released_since(locks[scope], read_at) for scope in self.scopes.values())
            return {"acquired": True, "waited": waiting or stale, "polls": polls, "waitSeconds": wait_seconds}
        # Lost the race for a free lock several times in a row: wait like for a held one.
        return {"acquired": False, "waited": True, "polls": polls + 1, "waitSeconds": wait_seconds}

    def release(self) -> list[str]:
        """Release the locks this run holds (nothing for a lock another run holds, or nobody)."""
        released = []
        for item in self.release_items(only_held=True):
            try:
                self.dynamodb.update_item(**item["Update"])
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
            else:
                released.append(str(item["Update"]["Key"]["pk"]["S"]))
        return released

    def release_items(self, only_held: bool = False) -> list[dict[str, Any]]:
        """The releases as transaction items, for a write that must release the locks with it. Without
        `only_held`, a lock nobody holds passes (this step run again after it released them)."""
        condition = "holder = :me" if only_held else "attribute_not_exists(holder) OR holder = :me"
        return [{"Update": {
            "TableName": self.table, "Key": store.lock_key(scope),
            "UpdateExpression": "REMOVE holder, expiresAt, acquiredAt SET releasedAt = :at",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {":me": {"S": self.execution_arn}, ":at": {"S": store.now()}},
        }} for scope in self.scopes.values()]

    def _locks(self) -> dict[str, dict[str, Any] | None] | None:
        """Both locks as one snapshot, by scope: two reads could see the connection's free before another
        run's transaction took both and the network's held after it, and wait instead of ConnectionBusy.
        None: DynamoDB refused the read while a write to one of them was under way."""
        scopes = list(self.scopes.values())
        try:
            responses = self.dynamodb.transact_get_items(TransactItems=[
                {"Get": {"TableName": self.table, "Key": store.lock_key(scope)}} for scope in scopes])["Responses"]
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            return None
        return {scope: store.from_item(response["Item"]) if response.get("Item") else None
                for scope, response in zip(scopes, responses, strict=True)}

    def _take(self, scope: str, seen: Mapping[str, Any] | None, now: float, settings: Settings,
              dead_holder: str | None) -> dict[str, Any]:
        """Hold the lock, on the condition that it is still as it was read (free, or its dead holder's)."""
        values = {":me": {"S": self.execution_arn}, ":now": {"N": str(int(now))}, **store.to_item({
            ":connection": self.connection_id, ":workflow": self.workflow, ":acquired": store.now(),
            ":expires": int(now) + lease_seconds(settings)})}
        free = "attribute_not_exists(holder) OR holder = :me OR expiresAt < :now"
        if dead_holder:
            free += " OR holder = :dead"
            values[":dead"] = {"S": dead_holder}
        if seen is not None and seen.get("releasedAt"):
            unchanged = "releasedAt = :released"
            values[":released"] = {"S": str(seen["releasedAt"])}
        else:
            unchanged = "attribute_not_exists(releasedAt)"
        return {"Update": {
            "TableName": self.table, "Key": store.lock_key(scope),
            "UpdateExpression": "SET holder = :me, connectionId = :connection, workflow = :workflow, "
                                "acquiredAt = :acquired, expiresAt = :expires",
            "ConditionExpression": f"({free}) AND {unchanged}", "ExpressionAttributeValues": values}}

    def _put_connection(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """The connection item as it is now, with this run's `changes`: its Put."""
        current = store.connection_values(self.dynamodb, self.table, self.connection_id)
        return put_connection(self.table, self.connection_id, current, {
            **changes, "currentExecutionArn": self.execution_arn, "currentWorkflow": self.workflow,
            "state": "CONNECTING" if self.workflow == "connect" else "DISCONNECTING",
            "executions": _with_execution(current, self.execution_arn, self.workflow)}, drop=("lastError", "accepted"))

    def _has_ended(self, holder: str) -> bool:
        """Whether the execution that holds a lock has ended without releasing it (it failed in a way no
        catcher saw: stopped, timed out). DescribeExecution is eventually consistent: a stale answer says
        RUNNING, or does not know an execution that has just started, so only an ended status counts. A
        holder that is not an execution (a function invoked by hand) keeps its lock until the lease ends."""
        if not _EXECUTION_ARN.match(holder):
            return False
        try:
            return self.sfn.describe_execution(executionArn=holder)["status"] in ENDED
        except ClientError as error:
            if error_code(error) == "ExecutionDoesNotExist":
                return False
            raise


def _held_by_another(lock: Mapping[str, Any] | None, execution_arn: str, now: float) -> bool:
    return bool(lock and lock.get("holder") and lock["holder"] != execution_arn and lock["expiresAt"] >= int(now))


# Clocks of two Lambda invocations agree to well under this: a release this close before the facts were
# read may not be in them.
CLOCK_MARGIN = timedelta(seconds=1)


def _read_after(read_at: str | None, lock: Mapping[str, Any] | None) -> bool:
    """Whether the facts were read after this run took the lock (nobody else could change them since)."""
    if read_at is None or not lock or not lock.get("acquiredAt"):
        return False
    return datetime.fromisoformat(read_at) > datetime.fromisoformat(str(lock["acquiredAt"]))


def _released_since(lock: Mapping[str, Any] | None, read_at: str | None) -> bool:
    """Whether another run released the lock after (or just before) the facts were read."""
    if not lock or not lock.get("releasedAt"):
        return False
    if read_at is None:
        return True
    return datetime.fromisoformat(str(lock["releasedAt"])) > datetime.fromisoformat(read_at) - CLOCK_MARGIN


def _doing(lock: Mapping[str, Any]) -> str:
    return "disconnected" if lock.get("workflow") == "disconnect" else "connected"


def _with_execution(current: Mapping[str, Any] | None, execution_arn: str, workflow: Workflow) -> list[Any]:
    executions = list((current or {}).get("executions", []))
    if not any(execution["executionArn"] == execution_arn for execution in executions):
        executions.insert(0, {"executionArn": execution_arn, "workflow": workflow, "startedAt": store.now()})
    return executions[:store.EXECUTIONS_KEPT]


def put_connection(table: str, connection_id: str, current: Mapping[str, Any] | None, changes: Mapping[str, Any],
                   drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """The connection item as a transaction Put: what it was, with `changes`, written only if nobody
    changed it since it was read (its version)."""
    at = store.now()
    base = {key: value for key, value in (current or {}).items() if key not in drop}
    created_at = base.get("createdAt", at)
    item = {
        "relies": [],
        **base, **changes,
        "connectionId": connection_id, "updatedAt": at, "createdAt": created_at,
        "listing": store.LISTING, "listedAt": base.get("listedAt", f"{created_at}#{connection_id}"),
        "version": int(base.get("version", 0)) + 1,
    }
    item.pop("pk", None)
    item.pop("sk", None)
    put: dict[str, Any] = {"TableName": table, "Item": {**store.connection_key(connection_id),
                                                        **store.to_item(item)}}
    if current is None:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "version = :version"
        put["ExpressionAttributeValues"] = {":version": {"N": str(base.get("version", 0))}}
    return {"Put": put}


# What a connect relies on --------------------------------------------------------------------------------


def relied_resources(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources a verified connect relies on, each with whether this run created it and, for one
    found, the connection its tags say it was created for (made by this product before the registry)."""
    facts, plan = state["discovery"], state["plan"]
    cid = facts["request"]["connectionId"]
    resources: list[dict[str, Any]] = []
    peering_created = False
    if facts["mode"] == "peering":
        peering = state["peering"]
        reused = plan["peering"]
        tag_owner = reused.get("connectionTag") if reused else None
        peering_created = bool(peering.get("created")) or bool(tag_owner)
        resources.append(_resource(
            store.peering_id(peering["peeringConnectionId"]), "peering",
            {"peeringConnectionId": peering["peeringConnectionId"]},
            created=bool(peering.get("created")), tag_owner=tag_owner, cid=cid))
        for route in state.get("routes") or []:
            resources.append(_resource(
                store.route_id(route["side"], route["routeTableId"], route["destinationCidr"]), "route",
                {"side": route["side"], "routeTableId": route["routeTableId"],
                 "destinationCidr": route["destinationCidr"], "peeringConnectionId": peering["peeringConnectionId"]},
                # A route to a peering this product made cannot be older than the peering: it goes with it.
                # The peering's owner by tag, unknown to the registry, may rely on it too: it counts.
                created=bool(route["created"]) or peering_created, tag_owner=tag_owner, cid=cid))
        dns = state.get("dnsResolution") or {}
        if dns.get("needed") and dns.get("side"):
            resources.append(_resource(
                store.dns_id(peering["peeringConnectionId"], dns["side"]), "dns",
                {"peeringConnectionId": peering["peeringConnectionId"], "side": dns["side"]},
                created=bool(dns.get("changed")) or peering_created, tag_owner=tag_owner, cid=cid))
    if facts["mode"] == "resource-endpoint":
        return _relied_on_the_resource_path(state, cid)
    ingress = state["ingress"]
    rule_tags: dict[str, str] = next((rule["tags"] for rule in facts["database"].get("securityGroupRules", [])
                      if rule["ruleId"] == ingress.get("ruleId")), {})
    tag_owner = (rule_tags.get(CONNECTION_TAG_KEY) if rule_tags.get(MANAGED_BY_TAG[0]) == MANAGED_BY_TAG[1]
                 else None)
    resources.append(_resource(
        store.ingress_id(ingress["groupId"], ingress["port"], ingress["cidr"]), "ingress",
        {"groupId": ingress["groupId"], "port": ingress["port"], "cidr": ingress["cidr"], "ruleId": ingress["ruleId"]},
        created=bool(ingress["created"]), tag_owner=tag_owner, cid=cid))
    return resources


def _relied_on_the_resource_path(state: Mapping[str, Any], cid: str) -> list[dict[str, Any]]:
    """What connections of one database VPC share on this path: its resource gateway, and the rule admitting
    the gateway's group on a database group and port. Each connection's configuration, share and endpoint
    are its own, found by its tag."""
    shared, database = state["sharedDatabase"], state["discovery"]["database"]
    gateway = state["discovery"]["resourcePath"]["gateway"]
    tag_owner = gateway.get("connectionTag") if gateway else None
    resources = [_resource(
        store.gateway_id(shared["resourceGatewayId"]), "gateway",
        {"resourceGatewayId": shared["resourceGatewayId"], "securityGroupId": shared["gatewaySecurityGroupId"]},
        created=bool(shared["gatewayCreated"]), tag_owner=tag_owner, cid=cid)]
    if shared.get("ingressRuleId"):
        resources.append(_resource(
            store.ingress_id(database["securityGroupId"], database["port"], shared["gatewaySecurityGroupId"]),
            "ingress", {"groupId": database["securityGroupId"], "port": database["port"], "cidr": None,
                        "sourceGroupId": shared["gatewaySecurityGroupId"], "ruleId": shared["ingressRuleId"]},
            # A rule admitting a gateway this product made cannot be older than the gateway: it goes with it.
            created=bool(shared["ingressCreated"]) or bool(shared["gatewayCreated"]) or bool(tag_owner),
            tag_owner=tag_owner, cid=cid))
    return resources


def _resource(resource_id: str, kind: str, details: dict[str, Any], created: bool, tag_owner: str | None,
              cid: str) -> dict[str, Any]:
    tag_owner = tag_owner if tag_owner != cid else None
    if created:
        origin, created_for = "created", cid
    elif tag_owner:  # made by this product for a connection the registry may not know yet: it is a user too
        origin, created_for = "created", tag_owner
    else:
        origin, created_for = "existing", None
    users = {cid} | ({tag_owner} if tag_owner else set())
    return {"resourceId": resource_id, "kind": kind, "origin": origin, "createdFor": created_for,
            "users": sorted(users), "details": details}


def use_resource(table: str, network: str, resource: Mapping[str, Any]) -> dict[str, Any]:
    """Add the connection(s) to a resource's users; a resource seen for the first time is written
    with its origin, which never changes afterwards."""
    return {"Update": {
        "TableName": table, "Key": store.resource_key(network, resource["resourceId"]),
        "UpdateExpression": "ADD #users :users SET #kind = if_not_exists(#kind, :kind), "
                            "origin = if_not_exists(origin, :origin), createdFor = if_not_exists(createdFor, :for), "
                            "resourceId = :id, details = :details",
        "ExpressionAttributeNames": {"#users": "users", "#kind": "kind"},
        "ExpressionAttributeValues": store.to_item({
            ":users": set(resource["users"]), ":kind": resource["kind"], ":origin": resource["origin"],
            ":id": resource["resourceId"], ":details": resource["details"]}) | {
            ":for": {"S": resource["createdFor"]} if resource["createdFor"] else {"NULL": True}},
    }}


def stop_using(table: str, network: str, resource_id: str, connection_id: str) -> dict[str, Any]:
    return {"Update": {
        "TableName": table, "Key": store.resource_key(network, resource_id),
        "UpdateExpression": "DELETE #users :me", "ExpressionAttributeNames": {"#users": "users"},
        "ExpressionAttributeValues": {":me": {"SS": [connection_id]}},
        "ConditionExpression": "attribute_exists(pk)",
    }}


def forget_resource(table: str, network: str, resource_id: str) -> dict[str, Any]:
    return {"Delete": {"TableName": table, "Key": store.resource_key(network, resource_id)}}


def _stop_relying_on_gone_peering(dynamodb: DynamoDBClient, table: str, locks: Locks, peering: str | None
                                  ) -> dict[str, list[Any]]:
    """A repair that replaced the connection's gone peering no longer relies on it: the registry forgets it when
    no other connection counts it, else stops counting this one (the others' repairs replace it too)."""
    if not peering:
        return {"ids": [], "items": []}
    resource_id = store.peering_id(peering)
    item = dynamodb.get_item(TableName=table, Key=store.resource_key(locks.network, resource_id),
                             ConsistentRead=True).get("Item")
    if item is None:
        return {"ids": [resource_id], "items": []}
    others = set(store.from_item(item).get("users", [])) - {locks.connection_id}
    return {"ids": [resource_id], "items": [
        stop_using(table, locks.network, resource_id, locks.connection_id) if others else
        forget_resource(table, locks.network, resource_id)]}


def network_resources(dynamodb: DynamoDBClient, table: str, network: str) -> dict[str, dict[str, Any]]:
    """Every resource item of a network, by id."""
    found: dict[str, dict[str, Any]] = {}
    arguments: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "pk = :pk",
                                 "ExpressionAttributeValues": {":pk": {"S": f"network#{network}"}},
                                 "ConsistentRead": True}
    while True:
        page = dynamodb.query(**arguments)
        for item in page.get("Items", []):
            values = store.from_item(item)
            values.setdefault("users", [])
            found[values["resourceId"]] = values
        if "LastEvaluatedKey" not in page:
            return found
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# Outcomes -------------------------------------------------------------------------------------------------


def record_connected(dynamodb: DynamoDBClient, table: str, locks: Locks, state: Mapping[str, Any]
                     ) -> tuple[list[str], dict[str, Any] | None]:
    """The verified connection: what it relies on counted, its item CONNECTED with the connect's output (and
    HEALTHY, when a check has recorded its health), its locks released, in one transaction. Returns the ids of
    the resources it relies on, and `Connection Restored` when this run repaired a DEGRADED connection."""
    facts = state["discovery"]
    current = store.connection_values(dynamodb, table, locks.connection_id)
    if _recorded_by(current, locks.execution_arn, "CONNECTED"):  # this step run again (a retry)
        assert current is not None
        return list(current["relies"]), _restored(current, locks.execution_arn)
    resources = relied_resources(state)
    # A resource's creator by tag counts as a user only while the registry does not know it (a connection
    # made before the registry): a registered one says itself what it relies on.
    owners = {user for resource in resources for user in resource["users"]} - {locks.connection_id}
    registered = {owner for owner in owners if store.get_connection(dynamodb, table, owner) is not None}
    for resource in resources:
        resource["users"] = [user for user in resource["users"] if user not in registered]
    relies = sorted({*(current or {}).get("relies", []), *(resource["resourceId"] for resource in resources)}
                    if (current or {}).get("network") == locks.network else
                    {resource["resourceId"] for resource in resources})
    gone = _stop_relying_on_gone_peering(dynamodb, table, locks, facts.get("gonePeering"))
    relies = [resource_id for resource_id in relies if resource_id not in gone["ids"]]
    database = facts["database"]
    changes = {
        "state": "CONNECTED", "relies": relies, "network": locks.network, "mode": facts["mode"],
        "database": {"identifier": database["identifier"], "accountId": database["accountId"],
                     "region": database["region"], "vpcId": database["vpcId"]},
        "result": state.get("result"),
        **_verified_health(current),
    }
    transact(dynamodb, [
        *(use_resource(table, locks.network, resource) for resource in resources),
        *gone["items"],
        put_connection(table, locks.connection_id, current, changes, drop=("lastError",)),
        *locks.release_items(),
    ])
    return relies, _restored({**(current or {}), **changes}, locks.execution_arn)


def _verified_health(current: Mapping[str, Any] | None) -> dict[str, Any]:
    """Verify has just checked what a check checks: a connection with a recorded health is HEALTHY, since now
    if it was DEGRADED."""
    health = (current or {}).get("health")
    if not health:
        return {}
    at = store.now()
    return {"health": {"state": "HEALTHY", "since": health["since"] if health["state"] == "HEALTHY" else at,
                       "lastCheckedAt": at}}


def _restored(item: Mapping[str, Any], execution_arn: str) -> dict[str, Any] | None:
    """`Connection Restored`, when the item's health became HEALTHY after this run took its locks: only its own
    record can have done so (a check leaves a connection that is not CONNECTED alone), retried or not."""
    health = item.get("health")
    started = next((run["startedAt"] for run in item.get("executions", []) if run["executionArn"] == execution_arn),
                   None)
    if not health or health["state"] != "HEALTHY" or started is None or health["since"] <= started:
        return None
    return {"detailType": "Connection Restored", "detail": {"connectionId": item["connectionId"], "health": health}}


def _recorded_by(current: Mapping[str, Any] | None, execution_arn: str, state: str) -> bool:
    return bool(current and current.get("currentExecutionArn") == execution_arn and current.get("state") == state)


def record_failure(dynamodb: DynamoDBClient, table: str, locks: Locks | None, connection_id: str,
                   execution_arn: str, workflow: Workflow, error: Mapping[str, Any], cause: str,
                   request: Mapping[str, Any] | None = None, run: Mapping[str, Any] | None = None) -> str | None:
    """A run that failed: its connection's item says so, if this run is the connection's current one, and
    its locks are released. A connect that fails on a connection that was connected leaves it CONNECTED
    (its rollback removes only what it added) with the error; else the connection is FAILED.

    A connect that failed before taking its locks (the database was not found, ...) is recorded only when
    the connection has no item yet. `run`: the connect's state, whose Record the connection may have gone
    through before its answer was lost (its rollback has removed what the record counts). Returns the state
    written, if any."""
    current = store.connection_values(dynamodb, table, connection_id)
    last_error = {"error": str(error.get("Error") or "Error"), "cause": cause}
    state: str | None = None
    uncount: list[dict[str, Any]] = []
    if (workflow == "connect" and run is not None and _recorded_by(current, execution_arn, "CONNECTED")
            and locks is not None and not run["discovery"].get("connected")):
        assert current is not None
        uncount = _uncount(dynamodb, table, locks.network, connection_id, run)
        current = {**current, "relies": []}
    if current is not None and current.get("currentExecutionArn") == execution_arn:
        state = "CONNECTED" if workflow == "connect" and current.get("relies") else "FAILED"
        write = put_connection(table, connection_id, current, {"state": state, "lastError": last_error})
    elif current is None and workflow == "connect":
        state = "FAILED"
        write = put_connection(table, connection_id, None, {
            "state": state, "lastError": last_error, "currentExecutionArn": execution_arn,
            "currentWorkflow": workflow, "executions": _with_execution(None, execution_arn, workflow),
            "request": dict(request or {})})
    elif current is not None and (current.get("accepted") or {}).get("executionArn") == execution_arn:
        # Started by the API or the CLI, it failed before taking the lock: the connection is as it was.
        write = put_connection(table, connection_id, current, {"accepted": {
            **current["accepted"], "status": current["state"], **last_error}})
    else:
        write = None
    if write is not None:
        try:
            transact(dynamodb, [*uncount, write])
        except ClientError as error_:
            if error_code(error_) != "TransactionCanceledException":
                raise
            state = None  # another run has made the item its own since: its outcome is the one to keep
    if locks is not None:
        locks.release()
    return state


def _uncount(dynamodb: DynamoDBClient, table: str, network: str, connection_id: str,
             run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Undo what a connect's Record the connection counted, once its rollback has removed what the run made:
    the resources it made for this connection and nobody else uses are forgotten, the others no longer
    count it as a user."""
    writes = []
    for resource in relied_resources(run):
        found = dynamodb.get_item(TableName=table, Key=store.resource_key(network, resource["resourceId"]),
                                  ConsistentRead=True).get("Item")
        if found is None:
            continue
        item = store.from_item(found)
        alone = not set(item.get("users") or []) - {connection_id}
        if item.get("origin") == "created" and item.get("createdFor") == connection_id and alone:
            writes.append(forget_resource(table, network, resource["resourceId"]))
        else:
            writes.append(stop_using(table, network, resource["resourceId"], connection_id))
    return writes


def record_disconnected(dynamodb: DynamoDBClient, table: str, locks: Locks, state: Mapping[str, Any]) -> None:
    """After a complete removal: the resources the connection was the last user of are forgotten, it no
    longer counts as a user of the others, its item is DISCONNECTED, its locks released: one transaction."""
    plan = state["registry"]
    current = store.connection_values(dynamodb, table, locks.connection_id)
    if _recorded_by(current, locks.execution_arn, "DISCONNECTED"):  # this step run again (a retry)
        return
    removed, registered = set(plan["removes"]), set(plan["registered"])
    network = plan["network"]
    writes = [forget_resource(table, network, rid) if rid in removed else
              stop_using(table, network, rid, locks.connection_id)
              for rid in plan["relies"] if rid in registered]
    writes.append(put_connection(table, locks.connection_id, current, {
        "state": "DISCONNECTED", "relies": [], "result": state.get("result")}, drop=("lastError",)))
    transact(dynamodb, [*writes, *locks.release_items()])


# Health ----------------------------------------------------------------------------------------------------


def record_health(dynamodb: DynamoDBClient, table: str, connection_id: str, problem: Mapping[str, Any] | None
                  ) -> dict[str, Any] | None:
    """A read-only check's outcome in a CONNECTED connection's item: `health` HEALTHY, or DEGRADED with the
    `problem` (the check's error name, cause and drift ids); `since` when it became so, `lastCheckedAt` now. Returns
    the result event when the health changed (`Connection Degraded`, `Connection Restored`), else None. A
    connection that is not CONNECTED (a run is changing it, or it is gone) is left alone."""
    current = store.connection_values(dynamodb, table, connection_id)
    if current is None or current.get("state") != "CONNECTED":
        return None
    at = store.now()
    previous = current.get("health") or {"state": "HEALTHY", "since": current.get("updatedAt", at)}
    state = "DEGRADED" if problem else "HEALTHY"
    health = {"state": state, "since": previous["since"] if previous["state"] == state else at,
              "lastCheckedAt": at, **({key: problem[key] for key in ("error", "cause", "drift")} if problem else {})}
    write = put_connection(table, connection_id, current, {"health": health})["Put"]
    # updatedAt is when a run last changed the connection; a check changes only its health, which has its times.
    write["Item"]["updatedAt"] = {"S": current["updatedAt"]}
    try:
        dynamodb.put_item(**write)  # one item: a conditional put, not a transaction
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
        return None  # a run took the connection since it was read: its outcome is the one to keep
    if previous["state"] == state:
        return None
    return {"detailType": "Connection Degraded" if problem else "Connection Restored",
            "detail": {"connectionId": connection_id, "health": health}}
