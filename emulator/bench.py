"""`make bench`: what a connection costs, measured on the emulated AWS; writes docs/benchmarks.md.

Counts and ratios measured in one run, so they hold on a noisy machine: AWS API calls by
operation, state transitions and Lambda invocations, import time against `import boto3`,
package size, workflow overhead, and 20 concurrent connects against one. Beside the calls each path
makes, what a connection by that path costs a month on AWS (emulator.costs: the price table and its sources).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session

from emulator.accounts import aws_calls, is_mutating, set_peering_status
from emulator.aws import emulated_aws
from emulator.costs import HOURS_PER_MONTH, PRICES, MonthlyCost, PathName, Payer, monthly_cost
from emulator.stack import DEFAULT_ACCOUNT, Execution, Stack
from emulator.template import ROOT, Template
from emulator.topology import create_database, create_nekt_network
from nekt_peering.registry import bookkeeping

OUTPUT = ROOT / "docs" / "benchmarks.md"
STEP_FUNCTIONS_PER_TRANSITION = 0.000025  # USD, Standard workflows, us-east-1 list price
LAMBDA_PER_REQUEST = 0.0000002  # USD
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334  # USD, arm64
ASSUMED_BILLED_SECONDS = 0.5  # per invocation: AWS calls dominate; the emulator cannot tell real latency
IMPORT_RUNS = 15
# Installed here, not in the Lambda runtime's python3.13, and loaded by botocore when present.
LAMBDA_RUNTIME_LACKS = ("awscrt", "OpenSSL")
DETECTION_RUNS = 5
CONCURRENT_CONNECTS = 20
TOPOLOGIES = {
    "same account, same region": {"nekt": {"account_id": DEFAULT_ACCOUNT, "region": "us-east-1"},
                                  "database_region": "us-east-1"},
    "cross-account + cross-region": {"nekt": {}, "database_region": "us-east-2"},
}
# Each path side by side: one connect by each, Nekt in its own account in the database's Region (the resource
# endpoint's case: same Region only, shared to another account). The peering across Regions is TOPOLOGIES'.
PATH_TOPOLOGIES: dict[str, dict[str, Any]] = {
    "peering": {"nekt": {}, "database_region": "us-east-1", "mode": "peering"},
    "public": {"nekt": {}, "database_region": "us-east-1", "mode": "public", "publicly_accessible": True},
    "resource-endpoint": {"nekt": {}, "database_region": "us-east-1", "mode": "resource-endpoint"},
}
NOT_IN_STATE_MACHINE = "not measured: the path is not in the state machine yet"
# The traffic a month's cost is priced for: the data between the database and Nekt (both directions, the database
# sending it all, as an extraction reads), over Nekt's two private subnets' zones (emulator.topology).
TRAFFIC_GB_PER_MONTH = 100
TRAFFIC_ZONES = 2


@dataclass
class ConnectCost:
    calls: Counter[tuple[str, str]]
    repeat_mutating: int
    transitions: int
    invocations: int
    polls: int
    accepts: int
    route_tables: int
    seconds: float


class PathNotInStateMachine(Exception):
    """The connect refused the mode as input: the state machine has no such path yet."""


def measure_connect(topology: dict[str, Any]) -> ConnectCost:
    """One connect of a new database, then a repeat of it; `mode` (auto when absent) and a publicly accessible
    database (`publicly_accessible`) as the topology says."""
    with emulated_aws():
        nekt = create_nekt_network(**topology["nekt"])
        database = create_database(region=topology["database_region"], cidr="10.20.0.0/16",
                                   publicly_accessible=topology.get("publicly_accessible", False))
        stack = Stack({**nekt.stack_parameters(), "PollIntervalSeconds": "0"}).deploy()
        execution_input: dict[str, Any] = {"database": {"identifier": database.identifier, "region": database.region}}
        if "mode" in topology:
            execution_input["mode"] = topology["mode"]
        try:
            with aws_calls() as calls:
                started = time.perf_counter()
                execution = stack.run(execution_input)
                seconds = time.perf_counter() - started
            if (execution.status == "FAILED" and execution.error == "InvalidInput"
                    and "mode" in (execution.error_message or "")):
                raise PathNotInStateMachine(execution.error_message)
            _require(execution)
            with aws_calls() as repeat_calls:
                _require(stack.run(execution_input))
        finally:
            stack.close()
    ours = Counter({call: n for call, n in calls.items() if call[0] != "lambda"})  # lambda = the workflow's tasks
    return ConnectCost(
        calls=ours,
        repeat_mutating=sum(n for call, n in repeat_calls.items() if call[0] != "dynamodb" and is_mutating(call[1])),
        transitions=len(execution.states_entered()),
        invocations=sum(event["type"] == "LambdaFunctionScheduled" for event in execution.history),
        polls=sum(event["type"] == "WaitStateEntered" for event in execution.history),  # each status poll waits once
        accepts=execution.states_entered().count("Accept peering"),
        route_tables=len(database.route_table_ids) + 1,  # the database's and Nekt's private one
        seconds=seconds,
    )


@dataclass
class SweepCost:
    """One connected connection's share of a sweep, and a sweep of SWEPT registry items."""

    calls: Counter[tuple[str, str]]  # what one connection adds to a sweep's AWS calls (the registry's included)
    transitions: int  # per connection: the sweep's with one connection, less an empty registry's
    invocations: int
    fixed_transitions: int  # a sweep's own, whatever the number of connections
    fixed_invocations: int
    history_events: int  # of the sweep of SWEPT items: the first execution's
    largest_payload: int  # bytes: its largest event's details
    executions: int


