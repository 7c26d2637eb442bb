"""`make demo`: a connect and a disconnect on an emulated AWS, driven by the `nekt-peering` CLI.

Serves moto on 127.0.0.1, seeds a Nekt account (nekt-vpc: a /23 for its private subnets on
nekt-rtb-private, plus a second CIDR, and the probe of the Nekt-account stack) in us-east-1 and a
customer account with private PostgreSQL databases in us-east-2 (subnets on two route tables plus
the main one) and an Aurora cluster in us-east-1 whose VPC overlaps Nekt's, deploys template.yaml's
functions and state machines into it, then runs the CLI exactly as an operator runs it against AWS,
only with --endpoint-url: plan, connect (by peering), probe, then plan and connect the overlapping
cluster (auto: a resource endpoint), then connect a Redshift cluster (--kind redshift, by peering), then
disconnect all three. Behind orders-db's endpoint, and the cluster's,
is a real PostgreSQL on 127.0.0.1 (emulator/databases.py): the endpoint resolves, from the Nekt VPC, to a
private address of its subnet that reaches it (the cluster through its resource endpoint), so Verify's
probe does a real handshake. It ends by comparing both accounts with how they were before the connects.
--keep stops after the connects and leaves the
emulator running, for the AWS CLI, the nekt-peering CLI and `sam local invoke`.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sys
import threading
from typing import Any

import typer
from moto.moto_api._internal import mock_random
from moto.redshift.models import redshift_backends

from emulator.accounts import snapshot
from emulator.databases import PostgresServer
from emulator.events import ROLLBACK_INPUT, SEED
from emulator.server import DEFAULT_PORT, EmulatedAws, PortInUse
from emulator.stack import Stack
from emulator.topology import (
    CustomerDatabase,
    NektNetwork,
    account_session,
    create_database,
    create_nekt_network,
    create_probe,
)
from nekt_peering_cli.app import app

STACK_REGION = "us-east-1"
DEMO_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_DEFAULT_REGION": STACK_REGION,
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",  # ~1,000 AMIs per account and region, unused
}


def main(argv: list[str] | None = None, stop: threading.Event | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true",
                        help="stop after the connect and keep the emulator running (Ctrl-C ends it)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to serve on (0.0.0.0 for `sam local invoke` from Docker on Linux)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to serve on; 0: any free one")
    parser.add_argument("--poll-seconds", type=int, default=1,
                        help="the stack's PollIntervalSeconds: seconds between two checks of the peering status "
                             "(1, to watch the stages go by; the tests use 0)")
    options = parser.parse_args(argv)
    os.environ.update(DEMO_ENVIRONMENT)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # moto logs every failed execution as an error

    try:
        aws = EmulatedAws(options.host, options.port).start()
    except PortInUse as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        return _run(aws, options.keep, stop, options.poll_seconds)
    finally:
        aws.stop()


# Where orders-db's endpoint resolves from the Nekt VPC: an address of its first subnet (10.0.1.0/24).
DATABASE_ADDRESS = "10.0.1.10"
# The cluster whose VPC overlaps Nekt's, and its address in its own VPC (what its resource gateway reaches).
OVERLAPPING = "analytics-db"
OVERLAPPING_ADDRESS = "10.100.1.10"
# A Redshift cluster (database.kind redshift) in the customer's Region, and its address in its own VPC.
WAREHOUSE = "warehouse"
WAREHOUSE_ADDRESS = "10.40.1.10"


def _run(aws: EmulatedAws, keep: bool, stop: threading.Event | None, poll_seconds: int) -> int:
    postgres = PostgresServer().start()
    try:
        return _run_with(aws, keep, stop, postgres, poll_seconds)
    finally:
        postgres.stop()


def _run_with(aws: EmulatedAws, keep: bool, stop: threading.Event | None, postgres: PostgresServer,
              poll_seconds: int) -> int:
    nekt, database = _seed(postgres.port)
    create_probe(nekt)
    stack = Stack({**nekt.stack_parameters(), "PollIntervalSeconds": str(poll_seconds)}, region=STACK_REGION).deploy()
    stack.publish_outputs()
    endpoint = account_session(database.account_id, database.region).client("rds").describe_db_instances(
        DBInstanceIdentifier=database.identifier)["DBInstances"][0]["Endpoint"]["Address"]
    stack.network.place(endpoint, DATABASE_ADDRESS)
    # A second customer database that peering cannot reach: its VPC overlaps the Nekt VPC. Made after the
    # deploy, so that the ids of the recorded events/ stay this emulator's.
    overlapping = create_database(OVERLAPPING, region=nekt.region, cidr="10.100.0.0/16", kind="cluster",
                                  engine="postgresql", port=postgres.port)
    cluster_endpoint = account_session(overlapping.account_id, overlapping.region).client("rds").describe_db_clusters(
        DBClusterIdentifier=OVERLAPPING)["DBClusters"][0]["Endpoint"]
    stack.network.place(cluster_endpoint, OVERLAPPING_ADDRESS)
    warehouse = create_database(WAREHOUSE, region=database.region, cidr="10.40.0.0/16", kind="redshift",
                                port=postgres.port)
    warehouse_endpoint = account_session(warehouse.account_id, warehouse.region).client("redshift").describe_clusters(
        ClusterIdentifier=WAREHOUSE)["Clusters"][0]["Endpoint"]["Address"]
    stack.network.place(warehouse_endpoint, WAREHOUSE_ADDRESS)
    try:
        _describe(aws, nekt, database, stack)
        print(f"Behind {endpoint}: a real PostgreSQL on 127.0.0.1:{postgres.port}; from the Nekt VPC the "
              f"endpoint resolves to {DATABASE_ADDRESS}, which reaches it. The probe "
              f"{nekt.probe_function_arn} runs in the Nekt private subnets.\n")
        print(f"And {OVERLAPPING}, an Aurora PostgreSQL cluster in {overlapping.region} whose VPC "
              f"{overlapping.vpc_id} (10.100.0.0/16) overlaps the Nekt VPC: peering is impossible, so `auto` "
              "shares it as a VPC resource and Nekt reaches it through a resource endpoint.\n")
        print(f"And {WAREHOUSE}, a Redshift cluster (--kind redshift) in {warehouse.region}, VPC {warehouse.vpc_id} "
              f"(10.40.0.0/16): the same workflow peers it; the probe speaks PostgreSQL to it.\n")
        places = [(nekt.account_id, nekt.region), (database.account_id, database.region),
                  (overlapping.account_id, overlapping.region)]
        before = snapshot(places)
        target = ["--endpoint-url", aws.endpoint_url, "--region", STACK_REGION]
        db = ["--db", database.identifier, "--region", database.region]
        other = ["--db", OVERLAPPING, "--region", overlapping.region]
        redshift = ["--kind", "redshift", "--db", WAREHOUSE, "--region", warehouse.region]
        if (_cli(*target, "plan", *db) != 0 or _cli(*target, "connect", *db) != 0
                or _cli(*target, "probe", database.identifier) != 0
                or _cli(*target, "plan", *other) != 0 or _cli(*target, "connect", *other) != 0
                or _cli(*target, "connect", *redshift) != 0):
            return 1
        _look_yourself(aws, nekt, database)
        if keep:
            _keep_running(aws, stop)
            return 0
        if _cli(*target, "disconnect", WAREHOUSE) != 0 or _cli(*target, "disconnect", OVERLAPPING) != 0 \
                or _cli(*target, "disconnect", database.identifier) != 0:
            return 1
        return _compare(before, snapshot(places))
    finally:
        stack.close()
        # moto's reset keeps every Redshift backend it holds, and a second demo in one process (the tests) then
        # draws other ids after the seed than events/ records (observed): forget them, as a new process would.
        for regions in redshift_backends.values():
            regions.clear()


def _seed(port: int) -> tuple[NektNetwork, CustomerDatabase]:
    """The accounts of the recorded events/ (same seed, same order), so that their ids are this
    emulator's: `sam local invoke DiscoverFunction -e events/discover.json` reads the same VPCs.
    orders-db listens on `port`, where the real PostgreSQL is."""
    mock_random.seed(SEED)
    nekt = create_nekt_network()
    database = create_database(port=port)
    create_database(ROLLBACK_INPUT["database"]["identifier"], cidr="10.30.0.0/16")
    return nekt, database


def _describe(aws: EmulatedAws, nekt: NektNetwork, database: CustomerDatabase, stack: Stack) -> None:
    print(f"Emulated AWS (moto) at {aws.endpoint_url}: no AWS account is used.\n")
    print(f"Nekt account {nekt.account_id} ({nekt.region}): nekt-vpc {nekt.vpc_id} {' + '.join(nekt.cidrs)}, "
          f"private route table nekt-rtb-private {nekt.private_route_table_id}")
    print(f"Customer account {database.account_id} ({database.region}): private PostgreSQL {database.identifier} "
          f"in {database.vpc_id} {database.cidrs[0]}, security group {database.security_group_id}, "
          f"route tables {', '.join(database.route_table_ids)}")
    print(f"Stack {stack.name} deployed in {database.account_id} ({stack.region}): "
          f"{len(stack.function_arns)} functions, {len(stack.state_machine_arns)} state machines\n")


def _cli(*arguments: str) -> int:
    """The console script's code path, in this process (the emulator serves from here)."""
    print(f"$ nekt-peering {shlex.join(arguments)}")
    try:
        code = typer.main.get_command(app).main(args=list(arguments), prog_name="nekt-peering",
                                                standalone_mode=False)
    except typer.Exit as exit_:
        code = exit_.exit_code
    print()
    return int(code or 0)


