"""What the CLI shows: an execution's stages as they happen, and its result as tables."""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console
from rich.table import Table

from nekt_peering.api.connections import console_link
from nekt_peering.core.aws import error_code
from nekt_peering.core.errors import WHAT_TO_DO, cause_message

# The states that are stages of the work (a Lambda task) or waits; Pass and Choice states are plumbing.
SHOWN_STATE_TYPES = ("Task", "Wait")


def follow(sfn: Any, execution_arn: str, console: Console, poll_seconds: float = 0.5) -> dict[str, Any]:
    """Print each stage as it starts and ends, with the time since the start, until the execution
    ends; return its DescribeExecution."""
    shown = 0
    started: float | None = None
    entered: dict[str, float | None] = {}
    current = "starting"
    status = console.status("starting") if console.is_terminal else None
    if status:
        status.start()
    try:
        while True:
            try:
                described = sfn.describe_execution(executionArn=execution_arn)
                events = _history(sfn, execution_arn)
            except ClientError as error:
                # Step Functions' reads are eventually consistent: an execution just started may be unknown.
                if error_code(error) != "ExecutionDoesNotExist":
                    raise
                described, events = {"status": "RUNNING"}, []
            for event in events[shown:]:
                moment = event["timestamp"].timestamp()
                started = moment if started is None else started
                line, current = _line(event, moment - started, entered, current)
                if line:
                    console.print(line)
            shown = len(events)
            if described["status"] != "RUNNING":
                return dict(described)
            if status and started is not None:
                status.update(f"{current} … {time.time() - started:.0f}s")
            time.sleep(poll_seconds)
    finally:
        if status:
            status.stop()


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += page["events"]
    return sorted(events, key=lambda event: event["id"])


def _line(event: dict[str, Any], elapsed: float, entered: dict[str, float | None],
          current: str) -> tuple[str | None, str]:
    """The line for a history event, if it is worth one, and the state the execution is in.
    `entered` maps a state to when it was entered, None once it has failed (its exit is no success)."""
    kind: str = event["type"]
    at = f"[dim]{elapsed:7.2f}s[/dim]"
    if kind.endswith("StateEntered") and kind.removesuffix("StateEntered") in SHOWN_STATE_TYPES:
        name = event["stateEnteredEventDetails"]["name"]
        entered[name] = elapsed
        return f"{at}  ▶ {name}", name
    if kind.endswith("StateExited") and kind.removesuffix("StateExited") in SHOWN_STATE_TYPES:
        name = event["stateExitedEventDetails"]["name"]
        since = entered.get(name, elapsed)
        if since is None:
            return None, current
        return f"{at}  [green]✓[/green] {name} [dim]({elapsed - since:.2f}s)[/dim]", current
    details = next((value for key, value in event.items() if key.endswith("FailedEventDetails")), None)
    if kind != "ExecutionFailed" and isinstance(details, dict) and details.get("error"):
        entered[current] = None
        return f"{at}  [red]✗[/red] {current}: {details['error']}", current
    return None, current


def failure(console: Console, described: dict[str, Any]) -> None:
    error = described.get("error") or described["status"]
    cause = cause_message(described["cause"]) if described.get("cause") else "(no cause given)"
    cause = cause.removeprefix(f"{error}: ")  # the rollback's cause repeats the error name
    console.print(f"\n[bold red]FAILED[/bold red]: [bold]{error}[/bold]")
    console.print(f"  [bold]Cause[/bold]: {cause}", soft_wrap=True)
    todo = WHAT_TO_DO.get(error, "Open the execution in the Step Functions console and look at the failed step.")
    console.print(f"  [bold]What to do[/bold]: {todo}", soft_wrap=True)
    console.print(f"  [bold]Execution[/bold]: {console_link(described['executionArn'])}", soft_wrap=True)


def connected(console: Console, result: dict[str, Any]) -> None:
    database = result["database"]
    console.print(f"\n[bold green]{result['status']}[/bold green]: {database['identifier']} "
                  f"({database['endpoint']}:{database['port']}) by {result['mode']}")
    if result.get("hostname") and result["hostname"] != database["endpoint"]:
        console.print(f"  Nekt connects to [bold]{result['hostname']}:{database['port']}[/bold]", soft_wrap=True)
    table = Table("What", "Where", "Detail", "", title=f"connection {result['connectionId']}", title_justify="left")
    pcx = result.get("peeringConnectionId")
    if pcx:
        table.add_row("peering", pcx, f"{database['vpcId']} ({database['accountId']}, {database['region']}) "
                                      "→ Nekt VPC", "")
    for route in result["routes"]:
        table.add_row(f"route ({route['side']})", route["routeTableId"], f"{route['destinationCidr']} → {pcx}",
                      _made(route["created"]))
    resource_path = result.get("resourcePath")
    if resource_path:
        table.add_row("resource gateway", resource_path["resourceGatewayId"], f"in {database['vpcId']}", "")
        table.add_row("configuration", resource_path["resourceConfigurationArn"] or "", f"{database['identifier']}", "")
        if resource_path.get("resourceShareArn"):
            table.add_row("RAM share", resource_path["resourceShareArn"], "accepted by the Nekt account", "")
        table.add_row("resource endpoint", resource_path["vpcEndpointId"], str(result.get("hostname")), "")
        for name in resource_path.get("names") or []:
            table.add_row(f"  {name['role']}", name["privateDnsName"] or name["dnsName"], name.get("domainName") or "",
                          "" if name["accessible"] else "not accessible")
    ingress = result["ingress"]
    if ingress:
        table.add_row("ingress rule", ingress["groupId"],
                      f"tcp/{ingress['port']} from {ingress['cidr']} ({ingress.get('ruleId') or 'rule'})",
                      _made(ingress["created"]))
    dns = result.get("dnsResolution")
    if dns and dns.get("needed", True):
        table.add_row("DNS resolution", f"{dns['side']} side", "AllowDnsResolutionFromRemoteVpc on",
                      "changed" if dns["changed"] else "was on")
    elif dns:  # a private database: the option would change nothing
        table.add_row("DNS resolution", "not needed", str(dns.get("reason", "")), "")
    console.print(table)
    for check in result["checks"]:
        mark = "[green]ok[/green]" if check["ok"] else "[red]FAILED[/red]"
        console.print(f"  [{mark}] {check['check']}")
    console.print(f"  [bold]path[/bold]: {result.get('path') or 'not probed'}", soft_wrap=True)
    tls = (resource_path or {}).get("tls")
    if tls:
        console.print(f"  [bold]TLS[/bold]: {tls['advice']}", soft_wrap=True)
    if result.get("probe"):
        probe_facts(console, result["probe"])