SWEPT = 1000
SWEEPS_PER_MONTH = HOURS_PER_MONTH  # the default SweepRate, rate(1 hour)


def _sweep(stack: Stack) -> Execution:
    execution = stack.wait(stack.fire_schedule(), timeout=3600)
    _require(execution)
    return execution


def _history(stack: Stack, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in stack.sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += [dict(event) for event in page["events"]]
    return events


def measure_sweep() -> SweepCost:
    """A sweep of an empty registry, then of one connected connection (what a connection adds), then of SWEPT
    registry items whose databases are gone (each check runs Discover to DatabaseNotFound): the history of one
    execution, which must stay within Step Functions' quotas (docs/health.md)."""
    with emulated_aws():
        nekt = create_nekt_network()
        database = create_database(region="us-east-2", cidr="10.20.0.0/16")
        stack = Stack({**nekt.stack_parameters(), "PollIntervalSeconds": "0"}).deploy()
        try:
            with aws_calls() as fixed_calls:
                empty = _sweep(stack)
            _require(stack.run({"database": {"identifier": database.identifier, "region": database.region}}))
            with aws_calls() as calls:
                one = _sweep(stack)
            seed_gone(stack, SWEPT)
            first = _sweep(stack)
            executions = [first]
            while executions[-1].output and "executionArn" in executions[-1].output:
                executions.append(stack.wait(executions[-1].output["executionArn"], timeout=3600))
                _require(executions[-1])
            history = _history(stack, first.arn)
        finally:
            stack.close()
    payloads = [len(json.dumps(details, default=str).encode()) for event in history for key, details in event.items()
                if key.endswith("EventDetails")]
    invoked = [sum(event["type"] == "LambdaFunctionScheduled" for event in run.history) for run in (empty, one)]
    return SweepCost(
        calls=Counter({call: n for call, n in (calls - fixed_calls).items() if call[0] != "lambda"}),
        transitions=len(one.states_entered()) - len(empty.states_entered()),
        invocations=invoked[1] - invoked[0], fixed_transitions=len(empty.states_entered()),
        fixed_invocations=invoked[0], history_events=len(history), largest_payload=max(payloads),
        executions=len(executions))


def seed_gone(stack: Stack, count: int) -> None:
    """`count` connected connections, as a connect records them, of databases that are gone."""
    dynamodb = boto3.client("dynamodb", region_name=stack.region)
    table = stack.tables["ConnectionsTable"]
    items = [bookkeeping.put_connection(table, f"gone-{n:05}", None, {
        "state": "CONNECTED", "request": {"database": {"identifier": f"gone-{n:05}", "region": "us-east-2"}},
        "mode": "peering", "relies": [], "executions": [], "currentExecutionArn": "", "currentWorkflow": "connect",
    })["Put"]["Item"] for n in range(count)]
    for start in range(0, count, 25):
        dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}}
                                                        for item in items[start:start + 25]]})


