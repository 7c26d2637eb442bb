"""Nekt's operator commands: `nekt-peering onboard` and `offboard` (nekt_peering_cli.onboarding), run with the
Nekt account's credentials. Nekt's own settings come from options or, once for every customer, the environment
(NEKT_REGION, NEKT_VPC_ID, ...)."""

from __future__ import annotations

from typing import Annotated, Any

import boto3
import typer
from botocore.exceptions import ProfileNotFound

from nekt_peering_cli import onboarding
from nekt_peering_cli.onboarding import Aws, Customer, Nekt
from nekt_peering_cli.release import OperatorError

# Refusals of the command line itself (exit 2); the others are failures (exit 1).
BAD_USAGE = (onboarding.InvalidAccountId, onboarding.InvalidStackName, onboarding.UnknownRegion)

AccountArgument = Annotated[str, typer.Argument(help="The customer's AWS account id (12 digits), where the database "
                                                     "is.")]
StackNameOption = Annotated[str, typer.Option(
    "--stack-name", help="The main stack's name in the customer's account (its roles' path: the accepter role "
                         "trusts only them).")]
NektRegionOption = Annotated[str, typer.Option(envvar="NEKT_REGION", help="The Nekt VPC's Region.")]
NektVpcOption = Annotated[str, typer.Option(envvar="NEKT_VPC_ID", help="The Nekt VPC (nekt-vpc).")]


def register(app: typer.Typer) -> None:
    app.command()(onboard)
    app.command()(offboard)


def onboard(
    context: typer.Context,
    account_id: AccountArgument,
    database_region: Annotated[str, typer.Option("--database-region", help="The database's Region, where the "
                                                                           "customer's stack runs.")],
    release_version: Annotated[str, typer.Option("--release", help="The release the customer installs.")],
    nekt_region: NektRegionOption,
    nekt_vpc_id: NektVpcOption,
    nekt_route_table_id: Annotated[str, typer.Option(envvar="NEKT_ROUTE_TABLE_ID",
                                                     help="Nekt's private route table (nekt-rtb-private).")],
    platform_principal_arn: Annotated[str, typer.Option(envvar="NEKT_PLATFORM_PRINCIPAL_ARN",
                                                        help="The Nekt platform's role, admitted by the customer's "
                                                             "API.")],
    bucket_prefix: Annotated[str, typer.Option(envvar="NEKT_RELEASE_BUCKET_PREFIX",
                                               help="The releases' buckets: <prefix>-<region>.")],
    event_bus: Annotated[str, typer.Option(envvar="NEKT_EVENT_BUS",
                                           help="Nekt's event bus, which admits the customer's events.")] = "default",
    probe_subnet_ids: Annotated[str, typer.Option(envvar="NEKT_PROBE_SUBNET_IDS",
                                                  help="Nekt's private subnets for the probe, comma-separated; "
                                                       "empty = no probe.")] = "",
    stack_name: StackNameOption = "nekt-peering",
) -> None:
    """Onboard a customer's database account: its ExternalId, its Nekt-account stack (created or updated to the
    release), its account admitted on Nekt's event bus; prints the quick-create link to hand the customer."""
    target = context.obj
    customer = Customer(account_id, database_region, stack_name)
    nekt = Nekt(nekt_region, nekt_vpc_id, nekt_route_table_id, platform_principal_arn, bucket_prefix, event_bus,
                tuple(subnet for subnet in probe_subnet_ids.split(",") if subnet))
    target.console.print(f"onboarding account {account_id} ({database_region}) on release {release_version}: "
                         f"stack {customer.nekt_stack_name} in {nekt_region}", soft_wrap=True)
    done = _operator(target, lambda: onboarding.onboard(customer, nekt, release_version, _aws(target)))
    target.console.print(f"stack {done.nekt_stack}: {done.stack_action}; account {account_id} admitted on event "
                         f"bus {event_bus}", soft_wrap=True)
    target.console.print("\nHand the customer this link (their account, their database's Region); they open it "
                         "signed in to account " + account_id + ", tick the acknowledgements ("
                         + ", ".join(done.capabilities) + ") and choose Create stack:\n")
    target.console.print(done.link, soft_wrap=True, markup=False)
    target.console.print("\nA customer whose stack is installed updates it with this template URL instead "
                         "(docs/deploying.md, Upgrading and uninstalling):\n")
    target.console.print(done.template_url, soft_wrap=True, markup=False)


def offboard(
    context: typer.Context,
    account_id: AccountArgument,
    nekt_region: NektRegionOption,
    nekt_vpc_id: NektVpcOption,
    event_bus: Annotated[str, typer.Option(envvar="NEKT_EVENT_BUS", help="Nekt's event bus.")] = "default",
    stack_name: StackNameOption = "nekt-peering",
) -> None:
    """Offboard a customer's account: its Nekt-account stack, its admission on Nekt's bus, its ExternalId.
    Refused while Nekt's account holds a connection of theirs (a peering or a resource endpoint)."""
    target = context.obj
    customer = Customer(account_id, nekt_region, stack_name)
    nekt = Nekt(nekt_region, nekt_vpc_id, "", "", "", event_bus)
    removed = _operator(target, lambda: onboarding.offboard(customer, nekt, _aws(target)))
    for item in removed:
        target.console.print(f"removed {item}", soft_wrap=True)
    target.console.print(f"account {account_id} offboarded" if removed else f"account {account_id} was not onboarded")


def _aws(target: Any) -> Aws:
    try:
        session = boto3.Session(profile_name=target.profile)
    except ProfileNotFound:
        target.console.print(f"[red]error[/red]: no AWS profile named {target.profile!r} in your AWS config")
        raise typer.Exit(2) from None
    return Aws(lambda service, region: session.client(service, region_name=region,  # type: ignore[call-overload]
                                                      endpoint_url=target.endpoint_url))


def _operator(target: Any, call: Any) -> Any:
    try:
        return call()
    except OperatorError as error:
        target.console.print(f"[red]{type(error).__name__}[/red]: {error}", soft_wrap=True)
        raise typer.Exit(2 if isinstance(error, BAD_USAGE) else 1) from None
