"""The `nekt-peering` command: the same connections as the REST API (nekt_peering.api.connections),
driven from a terminal against a deployed stack, or against the emulator with --endpoint-url.

Exit codes: 0 done (connected, planned, disconnected, or a status that is not a failure),
1 failed (the workflow, or AWS, or no such stack/connection), 2 bad usage.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from nekt_peering.api import connections
from nekt_peering.api.connections import Refused
from nekt_peering_cli import deployment, operator_commands, render
from nekt_peering_cli.deployment import Deployment, Unusable

app = typer.Typer(
    name="nekt-peering", no_args_is_help=True, add_completion=False, rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Connect a private AWS database (RDS/Aurora, Redshift, on EC2, or by address) to the Nekt VPC through a "
         "deployed nekt-peering stack.",
)


class Mode(StrEnum):
    auto = "auto"
    peering = "peering"
    public = "public"
    resource_endpoint = "resource-endpoint"


class Kind(StrEnum):
    rds = "rds"
    redshift = "redshift"
    redshift_serverless = "redshift-serverless"
    docdb = "docdb"
    ec2 = "ec2"
    address = "address"


# The request options of connect and plan (the request's database.* fields; its schema says which kind takes which).
DatabaseOption = Annotated[str | None, typer.Option(
    "--db", help="rds: the DB instance or Aurora cluster identifier; redshift, docdb: the cluster identifier; "
                 "redshift-serverless: the workgroup's name; "
                 "ec2, address: optional, the name the connection carries.")]
KindOption = Annotated[Kind, typer.Option(help="Where the database runs: rds, redshift, redshift-serverless, docdb, "
                                               "ec2 (--instance-id, --port) or address (--host, --port, --vpc-id).")]
InstanceIdOption = Annotated[str | None, typer.Option(help="ec2: the instance the database runs on.")]
HostOption = Annotated[str | None, typer.Option(
    help="address: the database's private IPv4 address, or a private DNS name (a Route 53 private hosted zone's).")]
PortOption = Annotated[int | None, typer.Option(help="ec2, address: the port the database listens on.")]
VpcIdOption = Annotated[str | None, typer.Option(help="address: the VPC the address is in.")]
EngineOption = Annotated[str | None, typer.Option(
    help="ec2, address: postgres, mysql, mariadb, sqlserver, oracle, mongodb or redshift (the probe's protocol).")]
DatabaseRegionOption = Annotated[str | None, typer.Option(
    "--region", help="The database's region (default: the stack's).")]
ModeOption = Annotated[Mode, typer.Option(help="auto: public path for a publicly accessible database.")]
ConnectionIdOption = Annotated[str | None, typer.Option(help="Names the connection (default: the identifier).")]


class Endpoint(StrEnum):
    writer = "writer"
    reader = "reader"


EndpointOption = Annotated[Endpoint, typer.Option(help="An Aurora cluster's endpoint Nekt connects to.")]


@dataclass
class Target:
    """Where the commands act; the stack is looked up only when a command needs it."""

    stack: str
    profile: str | None
    region: str | None
    endpoint_url: str | None
    console: Console
    _found: Deployment | None = None

    def deployment(self) -> Deployment:
        if self._found is None:
            try:
                self._found = deployment.find(self.stack, self.profile, self.region, self.endpoint_url)
            except Unusable as error:
                self.console.print(f"[red]error[/red]: {error}", soft_wrap=True)
                raise typer.Exit(error.exit_code) from None
        return self._found


@app.callback()
def main_options(
    context: typer.Context,
    stack: Annotated[str, typer.Option(help="The deployed stack's name (default: samconfig.toml's, else nekt-peering).",
                                       show_default=False)] = "",
    profile: Annotated[str | None, typer.Option(help="AWS profile (default: the standard credential chain).")] = None,
    region: Annotated[str | None, typer.Option(help="The stack's region (default: your AWS config's).")] = None,
    endpoint_url: Annotated[str | None, typer.Option(
        help="Send every AWS call here, e.g. the emulator of `make demo --keep`.")] = None,
) -> None:
    width = None if Console().is_terminal else 120
    context.obj = Target(stack or deployment.default_stack(), profile, region,
                         endpoint_url or os.environ.get("NEKT_PEERING_ENDPOINT_URL"),
                         Console(highlight=False, width=width))


def _target(context: typer.Context) -> Target:
    target: Target = context.obj
    return target


@app.command()
def connect(
    context: typer.Context,
    db: DatabaseOption = None,
    region: DatabaseRegionOption = None,
    mode: ModeOption = Mode.auto,
    connection_id: ConnectionIdOption = None,
    endpoint: EndpointOption = Endpoint.writer,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan only: list the changes, make none.")] = False,
    kind: KindOption = Kind.rds,
    instance_id: InstanceIdOption = None,
    host: HostOption = None,
    port: PortOption = None,
    vpc_id: VpcIdOption = None,
    engine: EngineOption = None,
) -> None:
    """Connect a database, following each stage until it is connected (or rolled back)."""
    database = _database(db, kind, instanceId=instance_id, host=host, port=port, vpcId=vpc_id, engine=engine)
    _run_connect(_target(context), _request(database, region, mode, connection_id, dry_run, endpoint))


@app.command()
def plan(
    context: typer.Context,
    db: DatabaseOption = None,
    region: DatabaseRegionOption = None,
    mode: ModeOption = Mode.auto,
    connection_id: ConnectionIdOption = None,
    endpoint: EndpointOption = Endpoint.writer,
    kind: KindOption = Kind.rds,
    instance_id: InstanceIdOption = None,
    host: HostOption = None,
    port: PortOption = None,
    vpc_id: VpcIdOption = None,
    engine: EngineOption = None,
) -> None:
    """Print the changes a connect would make (a dry run: nothing is changed)."""
    database = _database(db, kind, instanceId=instance_id, host=host, port=port, vpcId=vpc_id, engine=engine)
    _run_connect(_target(context), _request(database, region, mode, connection_id, True, endpoint))


@app.command()
def status(context: typer.Context,
           connection_id: Annotated[str, typer.Argument(help="The connection id (default: the identifier).")]) -> None:
    """A connection's status (the registry's), its current run's stage, its last result and error.
    Exit 1 when it is FAILED."""
    target = _target(context)
    found = _refusable(target, lambda: connections.find(target.deployment().machines, connection_id))
    render.connection_status(target.console, found)
    output = found.get("output")
    if isinstance(output, dict) and output.get("status") in ("CONNECTED", "PLANNED", "DISCONNECTED"):
        _result(target, "disconnect" if output["status"] == "DISCONNECTED" else "connect", output)
    if "error" in found:
        if found["status"] != "FAILED":
            target.console.print(f"\n[yellow]its last {found['workflow']} failed[/yellow]"
                                 + (" and was rolled back" if found.get("rolledBack") else "")
                                 + f"; it is still {found['status']}")
        render.failure(target.console, {"error": found["error"], "cause": found.get("cause"),
                                        "status": found["status"], "executionArn": found["executionArn"]})
    if found["status"] == "FAILED":
        raise typer.Exit(1)


@app.command("list")
def list_connections(
    context: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Connections per page.")] = 20,
    next_token: Annotated[str | None, typer.Option(help="The page after the one that printed this token.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every page, one after the other.")] = False,
) -> None:
    """The registry's connections, newest first, a page at a time."""
    target = _target(context)
    machines = target.deployment().machines
    token, shown = next_token, 0
    while True:
        page, token = _refusable(target, functools.partial(connections.connections, machines, limit, token))
        if page:
            render.connection_list(target.console, page)
        shown += len(page)
        if not (every and token):
            break
    if not shown and not next_token:
        target.console.print(f"no connections in stack {target.deployment().stack}")
    if every:
        target.console.print(f"{shown} connection(s)")
    elif token:
        target.console.print(f"more: nekt-peering list --limit {limit} --next-token {token}", soft_wrap=True)