def render_sweep(sweep: SweepCost) -> list[str]:
    per_connection = sum(sweep.calls.values())
    dollars = workflow_dollars(sweep.transitions, sweep.invocations) * SWEEPS_PER_MONTH
    fixed = workflow_dollars(sweep.fixed_transitions, sweep.fixed_invocations) * SWEEPS_PER_MONTH
    lines = ["## The health sweep", "",
             f"At the default `SweepRate`, `rate(1 hour)`: {SWEEPS_PER_MONTH} sweeps a month. One connected connection "
             "(peering, across accounts and Regions, no probe) swept; what it adds is the sweep with it less the "
             "sweep of an empty registry ([Health](health.md)).", "",
             "| | a sweep | a month |", "|---|---:|---:|",
             f"| state transitions, per connection | {sweep.transitions} | {sweep.transitions * SWEEPS_PER_MONTH:,} |",
             f"| Lambda invocations, per connection | {sweep.invocations} | "
             f"{sweep.invocations * SWEEPS_PER_MONTH:,} |",
             f"| AWS API calls, per connection (registry included) | {per_connection} | "
             f"{per_connection * SWEEPS_PER_MONTH:,} |",
             f"| workflow cost, per connection | ${dollars / SWEEPS_PER_MONTH:.5f} | **${dollars:.2f}** |",
             f"| the sweep's own (transitions, invocations), whatever the connections | {sweep.fixed_transitions}, "
             f"{sweep.fixed_invocations} | ${fixed:.2f} |", "",
             "The calls one connection adds (its check, and its health written):", "", "| call | count |",
             "|---|---:|"]
    lines += [f"| {service}:{op} | {n} |" for (service, op), n in sorted(sweep.calls.items())]
    lines += ["", f"A sweep of **{SWEPT:,}** registry items (databases gone: each check runs Discover to "
              f"`DatabaseNotFound`): its first execution's history has **{sweep.history_events:,}** events "
              f"({sweep.history_events / SWEPT:.1f} per connection, each check publishing a health change: the "
              "most a connection adds; the quota is 25,000), its largest event "
              f"**{sweep.largest_payload:,}** bytes (the quota is 262,144); {sweep.executions} execution(s) in all "
              "(the tenth page ends with a page token, so a second execution reads an empty page and counts).", ""]
    return lines


def measure_paths() -> dict[str, ConnectCost | str]:
    """A connect by each path of PATH_TOPOLOGIES, or why it was not measured."""
    measured: dict[str, ConnectCost | str] = {}
    for path, topology in PATH_TOPOLOGIES.items():
        try:
            measured[path] = measure_connect(topology)
        except PathNotInStateMachine:
            measured[path] = NOT_IN_STATE_MACHINE
    return measured


def _require(execution: Execution) -> None:
    if execution.status != "SUCCEEDED":
        raise RuntimeError(f"benchmark connect failed: {execution.error}: {execution.error_message}")


