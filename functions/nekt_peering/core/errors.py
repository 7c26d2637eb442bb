"""Named failures of the workflow.

Lambda reports an exception's class name as the error Step Functions sees, so each class
name here is an error name a person reads in the console, matches in a Catch, and looks up
in the README's troubleshooting table. Each message says what went wrong and what to do.
"""

import json
from typing import Self


class ConnectError(Exception):
    """Base of every failure the workflow names on purpose."""

    # What drifted from the connection's plan, by id (nekt_peering.connect.drift.DRIFT), where the raise site
    # knows it: a health check records it.
    drift: tuple[str, ...] = ()

    def drifted(self, *drift: str) -> Self:
        self.drift = drift
        return self


class InvalidInput(ConnectError):
    """The execution input is malformed; the message names the field."""


class InvalidSettings(ConnectError):
    """A deployment parameter of the stack is malformed; redeploy with a valid value."""


class DatabaseNotFound(ConnectError):
    """No database of the requested kind (an RDS instance or Aurora cluster, a Redshift cluster, an EC2
    instance) has that identifier in that account and region."""


class AddressNotFound(ConnectError):
    """A database given by address: no network interface holds that private address in that VPC."""


class HostNotResolved(ConnectError):
    """A database given by a private DNS name: no Route 53 private hosted zone associated with its VPC answers
    the name with a private IPv4 address (A record)."""


class DatabaseNotAvailable(ConnectError):
    """The database exists but is in a state that does not serve connections (stopped, rebooting ...)."""


class SharedVpcNotSupported(ConnectError):
    """The database is in a VPC another account shares with this one (AWS RAM): only the VPC owner can
    peer it or change its route tables."""


class VpcDnsDisabled(ConnectError):
    """A publicly accessible database reached through the peering needs the peering's DNS option, which
    AWS allows only when both VPCs have DNS hostnames and DNS resolution on."""


class QuotaExceeded(ConnectError):
    """A connect would go past an Amazon VPC quota (peerings per VPC, outstanding requests, routes per
    route table, rules per security group): refused before any change."""


class NektNetworkNotFound(ConnectError):
    """The Nekt VPC, its private route table or the Nekt CIDR cannot be determined."""


class CidrOverlap(ConnectError):
    """A database VPC CIDR overlaps a Nekt VPC CIDR: AWS cannot peer them."""


class ConnectedByAnotherPath(ConnectError):
    """A connect asks for another path than the one the connection is connected by (or auto's kept path no
    longer fits the database): a connection changes path only by a disconnect, then a connect."""


class PlanChanged(ConnectError):
    """A connected connection's database is no longer where its plan put it (moved to another VPC, security group,
    account or Region): a connect or repair cannot move it, since what it relies on would stay behind."""


class ResourcePathUnsupported(ConnectError):
    """The resource-endpoint path cannot connect this database: another Region than the Nekt VPC's, publicly
    accessible, or only Availability Zones VPC Lattice does not support; or the product's gateway in its VPC has
    too few addresses for the connections Nekt opens. Found by Preflight: nothing was changed."""


class NoSharedZone(ConnectError):
    """The resource-endpoint path: the database's subnets and Nekt's private subnets share no Availability
    Zone (by zone id), which AWS requires between a resource gateway and a resource endpoint."""


class NoFreeAddresses(ConnectError):
    """The resource-endpoint path: none of Nekt's private subnets in the zones it shares with the database
    has the 16 free addresses a resource endpoint takes in each of its subnets, or none of the database's
    subnets has the 16 a new resource gateway takes."""


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


class NetworkAclDenies(ConnectError):
    """A network ACL of the database's subnets or of Nekt's private subnets denies the database's port
    or the replies: the cause names the ACL, the rule and the direction, and the rule to add."""


class Unreachable(ConnectError):
    """The probe in the Nekt VPC could not reach the database: the cause names the stage that failed
    (DNS, TCP timeout, TCP refused, handshake) and the facts it saw."""


class ConnectionBusy(ConnectError):
    """Another execution is connecting the same connection id right now."""


class RollbackFailed(ConnectError):
    """A compensation kept failing: the cause lists, by id, what was left behind."""


class DisconnectFailed(ConnectError):
    """A disconnect could not remove everything the connection owns: the cause lists what is left, by id."""


class SharedResourceMissing(ConnectError):
    """After a disconnect, something another connection of the network relies on is missing (the
    disconnect workflow's Fail state names it; the cause says what, and for which connection)."""


class ResourceGatewayUnavailable(ConnectError):
    """The resource gateway the resource-endpoint path uses in the database VPC is gone, being deleted,
    failed, or is a gateway of that name this product did not make."""


class ResourceShareRejected(ConnectError):
    """The Nekt account's invitation to the database's RAM resource share was rejected or expired."""


class ResourceConfigurationFailed(ConnectError):
    """AWS reports the database's resource configuration CREATE_FAILED; the cause quotes its failureReason."""


class ResourceEndpointFailed(ConnectError):
    """AWS reports the resource VPC endpoint in the Nekt VPC as failed, rejected or expired."""


class ResourcePathTimeout(ConnectError):
    """The resource gateway, the resource configuration, the share, its invitation or the resource endpoint
    did not get ready within MaxPolls polls."""


def cause_message(cause: str) -> str:
    """The message a person reads in a failure's cause: Lambda wraps a function's error in a JSON
    cause with its type and stack trace; any other cause is already the message."""
    try:
        return str(json.loads(cause)["errorMessage"])
    except (ValueError, KeyError, TypeError):
        return cause