@app.command()
def disconnect(context: typer.Context,
               connection_id: Annotated[str, typer.Argument(help="The connection id.")]) -> None:
    """Remove what the connection created (its peering, routes and rule, or its resource endpoint, share and
    configuration), following each stage."""
    target = _target(context)
    cid, execution_arn = _refusable(
        target, lambda: connections.start_disconnect(target.deployment().machines, connection_id))
    target.console.print(f"disconnecting {cid}: {execution_arn}", soft_wrap=True)
    _finish(target, "disconnect", execution_arn)


@app.command()
def repair(context: typer.Context,
           connection_id: Annotated[str, typer.Argument(help="The connection id.")]) -> None:
    """Put back what a connected connection relies on and has drifted (a route, the rule, the DNS option...): a
    connect of its recorded request, following each stage; what is in place is left alone, and a failure removes
    only what the repair added. Refused (PlanChanged) when the database has moved: connect again."""
    target = _target(context)
    cid, execution_arn = _refusable(target, lambda: connections.start_repair(target.deployment().machines,
                                                                             connection_id))
    target.console.print(f"repairing {cid}: {execution_arn}", soft_wrap=True)
    _finish(target, "connect", execution_arn)


@app.command()
def probe(context: typer.Context,
          connection_id: Annotated[str, typer.Argument(help="The connection id.")]) -> None:
    """Re-check a connected connection's path without changing anything: its resources, the network ACLs,
    and the probe in the Nekt VPC reaching the database. Exit 1 when the path is broken."""
    target = _target(context)
    machines = target.deployment().machines
    cid, execution_arn = _refusable(target, lambda: connections.start_check(machines, connection_id))
    target.console.print(f"checking {cid}: {execution_arn}", soft_wrap=True)
    described = render.follow(machines.sfn, execution_arn, target.console)
    if described["status"] != "SUCCEEDED":
        render.failure(target.console, described)
        raise typer.Exit(1)
    output = json.loads(described["output"])
    target.console.print(f"\n[bold green]{output['status']}[/bold green]: {cid}")
    for check in output["checks"]:
        target.console.print(f"  [[green]ok[/green]] {check['check']}")
    target.console.print(f"  [bold]path[/bold]: {output['path']}", soft_wrap=True)
    if output.get("probe"):
        render.probe_facts(target.console, output["probe"])