def _look_yourself(aws: EmulatedAws, nekt: NektNetwork, database: CustomerDatabase) -> None:
    nekt_keys = _access_key(nekt.account_id, nekt.region)
    aws_cli = f"aws --endpoint-url {aws.endpoint_url}"
    print("Look for yourself (any AWS CLI v2; the first key pair is the customer account's, the second Nekt's):")
    customer = f"AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo {aws_cli} --region {database.region} ec2"
    print(f"  {customer} describe-vpc-peering-connections")
    print(f"  {customer} describe-route-tables --route-table-ids {' '.join(database.route_table_ids)}")
    print(f"  {customer} describe-security-group-rules --filters Name=group-id,Values={database.security_group_id}")
    print(f"  AWS_ACCESS_KEY_ID={nekt_keys[0]} AWS_SECRET_ACCESS_KEY={nekt_keys[1]} {aws_cli} --region {nekt.region} "
          f"ec2 describe-route-tables --route-table-ids {nekt.private_route_table_id}\n")


def _access_key(account_id: str, region: str) -> tuple[str, str]:
    """moto tells accounts apart by access key: one of an IAM user of that account is that account."""
    iam = account_session(account_id, region).client("iam")
    iam.create_user(UserName="demo-viewer")
    key = iam.create_access_key(UserName="demo-viewer")["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def _keep_running(aws: EmulatedAws, stop: threading.Event | None) -> None:
    cli = f"AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo .venv/bin/nekt-peering --endpoint-url {aws.endpoint_url}"
    print(f"The emulator keeps running at {aws.endpoint_url}, connected (Ctrl-C ends it). Try:")
    print(f"  {cli} --region {STACK_REGION} list")
    print(f"  {cli} --region {STACK_REGION} status orders-db")
    print(f"  {cli} --region {STACK_REGION} probe orders-db")
    print(f"  {cli} --region {STACK_REGION} connect --db reports-db --region us-east-2")
    print(f"  {cli} --region {STACK_REGION} disconnect orders-db")
    print("  make invoke FUNCTION=DiscoverFunction EVENT=events/discover.json   (sam local invoke: needs Docker; "
          "README, sam local)")
    try:
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        print("\nstopped")


def _compare(before: dict[str, Any], after: dict[str, Any]) -> int:
    if after != before:
        print("Both accounts are NOT as they were before the connect:")
        for place in before:
            for kind in ("peerings", "routes", "rules", "networkAcls", "resourcePath"):
                if before[place][kind] != after[place][kind]:
                    print(f"  {place} {kind}: before {before[place][kind]}\n  {' ' * len(place)} after  "
                          f"{after[place][kind]}")
        return 1
    counts = {kind: sum(len(state[kind]) if kind != "routes" else sum(map(len, state[kind].values()))
                        for state in after.values()) for kind in ("peerings", "routes", "rules")}
    acls = sum(len(state["networkAcls"]) for state in after.values())
    print(f"Both accounts are back as they were before the connect: {counts['peerings']} peerings, "
          f"{counts['routes']} routes, {counts['rules']} security group rules, {acls} network ACLs (never "
          "changed), no resource gateway, configuration, share or resource endpoint left, the same as before.")
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    # `make demo DEMO_ARGS=--keep` is ended with SIGTERM too (tests/e2e/test_sam_local.py): exit through the
    # finally blocks, so that the demo's PostgreSQL is stopped and its directory removed.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    raise SystemExit(main())