def measure_detection_delay() -> tuple[float, float]:
    """How long after AWS reports the peering ready the workflow moves on, beyond the wait itself:
    the status check's own latency and the state transitions. Returns (median, max) seconds."""
    delays: list[float] = []
    with emulated_aws():
        nekt = create_nekt_network()
        for index in range(DETECTION_RUNS):
            create_database(f"db-{index}", cidr=f"10.{index}.0.0/16")
        stack = Stack({**nekt.stack_parameters(), "PollIntervalSeconds": "0", "MaxPolls": "20"}).deploy()
        ready_at: dict[str, float] = {}
        polls = {"n": 0}

        def become_ready_on_the_third_poll(event: dict[str, Any]) -> None:
            if event["awaiting"] != "pending-acceptance":
                return  # after the accept, the strict layer's lifecycle takes it to active
            polls["n"] += 1
            status = "pending-acceptance" if polls["n"] >= 3 else "initiating-request"
            if status == "pending-acceptance" and "t" not in ready_at:
                ready_at["t"] = time.perf_counter()
            set_peering_status(DEFAULT_ACCOUNT, "us-east-2", event["peering"]["peeringConnectionId"], status)

        accepted_at: dict[str, float] = {}
        stack.runtime.before_invoke("PeeringStatusFunction", become_ready_on_the_third_poll)

        def note_acceptance(event: dict[str, Any]) -> None:
            accepted_at.setdefault("t", time.perf_counter())

        stack.runtime.before_invoke("AcceptPeeringFunction", note_acceptance)
        try:
            for index in range(DETECTION_RUNS):
                ready_at.clear()
                accepted_at.clear()
                polls["n"] = 0
                _require(stack.run({"database": {"identifier": f"db-{index}", "region": "us-east-2"}}))
                delays.append(accepted_at["t"] - ready_at["t"])
        finally:
            stack.close()
    return statistics.median(delays), max(delays)


def measure_concurrency() -> tuple[float, float, int]:
    """Wall time of one connect, of CONCURRENT_CONNECTS at once into one Nekt VPC, and successes."""
    with emulated_aws():
        nekt = create_nekt_network()
        for index in range(CONCURRENT_CONNECTS + 1):
            create_database(f"db-{index:02d}", cidr=f"10.{index}.0.0/16")
        stack = Stack({**nekt.stack_parameters(), "PollIntervalSeconds": "0"}).deploy()
        try:
            started = time.perf_counter()
            _require(stack.run({"database": {"identifier": "db-00", "region": "us-east-2"}}))
            single = time.perf_counter() - started
            started = time.perf_counter()
            arns = [stack.start({"database": {"identifier": f"db-{index:02d}", "region": "us-east-2"}})
                    for index in range(1, CONCURRENT_CONNECTS + 1)]
            results = [stack.wait(arn, timeout=600) for arn in arns]
            together = time.perf_counter() - started
        finally:
            stack.close()
    return single, together, sum(result.status == "SUCCEEDED" for result in results)


def measure_imports(build: Path | None) -> dict[str, float]:
    """Median import time (s) in a fresh interpreter: boto3 alone, and each function's handler module.

    CPU time of the importing process, not wall time: these machines are shared, and another process
    on the same cores would otherwise count as the import's own cost.

    From `sam build`'s output when there is one, as Lambda imports it: the function's own package
    first, then its layer (/opt/python), then the rest (boto3, which the runtime provides)."""
    template = Template()
    modules = {"boto3": "boto3"} | {
        logical_id: handler.rpartition(".")[0] for logical_id, handler in template.functions().items()}
    paths = {name: [template.code_dir()] for name in modules}
    if build is not None:
        paths |= {logical_id: [build / logical_id, *(build / layer / "python" for layer in _layers(build))]
                  for logical_id in template.functions()}
    timings: dict[str, list[float]] = {name: [] for name in modules}
    # boto3 as the Lambda runtime has it: without awscrt and pyOpenSSL, which this venv has (for SAM) and
    # botocore would load, adding tens of milliseconds to both sides of the ratio.
    probe = (f"import sys; sys.modules.update(dict.fromkeys({LAMBDA_RUNTIME_LACKS!r})); import time, importlib; "
             "t = time.process_time(); importlib.import_module(sys.argv[1]); print(time.process_time() - t)")
    for _ in range(IMPORT_RUNS):
        for name, module in modules.items():  # interleaved, so drift hits all alike
            path = os.pathsep.join(str(directory) for directory in paths[name])
            out = subprocess.run([sys.executable, "-c", probe, module], cwd=paths[name][0], check=True,
                                 capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path})
            timings[name].append(float(out.stdout))
    return {name: statistics.median(values) for name, values in timings.items()}


def _layers(build: Path) -> list[str]:
    return [logical_id for logical_id, resource in Template().resources.items()
            if resource["Type"] == "AWS::Serverless::LayerVersion" and (build / logical_id).is_dir()]