@app.command()
def check(context: typer.Context,
          every: Annotated[bool, typer.Option("--all", help="Every connected connection: the health sweep.")] = False,
          ) -> None:
    """Run the health sweep now, as its schedule does: every connected connection re-checked without changing
    anything, its health recorded, each change published; then the connections by health. Exit 1 when one is
    DEGRADED (`nekt-peering status ID` shows what drifted). One connection: `nekt-peering probe ID`."""
    target = _target(context)
    if not every:
        target.console.print("[red]error[/red]: say --all (the sweep); one connection: nekt-peering probe ID")
        raise typer.Exit(2)
    found = target.deployment()
    sweep_arn = found.outputs.get("SweepStateMachineArn")
    if not sweep_arn:
        target.console.print(f"[red]error[/red]: stack {found.stack} has no health sweep (no output "
                             "SweepStateMachineArn): update it to this version (sam deploy)", soft_wrap=True)
        raise typer.Exit(1)
    sfn = found.machines.sfn
    execution_arn = sfn.start_execution(stateMachineArn=sweep_arn, name=f"check-all-{uuid.uuid4()}",
                                        input="{}")["executionArn"]
    while True:  # a long sweep goes on in a new execution of itself: follow it to the last
        target.console.print(f"sweeping: {execution_arn}", soft_wrap=True)
        described = render.follow(sfn, execution_arn, target.console)
        if described["status"] != "SUCCEEDED":
            render.failure(target.console, described)
            raise typer.Exit(1)
        output = json.loads(described["output"])
        if "executionArn" not in output:
            break
        execution_arn = output["executionArn"]
    target.console.print(f"\n[bold]{output['HEALTHY']}[/bold] healthy, [bold]{output['DEGRADED']}[/bold] degraded")
    if output["DEGRADED"]:
        raise typer.Exit(1)


def _database(db: str | None, kind: Kind, **fields: Any) -> dict[str, Any]:
    """The request's database as the options name it: only the options given (the schema, checked where the
    connect starts, refuses a missing or a misplaced one by name, exit 2)."""
    return ({"kind": kind.value} if kind != Kind.rds else {}) | ({"identifier": db} if db is not None else {}) | {
        key: value for key, value in fields.items() if value is not None}


def _request(database: dict[str, Any], region: str | None, mode: Mode, connection_id: str | None, dry_run: bool,
             endpoint: Endpoint = Endpoint.writer) -> dict[str, Any]:
    database = database | ({"region": region} if region else {}) | (
        {"endpoint": endpoint.value} if endpoint != Endpoint.writer else {})
    body: dict[str, Any] = {"database": database, "mode": mode.value, "dryRun": dry_run}
    if connection_id is not None:
        body["connectionId"] = connection_id
    return body


def _run_connect(target: Target, body: dict[str, Any]) -> None:
    found = target.deployment()
    cid, execution_arn = _refusable(target, lambda: connections.start_connect(found.machines, body, found.region))
    target.console.print(f"{'planning' if body['dryRun'] else 'connecting'} {cid}: {execution_arn}", soft_wrap=True)
    _finish(target, "connect", execution_arn)


def _finish(target: Target, workflow: str, execution_arn: str) -> None:
    described = render.follow(target.deployment().machines.sfn, execution_arn, target.console)
    if described["status"] != "SUCCEEDED":
        render.failure(target.console, described)
        raise typer.Exit(1)
    _result(target, workflow, json.loads(described["output"]))


def _result(target: Target, workflow: str, output: dict[str, Any]) -> None:
    if workflow == "disconnect":
        render.disconnected(target.console, output)
    elif output.get("status") == "PLANNED":
        render.planned(target.console, output)
    else:
        render.connected(target.console, output)


def _refusable(target: Target, call: Any) -> Any:
    """Run a connections call; a refusal is printed, exit 2 when the request itself is malformed."""
    try:
        return call()
    except Refused as refused:
        target.console.print(f"[red]refused[/red]: {refused.message}", soft_wrap=True)
        for error in refused.errors:
            target.console.print(f"  {error['field']}: {error['message']}", soft_wrap=True)
        raise typer.Exit(2 if refused.status == 400 else 1) from None


operator_commands.register(app)  # onboard, offboard: Nekt's side of a customer


def main() -> None:
    """The console script: an AWS refusal or an unreachable endpoint is a failure (1), not a traceback."""
    try:
        app()
    except ClientError as error:
        refusal = error.response.get("Error", {})
        _stderr(f"error: AWS refused {error.operation_name}: {refusal.get('Code', '')}: {refusal.get('Message', '')}")
        sys.exit(1)
    except BotoCoreError as error:
        _stderr(f"error: {error}")
        sys.exit(1)


def _stderr(message: str) -> None:
    Console(stderr=True, highlight=False).print(message, soft_wrap=True)