def probe_facts(console: Console, facts: dict[str, Any]) -> None:
    """What the probe in the Nekt VPC saw: resolution, TCP, the server's answer."""
    table = Table("Probe", "Fact", title=f"from the Nekt VPC to {facts['host']}:{facts['port']} ({facts['engine']})",
                  title_justify="left")
    resolved = ", ".join(a["address"] + _where(a.get("insideDatabaseVpc")) for a in facts.get("addresses", [])) \
        or "nothing"
    table.add_row("DNS", resolved)
    if "tcpConnectMs" in facts:
        table.add_row("TCP", f"connected to {facts['connectedTo']}:{facts['port']} in {facts['tcpConnectMs']} ms")
    handshake = facts.get("handshake")
    if handshake:
        table.add_row("handshake", handshake.get("summary") or handshake.get("note", ""))
    if facts.get("failedStage"):
        table.add_row(f"[red]failed: {facts['failedStage']}[/red]", facts.get("detail", ""))
    console.print(table)


def _where(inside: bool | None) -> str:
    """Whether an address is in the database's VPC; None: not asked (a resource endpoint's, in Nekt's VPC)."""
    return "" if inside is None else f" ({'inside' if inside else 'outside'} the database VPC)"


def planned(console: Console, plan: dict[str, Any]) -> None:
    changes = plan.get("changes", [])
    console.print(f"\n[bold]PLANNED[/bold]: {len(changes)} change(s), nothing done yet, by {plan.get('mode')}")
    if plan.get("modeReason") and plan["modeReason"] != "requested":
        console.print(f"  {plan['modeReason']}", soft_wrap=True)
    table = Table("#", "AWS call", "Change")
    for number, change in enumerate(changes, 1):
        table.add_row(str(number), change["action"], change["summary"])
    console.print(table)


def disconnected(console: Console, result: dict[str, Any]) -> None:
    console.print(f"\n[bold green]{result['status']}[/bold green]: {result['connectionId']}")
    removed = result.get("removed", [])
    if not removed:
        console.print("  nothing to remove: the connection owned nothing (already disconnected, or never made)")
    for item in removed:
        console.print(f"  removed {item}")


def connection_status(console: Console, connection: dict[str, Any]) -> None:
    table = Table(show_header=False, title=f"connection {connection['connectionId']}", title_justify="left")
    table.add_row("status", f"[bold]{connection['status']}[/bold]")
    database = connection.get("database")
    if database:
        table.add_row("database", f"{database['identifier']} ({database['accountId']}, {database['region']}, "
                                  f"{database.get('vpcId') or 'no VPC'})")
    table.add_row("workflow", f"{connection['workflow']} ({connection['executionStatus']})")
    table.add_row("stage", str(connection["stage"]))
    table.add_row("started", str(connection["startedAt"]))
    table.add_row("stopped", str(connection.get("stoppedAt") or "—"))
    if "createdAt" in connection:
        table.add_row("created", str(connection["createdAt"]))
        table.add_row("updated", str(connection["updatedAt"]))
    if connection.get("health"):
        table.add_row("health", _health(connection["health"]))
    table.add_row("request", json.dumps(connection.get("request", {})))
    if connection.get("relies"):
        table.add_row("relies on", "\n".join(connection["relies"]))
    table.add_row("execution", connection["executionArn"])
    if connection["source"] == "executions":
        table.add_row("source", "its executions (no registry item yet: made before the registry, or only "
                                "dry-run, or started a moment ago)")
    console.print(table)


def connection_list(console: Console, connections: list[dict[str, Any]]) -> None:
    table = Table("Connection", "Status", "Health", "Workflow", "Database", "Created", "Updated")
    for connection in connections:
        database = connection.get("database")
        health = connection.get("health")
        table.add_row(connection["connectionId"], connection["status"],
                      "\n".join(filter(None, (health["state"], health.get("error")))) if health else "—",
                      connection["workflow"], f"{database['identifier']} ({database['region']})" if database else "—",
                      str(connection["createdAt"]), str(connection["updatedAt"]))
    console.print(table)


def _health(health: dict[str, Any]) -> str:
    state = "green" if health["state"] == "HEALTHY" else "yellow"
    lines = [f"[{state}]{health['state']}[/{state}] since {health['since']} (last checked {health['lastCheckedAt']})"]
    if "error" in health:
        lines.append(f"{health['error']}: {health['cause']}")
    return "\n".join(lines)


def _made(created: bool) -> str:
    return "created" if created else "existed"