def built() -> Path | None:
    build = ROOT / ".aws-sam" / "build"
    return build if build.is_dir() else None


def package_sizes(build: Path | None) -> dict[str, int] | None:
    """Bytes of each function's own package and of each layer as `make build` leaves them to deploy
    (`sam build`'s output, nekt_peering's sources replaced by their bytecode, the layer's compiled beside them)."""
    if build is None:
        return None
    return {
        logical_id: sum(path.stat().st_size for path in (build / logical_id).rglob("*") if path.is_file())
        for logical_id in [*Template().functions(), *_layers(build)] if (build / logical_id).is_dir()
    }


def minimum_mutating(cost: ConnectCost, cross_account: bool) -> dict[str, int]:
    """What the job needs for a private database: no DNS option (its endpoint already resolves to its
    private address); cross-account, the peering named in the Nekt account too (tags are per account)."""
    minimum = {"CreateVpcPeeringConnection": 1, "AcceptVpcPeeringConnection": 1,
               "CreateRoute": cost.route_tables, "AuthorizeSecurityGroupIngress": 1}
    if cross_account:
        minimum["CreateTags"] = 1
    return minimum


def workflow_dollars(transitions: int, invocations: int) -> float:
    """What running the workflow costs: Step Functions transitions and Lambda invocations (256 MB, arm64)."""
    return (transitions * STEP_FUNCTIONS_PER_TRANSITION + invocations * LAMBDA_PER_REQUEST
            + invocations * 0.25 * ASSUMED_BILLED_SECONDS * LAMBDA_ARM_PER_GB_SECOND)


def path_costs() -> dict[str, MonthlyCost]:
    """A month of each path of the comparison, for the traffic assumed (TRAFFIC_GB_PER_MONTH, TRAFFIC_ZONES)."""
    paths: dict[str, tuple[PathName, bool]] = {
        "peering": ("peering", False), "peering across Regions": ("peering", True), "public": ("public", False),
        "resource-endpoint": ("resource-endpoint", False)}
    return {name: monthly_cost(path, TRAFFIC_GB_PER_MONTH, TRAFFIC_ZONES, cross_region=cross_region)
            for name, (path, cross_region) in paths.items()}


