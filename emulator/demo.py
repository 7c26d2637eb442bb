"""`make demo`: the connect workflow end to end on an emulated AWS, no account needed.

Seeds a Nekt account (nekt-vpc, a /23 on nekt-rtb-private) in us-east-1 and a customer
account with a private PostgreSQL in us-east-2, deploys template.yaml's functions and the
real state machine into moto, and runs a dry run and then a connect, printing what happened.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from moto import mock_aws

from emulator.stack import MOTO_CONFIG, Execution, Stack
from emulator.topology import create_database, create_nekt_network

EXAMPLE_INPUT = {"database": {"identifier": "orders-db", "region": "us-east-2"}}


def main() -> int:
    for key, value in {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo",
                       "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true",
                       "POWERTOOLS_LOG_LEVEL": "ERROR", "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}.items():
        os.environ[key] = value
    os.environ.pop("AWS_PROFILE", None)
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # moto logs every failed execution as an error
    with mock_aws(config=MOTO_CONFIG):
        nekt = create_nekt_network()
        database = create_database()
        print(f"Nekt account {nekt.account_id} ({nekt.region}): {nekt.vpc_id} {', '.join(nekt.cidrs)}, "
              f"private route table {nekt.private_route_table_id}")
        print(f"Customer account {database.account_id} ({database.region}): {database.identifier} in "
              f"{database.vpc_id} {database.cidrs[0]}, route tables {', '.join(database.route_table_ids)}")
        stack = Stack({**nekt.stack_parameters(), "PollIntervalSeconds": "1"}).deploy()
        try:
            print(f"\n$ start-execution (dry run) {EXAMPLE_INPUT | {'dryRun': True}}")
            plan = _finished(stack.run(EXAMPLE_INPUT | {"dryRun": True}))
            for change in plan["changes"]:
                print(f"  would {change['summary']}")
            print(f"\n$ start-execution {EXAMPLE_INPUT}")
            execution = stack.run(EXAMPLE_INPUT)
            _print_stages(execution)
            _print_result(_finished(execution))
        finally:
            stack.close()
    return 0


def _finished(execution: Execution) -> dict[str, Any]:
    if execution.status != "SUCCEEDED":
        print(f"FAILED {execution.error}: {execution.error_message}", file=sys.stderr)
        raise SystemExit(1)
    assert isinstance(execution.output, dict)
    return execution.output


def _print_stages(execution: Execution) -> None:
    start = execution.history[0]["timestamp"]
    for event in execution.history:
        if "stateEnteredEventDetails" in event:
            elapsed = (event["timestamp"] - start).total_seconds()
            print(f"  {elapsed:6.2f}s  {event['stateEnteredEventDetails']['name']}")


def _print_result(result: dict[str, Any]) -> None:
    print(f"\n{result['status']}: {result['database']['identifier']} "
          f"({result['database']['endpoint']}:{result['database']['port']}) via {result['peeringConnectionId']}")
    for route in result["routes"]:
        print(f"  route   {route['side']:8} {route['routeTableId']}  {route['destinationCidr']:15} "
              f"-> {result['peeringConnectionId']}  {'created' if route['created'] else 'existed'}")
    ingress = result["ingress"]
    print(f"  ingress {ingress['groupId']}  tcp/{ingress['port']} from {ingress['cidr']}  "
          f"{'created' if ingress['created'] else 'existed'}")
    print(f"  dns     AllowDnsResolutionFromRemoteVpc on the {result['dnsResolution']['side']} side")
    for check in result["checks"]:
        print(f"  [{'ok' if check['ok'] else 'FAILED'}] {check['check']}")


if __name__ == "__main__":
    raise SystemExit(main())
