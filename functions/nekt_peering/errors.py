"""Named failures of the workflow.

Lambda reports an exception's class name as the error Step Functions sees, so each class
name here is an error name a person reads in the console, matches in a Catch, and looks up
in the README's troubleshooting table. Each message says what went wrong and what to do.
"""

import json


class ConnectError(Exception):
    """Base of every failure the workflow names on purpose."""


class InvalidInput(ConnectError):
    """The execution input is malformed; the message names the field."""


class InvalidSettings(ConnectError):
    """A deployment parameter of the stack is malformed; redeploy with a valid value."""


class DatabaseNotFound(ConnectError):
    """No RDS instance or Aurora cluster has that identifier in that account and region."""


class DatabaseNotAvailable(ConnectError):
    """The database exists but is not in the `available` state."""


class NektNetworkNotFound(ConnectError):
    """The Nekt VPC, its private route table or the Nekt CIDR cannot be determined."""


class CidrOverlap(ConnectError):
    """A database VPC CIDR overlaps a Nekt VPC CIDR: AWS cannot peer them."""


class RouteConflict(ConnectError):
    """A route to the same destination already exists through another target."""


class PeeringConflict(ConnectError):
    """A peering between the two VPCs is in a state this workflow must not take over."""


class PeeringMismatch(ConnectError):
    """The peering request is not the one from the discovered database VPC: never accepted."""


class ChangeRefused(ConnectError):
    """A change wider than a connection may make (an ingress rule other than TCP on the database's port
    from the Nekt CIDR or NektPublicIp/32, a route other than between the two VPCs' CIDRs): never made."""


class PeeringFailed(ConnectError):
    """AWS reports the peering as failed, rejected, expired or deleted."""


class PeeringTimeout(ConnectError):
    """The peering did not reach the awaited status within MaxPolls polls."""


class AccessDenied(ConnectError):
    """AWS refused a call or the role into the Nekt account could not be assumed."""


class VerificationFailed(ConnectError):
    """After all changes, the live state does not match what the connection needs."""


class ConnectionBusy(ConnectError):
    """Another execution is connecting the same connection id right now."""


class RollbackFailed(ConnectError):
    """A compensation kept failing: the cause lists, by id, what was left behind."""


class DisconnectFailed(ConnectError):
    """A disconnect could not remove everything the connection owns: the cause lists what is left, by id."""


def cause_message(cause: str) -> str:
    """The message a person reads in a failure's cause: Lambda wraps a function's error in a JSON
    cause with its type and stack trace; any other cause is already the message."""
    try:
        return str(json.loads(cause)["errorMessage"])
    except (ValueError, KeyError, TypeError):
        return cause