def render_paths(paths: dict[str, ConnectCost | str], cross_region: ConnectCost) -> tuple[list[str], list[str]]:
    """The section that puts each path's calls and its monthly cost side by side, and its headline lines."""
    measured: dict[str, ConnectCost | str] = {**paths, "peering across Regions": cross_region}
    months = path_costs()
    topologies = {"peering": "Nekt's account, same Region", "peering across Regions": "Nekt's account, us-east-2 → "
                  "us-east-1", "public": "Nekt's account, same Region, publicly accessible database",
                  "resource-endpoint": "Nekt's account, same Region"}
    lines = ["## Monthly cost of a connection, by path", "",
             f"One connect by each path on the emulator (the calls it makes), beside what a connection by that path "
             f"costs a month on AWS in us-east-1 for **{TRAFFIC_GB_PER_MONTH} GB a month** between the database and "
             f"Nekt (the database sending it, as an extraction reads), **{HOURS_PER_MONTH} hours**, Nekt's side in "
             f"**{TRAFFIC_ZONES} zones** (its private subnets). Prices: `emulator/costs.py`, each rate with its source "
             "in docs/aws-fidelity.md (\"Quotas and costs\"); **†** marks an amount priced with a rate whose figure "
             "AWS's pages did not show here, a named assumption. The workflow's own run is counted once per connect, "
             "with its status polls (Step Functions and Lambda, as below).", "",
             "| path | measured on | mutating calls | reads | status polls | transitions | Lambda invocations "
             "| repeat connect: mutating | workflow, once | a month: customer | a month: Nekt | a month: total |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    headline: list[str] = []
    for name, month in months.items():
        mark = "†" if month.assumed else ""
        cost = measured[name]
        if isinstance(cost, str):
            calls = f"| {cost} | | | | | | |"
        else:
            network = {call: n for call, n in cost.calls.items() if call[0] != "dynamodb"}
            mutating = sum(n for (_, op), n in network.items() if is_mutating(op))
            calls = (f"| {mutating} | {sum(network.values()) - mutating} | {cost.polls} | {cost.transitions} "
                     f"| {cost.invocations} | {cost.repeat_mutating} | "
                     f"${workflow_dollars(cost.transitions, cost.invocations):.5f} |")
        lines.append(f"| {name} | {topologies[name]} {calls} ${month.paid_by('customer'):.2f}"
                     f"{_assumed_mark(month, 'customer')} | ${month.paid_by('Nekt'):.2f}{_assumed_mark(month, 'Nekt')} "
                     f"| **${month.total:.2f}**{mark} |")
        headline.append(f"{name}: ${month.total:.2f} a month{mark} for {TRAFFIC_GB_PER_MONTH} GB "
                        f"(customer ${month.paid_by('customer'):.2f}, Nekt ${month.paid_by('Nekt'):.2f})"
                        + (f"; {cost}" if isinstance(cost, str) else ""))
    compared = {name: cost for name in months if not isinstance(cost := measured[name], str)}
    operations = sorted({call for cost in compared.values() for call in cost.calls
                         if call[0] != "dynamodb" and is_mutating(call[1])})
    lines += ["", "Reads include the status polls; the registry's DynamoDB calls are left out, as below. The mutating "
              "calls of each path:", "",
              "| mutating call | " + " | ".join(compared) + " |", "|---|" + "---:|" * len(compared)]
    lines += [f"| {service}:{op} | " + " | ".join(str(cost.calls[service, op]) for cost in compared.values()) + " |"
              for service, op in operations]
    lines += ["", "The parts of each month:", "",
              "| path | part | who pays | quantity | rate | a month |", "|---|---|---|---:|---:|---:|"]
    for name, month in months.items():
        for part in month.parts:
            unit = "h" if part.rate.per == "hour" else "GB"
            lines.append(f"| {name} | {part.what} | {part.payer} | {part.quantity:g} {unit} "
                         f"| ${part.rate.usd:g}/{part.rate.per} (`{part.rate_name}`){'' if part.rate.found else ' †'} "
                         f"| ${part.usd:.2f} |")
    assumed = sorted({name for month in months.values() for name in month.assumed})
    lines += ["", "† Assumed, not read on AWS's pages: " + "; ".join(
        f"`{name}` ${PRICES.rates()[name].usd:g}" for name in assumed) + ". Change a rate in `emulator/costs.py` "
        "once its figure is read, and run `make bench` again.", ""]
    return lines, headline


def _assumed_mark(month: MonthlyCost, payer: Payer) -> str:
    return "†" if any(part.payer == payer and part.quantity and not part.rate.found for part in month.parts) else ""


def render(costs: dict[str, ConnectCost], detection: tuple[float, float], concurrency: tuple[float, float, int],
           imports: dict[str, float], sizes: dict[str, int] | None, poll_interval: int,
           paths: dict[str, ConnectCost | str]) -> tuple[str, list[str]]:
    lines = ["# Benchmarks", "",
             "Written by `make bench` (emulated AWS: moto in process, the real template, ASL and handlers). "
             "Every figure is a count, or a ratio of two timings taken in the same run, so it holds on a "
             "noisy machine; the monthly costs are the price table's arithmetic on the traffic stated. Regenerate "
             "after changing a stage.", ""]
    path_lines, headline = render_paths(paths, costs["cross-account + cross-region"])
    lines += path_lines
    for name, cost in costs.items():
        cross = name.startswith("cross")
        # The connection registry's own calls (DynamoDB) are counted apart: they change no network.
        network = {(service, op): n for (service, op), n in cost.calls.items() if service != "dynamodb"}
        registry_calls = {op: n for (service, op), n in cost.calls.items() if service == "dynamodb"}
        mutating = {op: n for (service, op), n in network.items() if is_mutating(op)}
        reads = {f"{service}:{op}": n for (service, op), n in network.items() if not is_mutating(op)}
        minimum = minimum_mutating(cost, cross)
        reads_without_polls = sum(reads.values()) - cost.polls  # one DescribeVpcPeeringConnections per poll
        transitions = cost.transitions - 3 * cost.polls  # Wait, Check, Choice per poll
        invocations = cost.invocations - cost.polls
        dollars = workflow_dollars(transitions, invocations)
        poll_dollars = workflow_dollars(3, 1)
        total_mutating = sum(mutating.values())
        lines += [f"## {name}", "",
                  "### AWS API calls per connect", "",
                  "| mutating call | made | minimum the job needs |", "|---|---:|---:|"]
        lines += [f"| {op} | {mutating.get(op, 0)} | {minimum.get(op, 0)} |"
                  for op in sorted(set(mutating) | set(minimum))]
        lines += ["", f"Mutating: **{total_mutating}** (minimum {sum(minimum.values())}) — "
                  f"{'goal met' if mutating == minimum else 'goal missed'}. "
                  + "No `ModifyVpcPeeringConnectionOptions`: the database is private, so its endpoint already "
                  "resolves to its private address (the DNS option is set only for a publicly accessible database "
                  "reached through the peering). "
                  + ("`CreateTags` names the peering in the Nekt account too: tags are per account. " if cross else "")
                  + f"A repeat connect after success: **{cost.repeat_mutating}** mutating calls "
                  f"({'goal met' if cost.repeat_mutating == 0 else 'goal missed'}).", "",
                  "| read call | made |", "|---|---:|"]
        lines += [f"| {op} | {n} |" for op, n in sorted(reads.items())]
        ratio = reads_without_polls / total_mutating
        verdict = "goal met" if ratio <= 2 else f"goal missed by {reads_without_polls - 2 * total_mutating} calls"
        lines += ["", f"Reads, excluding the {cost.polls} status poll(s): **{reads_without_polls}**, "
                  f"{ratio:.1f}x the mutating calls (goal: at most 2x) — {verdict}."
                  + (" Each stage that works in the Nekt account assumes the accepter role itself (Discover, "
                     "Accept, Update routes, Verify run in separate Lambdas), which is most of the excess."
                     if cross and ratio > 2 else ""),
                  "", "### Step Functions and Lambda", "",
                  "| per connect (happy path, polls excluded) | count | goal |", "|---|---:|---:|",
                  f"| state transitions | {transitions} | ≤ 30 |",
                  f"| Lambda invocations | {invocations} | ≤ 10 |",
                  "| each status poll adds | 3 transitions, 1 invocation, 1 read | |", "",
                  "The goal was 8 before the connection registry; *Take the locks* and *Record the connection* "
                  "are two more, each one DynamoDB transaction:", "",
                  "| registry call (DynamoDB) | made |", "|---|---:|",
                  *[f"| {op} | {n} |" for op, n in sorted(registry_calls.items())], "",
                  *([f"Across Regions the Nekt account sees a new request a little after the database account "
                     f"does (EC2's eventual consistency, which the emulator's strict layer reproduces): "
                     f"*Accept peering* ran {cost.accepts} times, each extra round one more invocation, "
                     "AssumeRole and describe, counted above.", ""] if cost.accepts > 1 else []),
                  f"Cost per connection: **${dollars:.5f}** (Step Functions Standard ${STEP_FUNCTIONS_PER_TRANSITION}"
                  f"/transition; Lambda ${LAMBDA_PER_REQUEST}/request and ${LAMBDA_ARM_PER_GB_SECOND}/GB-s on arm64 "
                  f"at 256 MB, assuming {ASSUMED_BILLED_SECONDS} s billed per invocation); each poll "
                  f"${poll_dollars:.6f}.", ""]
        headline.append(f"{name}: {total_mutating} mutating calls (minimum {sum(minimum.values())}), "
                        f"{transitions} transitions, {invocations} invocations, ${dollars:.4f}")
    median_delay, worst_delay = detection
    single, together, succeeded = concurrency
    boto3_time = imports["boto3"]
    functions = [name for name in imports if name != "boto3"]
    layers = sorted(set(sizes or {}) - set(functions))
    source = ("`sam build`'s output (`.aws-sam/build`: the function's package, then its layer), as Lambda "
              "imports it" if sizes else "the source tree (no `sam build` output: run `make build`)")
    lines += ["## Cold start and package size", "",
              f"Import time (CPU time, which other processes on the machine do not inflate) of each function's "
              f"handler module in a fresh interpreter, from {source}; median of {IMPORT_RUNS} interleaved runs, "
              "as a ratio to "
              f"`import boto3` alone ({boto3_time * 1000:.0f} ms here, in the same run) — goal ≤ 1.3x. Package "
              "size: the function's own files as `make build` leaves them to deploy (`nekt_peering` as bytecode "
              "alone; goal < 1 MB); the dependencies are in one layer.", "",
              "| function | import / import boto3 | package size |", "|---|---:|---:|"]
    for logical_id in functions:
        size = f"{sizes[logical_id] / 1e6:.2f} MB" if sizes and logical_id in sizes else "run `make build`"
        lines.append(f"| {logical_id} | {imports[logical_id] / boto3_time:.2f}x | {size} |")
    lines += [f"| {layer} (layer, shared by all) | | {(sizes or {})[layer] / 1e6:.2f} MB |" for layer in layers]
    worst = max(imports[name] / boto3_time for name in functions)
    largest = max((sizes[name] for name in functions if name in sizes), default=None) if sizes else None
    over = [name for name in functions if imports[name] / boto3_time > 1.3]
    lines += ["", f"Worst ratio **{worst:.2f}x** — " + ("goal met" if not over else
                                                        f"goal missed by {worst - 1.3:.2f}x: {', '.join(over)}")
              + ("." if largest is None else f"; largest package **{largest / 1e6:.2f} MB** — "
                 + ("goal met." if largest < 1e6 else "goal missed.")), "",
              "## Workflow overhead", "",
              f"A whole connect with waits at 0 s: {costs['cross-account + cross-region'].seconds:.2f} s on the "
              "emulator (the AWS calls themselves are in-process here, so this is the workflow's own cost).", "",
              f"After AWS reports the peering ready, the workflow moves on within the wait it is in (uniform in "
              f"0..PollIntervalSeconds, {poll_interval / 2:.1f} s on average with the default {poll_interval} s) "
              f"plus its own detection cost: median **{median_delay * 1000:.0f} ms**, worst "
              f"{worst_delay * 1000:.0f} ms (a status check and three transitions) — well under the poll interval.",
              "",
              f"How the poll interval is chosen: a request reaches `pending-acceptance` and an accepted peering "
              f"`active` within seconds, so {poll_interval} s keeps the added wait small, while each poll costs "
              "only 3 transitions and one invocation; `MaxPolls` 60 bounds each wait at 5 minutes.", "",
              "## Concurrency", "",
              f"{CONCURRENT_CONNECTS} connects of different databases into one Nekt VPC at once: **{succeeded}/"
              f"{CONCURRENT_CONNECTS} succeeded**, in {together / single:.1f}x the wall time of one connect "
              f"({'goal met' if succeeded == CONCURRENT_CONNECTS else 'goal missed'}; the emulator runs them on "
              "one Python process, so the ratio is an upper bound).", ""]
    return "\n".join(lines), headline


def main() -> int:
    for key, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_LOG_LEVEL": "ERROR",
                       "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}.items():
        os.environ[key] = value
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    # As in the tests: every emulated client would re-parse its service model, which is the
    # emulator's cost, not the workflow's (the functions themselves share one loader already).
    botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)
    costs = {name: measure_connect(topology) for name, topology in TOPOLOGIES.items()}
    paths = measure_paths()
    print("measured API calls, transitions, invocations", flush=True)
    detection = measure_detection_delay()
    concurrency = measure_concurrency()
    print("measured detection delay and concurrency", flush=True)
    sweep = measure_sweep()
    print("measured the health sweep", flush=True)
    build = built()
    imports = measure_imports(build)
    poll_interval = int(Template().parameter_defaults()["PollIntervalSeconds"])
    text, headline = render(costs, detection, concurrency, imports, package_sizes(build), poll_interval, paths)
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(text + "\n".join(["", *render_sweep(sweep)]))
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    for line in headline:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
