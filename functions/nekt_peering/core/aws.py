"""Sessions into the database account and the Nekt account, and the client settings both use."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from nekt_peering.core.errors import AccessDenied
from nekt_peering.core.model import Settings

if TYPE_CHECKING:  # the stubs are for mypy only: nothing of them is deployed
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import TagTypeDef
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_service_quotas import ServiceQuotasClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_sts import STSClient

# Throttling (RequestLimitExceeded, Throttling) is absorbed here rather than failing a stage.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, user_agent_extra="nekt-peering")

# botocore's DEBUG records carry whole requests and responses: AssumeRole's ExternalId and the
# credentials it returns. Whatever level a function logs at, they are never written.
logging.getLogger("botocore").setLevel(logging.INFO)

ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure"})


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


# Parsing a service model (EC2's is megabytes) costs more than most stages; share it across the
# sessions of one invocation and across the warm invocations of a Lambda container.
_SHARED_LOADER = botocore.loaders.create_loader()


def new_session(**arguments: Any) -> boto3.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _SHARED_LOADER)
    return boto3.Session(botocore_session=core, **arguments)


@overload
def client(session: boto3.Session, service: Literal["dynamodb"]) -> DynamoDBClient: ...
@overload
def client(session: boto3.Session, service: Literal["ec2"]) -> EC2Client: ...
@overload
def client(session: boto3.Session, service: Literal["lambda"]) -> LambdaClient: ...
@overload
def client(session: boto3.Session, service: Literal["rds"]) -> RDSClient: ...
@overload
def client(session: boto3.Session, service: Literal["stepfunctions"]) -> SFNClient: ...
@overload
def client(session: boto3.Session, service: Literal["sts"]) -> STSClient: ...
@overload
def client(session: boto3.Session, service: Literal["service-quotas"]) -> ServiceQuotasClient: ...
@overload
def client(  # no stubs installed for these
    session: boto3.Session,
    service: Literal["vpc-lattice", "ram", "redshift", "docdb", "redshift-serverless", "cloudwatch"],
) -> Any: ...
def client(session: boto3.Session, service: str) -> Any:
    return session.client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]


def any_client(session: boto3.Session) -> Callable[[str], Any]:
    """A client of any service in the session, by name: what a database kind reads (nekt_peering.databases)."""
    return lambda service: session.client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]


def database_session(region: str) -> boto3.Session:
    """The workflow runs in the database's account: its own credentials, the database's region."""
    return new_session(region_name=region)


def nekt_session(settings: Settings, connection_id: str) -> boto3.Session:
    """The Nekt account: assume the accepter role, or this account when Nekt lives here too."""
    if not settings.nekt_accepter_role_arn:
        if settings.nekt_account_id != settings.stack_account_id:
            raise AccessDenied(
                f"the Nekt VPC is in account {settings.nekt_account_id}, not in this account "
                f"{settings.stack_account_id}, and NektAccepterRoleArn is empty: deploy the accepter role in "
                "the Nekt account and redeploy this stack with NektAccepterRoleArn and NektExternalId"
            )
        return new_session(region_name=settings.nekt_region)
    sts = client(new_session(region_name=settings.stack_region), "sts")
    try:
        credentials = sts.assume_role(
            RoleArn=settings.nekt_accepter_role_arn,
            RoleSessionName=f"nekt-peering-{connection_id}"[:64],
            ExternalId=settings.nekt_external_id,
            DurationSeconds=900,
        )["Credentials"]
    except ClientError as error:
        raise AccessDenied(
            f"could not assume {settings.nekt_accepter_role_arn}: {error_code(error)}: "
            f"{error.response['Error'].get('Message', '')}. Check that the role exists in account "
            f"{settings.nekt_account_id}, that its trust policy admits this stack's function roles, and that "
            "its sts:ExternalId condition equals NektExternalId"
        ) from None
    return new_session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=settings.nekt_region,
    )


def tag_list(tags: dict[str, str]) -> list[TagTypeDef]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def tag_dict(tags: Sequence[TagTypeDef] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or []}
