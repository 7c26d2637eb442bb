"""`make bench`: what a connection costs, measured on the emulated AWS; writes docs/benchmarks.md.

Counts and ratios measured in one run, so they hold on a noisy machine: AWS API calls by
operation, state transitions and Lambda invocations, import time against `import boto3`,
package size, workflow overhead, and 20 concurrent connects against one.
"""

from __future__ import annotations

import functools
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

import botocore.loaders
import botocore.session

from emulator.accounts import aws_calls, is_mutating, set_peering_status
from emulator.stack import DEFAULT_ACCOUNT, Execution, Stack
from emulator.strict.layer import emulated_aws
from emulator.template import ROOT, Template
from emulator.topology import create_database, create_nekt_network

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


def per_poll(execution: Execution) -> int:
    return execution.states_entered().count("Check request status") + execution.states_entered().count(
        "Check active status")


def measure_connect(topology: dict[str, Any]) -> ConnectCost:
    with emulated_aws():
        nekt = create_nekt_network(**topology["nekt"])
        database = create_database(region=topology["database_region"], cidr="10.20.0.0/16")
        stack = Stack({**nekt.stack_parameters(), "PollIntervalSeconds": "0"}).deploy()
        execution_input = {"database": {"identifier": database.identifier, "region": database.region}}
        try:
            with aws_calls() as calls:
                started = time.perf_counter()
                execution = stack.run(execution_input)
                seconds = time.perf_counter() - started
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
        polls=per_poll(execution),
        accepts=execution.states_entered().count("Accept peering"),
        route_tables=len(database.route_table_ids) + 1,  # the database's and Nekt's private one
        seconds=seconds,
    )


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
    (`sam build`'s output and the bytecode compiled into it)."""
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


def render(costs: dict[str, ConnectCost], detection: tuple[float, float], concurrency: tuple[float, float, int],
           imports: dict[str, float], sizes: dict[str, int] | None, poll_interval: int) -> tuple[str, list[str]]:
    lines = ["# Benchmarks", "",
             "Written by `make bench` (emulated AWS: moto in process, the real template, ASL and handlers). "
             "Every figure is a count, or a ratio of two timings taken in the same run, so it holds on a "
             "noisy machine. Regenerate after changing a stage.", ""]
    headline: list[str] = []
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
        dollars = (transitions * STEP_FUNCTIONS_PER_TRANSITION + invocations * LAMBDA_PER_REQUEST
                   + invocations * 0.25 * ASSUMED_BILLED_SECONDS * LAMBDA_ARM_PER_GB_SECOND)
        poll_dollars = 3 * STEP_FUNCTIONS_PER_TRANSITION + LAMBDA_PER_REQUEST + \
            0.25 * ASSUMED_BILLED_SECONDS * LAMBDA_ARM_PER_GB_SECOND
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
              "size: the function's own files as `make build` leaves them to deploy, bytecode included (goal "
              "< 1 MB); the dependencies are in one layer.", "",
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
    print("measured API calls, transitions, invocations", flush=True)
    detection = measure_detection_delay()
    concurrency = measure_concurrency()
    print("measured detection delay and concurrency", flush=True)
    build = built()
    imports = measure_imports(build)
    poll_interval = int(Template().parameter_defaults()["PollIntervalSeconds"])
    text, headline = render(costs, detection, concurrency, imports, package_sizes(build), poll_interval)
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    for line in headline:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