# What a person does about each error: the `nekt-peering` CLI prints it after the cause, and the
# README's troubleshooting table says the same (tests/unit/test_docs.py compares them).
WHAT_TO_DO: dict[str, str] = {
    "InvalidInput": "Fix the field and start again; start a connection from the state machine rather than a "
                    "hand-edited stage event.",
    "ChangeRefused": "Start the connection again from the state machine; if it repeats, check who edits executions "
                     "or invokes the functions.",
    "InvalidSettings": "Redeploy with a valid value.",
    "DatabaseNotFound": "Check `kind`, `identifier` (or `instanceId`) and `region`. A database outside AWS cannot "
                        "be connected this way: "
                        "ask Nekt support for a call.",
    "AddressNotFound": "Check `host` (a private IPv4 address the database listens on), `vpcId` and `region`; "
                       "the network interface holding it must be in this account.",
    "HostNotResolved": "Give `host` as the private IPv4 address the name resolves to in the VPC, or add an A record "
                       "for it to a Route 53 private hosted zone associated with `vpcId` (this account's).",
    "DatabaseNotAvailable": "Wait until it is available, then start again.",
    "SharedVpcNotSupported": "Connect it from the VPC owner's account (named in the cause), or ask Nekt support "
                             "for a call.",
    "VpcDnsDisabled": "Turn on DNS hostnames and DNS resolution on the VPC named in the cause (the Nekt VPC: ask "
                      "Nekt support), or connect with `mode: auto`, then start again.",
    "QuotaExceeded": "Free capacity as the cause says, or raise the quota named in the cause in Service Quotas, "
                     "then start again.",
    "NektNetworkNotFound": "Check `NektVpcId`/`NektAccountId`/`NektRegion`; tag the private route table "
                           "`Name=nekt-rtb-private` or set `NektRouteTableId`.",
    "CidrOverlap": "Connect with `mode: auto` (same Region); otherwise ask Nekt support for a Nekt VPC in another "
                   "range.",
    "RouteConflict": "Connect with `mode: auto` (same Region), or remove or change that route (named in the cause), "
                     "then start again.",
    "ConnectedByAnotherPath": "Disconnect the connection, then connect it with the mode you want; or connect with "
                              "mode `auto` to check and repair the path it has.",
    "PlanChanged": "Connect again: disconnect the connection (which removes what it relies on in the old network), "
                   "then connect it, which plans the path to where the database is now.",
    "ResourcePathUnsupported": "Do what the cause says: connect with mode `auto` (Nekt then takes the path that "
                               "can connect it), or move the database's subnets to zones VPC Lattice supports.",
    "NoSharedZone": "Add a subnet in one of Nekt's zones (named in the cause) to the database's subnet group, or ask "
                    "Nekt support for a private subnet in one of the database's zones, then start again.",
    "NoFreeAddresses": "Nekt's subnets: ask Nekt support to free addresses in one of them, or to add a private subnet "
                       "in one of those zones. The database's: free addresses in one of its subnets, or add a subnet "
                       "with room to its subnet group. Then start again.",
    "PeeringConflict": "Accept or delete it (named in the cause), then start again.",
    "PeeringMismatch": "Check who created that peering; delete it if unknown.",
    "PeeringFailed": "Check the Nekt account, region and VPC settings, then start again.",
    "PeeringTimeout": "Look at it in the VPC console; raise `MaxPolls`/`PollIntervalSeconds` if AWS is slow for "
                      "that region pair.",
    "AccessDenied": "Grant the call to the role named, or fix the role's trust policy / `NektExternalId`.",
    "VerificationFailed": "Start again; if it repeats, look for changes made outside the workflow.",
    "NetworkAclDenies": "Add the allow rule the cause names to that network ACL (or change the rule that denies), "
                        "then start again; the workflow never changes a network ACL.",
    "Unreachable": "By the failed stage: DNS, check the peering's DNS resolution option and the endpoint; TCP "
                   "timeout, a network ACL, route or security group drops the traffic; TCP refused, the database "
                   "listens on another port; handshake, the server is not the expected engine. Fix it, then start "
                   "again.",
    "ConnectionBusy": "Follow that execution; start again once it has finished if you still need to.",
    "SharedResourceMissing": "Connect the connection named in the cause again: its connect restores what is "
                             "missing.",
    "RollbackFailed": "Remove what is listed by hand (everything the workflow creates is tagged "
                      "`nekt:connection-id`), or fix the cause (often a missing permission) and start the "
                      "connection again, which completes it.",
    "ResourceGatewayUnavailable": "Start the connection again: it creates a new resource gateway. If the cause names "
                                  "a gateway this product did not make, rename or delete it first.",
    "ResourceShareRejected": "Delete the resource share named in the cause in the database account (RAM console), "
                             "then start the connection again: Nekt accepts the new share's invitation itself.",
    "ResourceConfigurationFailed": "Fix what AWS's reason (quoted in the cause) names, often the database's state "
                                   "or a permission of the database account's role, then start the connection again.",
    "ResourceEndpointFailed": "Check the endpoint named in the cause in the Nekt VPC console (free addresses in the "
                              "subnets, the share still accepted), then start the connection again.",
    "ResourcePathTimeout": "Look at the resource named in the cause in the console; raise `MaxPolls`/"
                           "`PollIntervalSeconds` if AWS is slow, then start again.",
    "DisconnectFailed": "Fix the cause (often a missing permission, e.g. `ec2:DeleteRoute` for the accepter role) "
                        "and disconnect again, or remove what is listed by hand.",
}
