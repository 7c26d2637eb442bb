"""RAM for shares of resource configurations (moto refuses the resource type and implements no invitations):
the owner shares a configuration with the consumer (Nekt) account; outside an Organization with RAM sharing
enabled the consumer gets an invitation, which it accepts. Served as one rule, with AWS's rules for what a
share may hold."""

from __future__ import annotations

from typing import Any

from moto.moto_api._internal import mock_random

from emulator.strict.lattice.book import (
    PARTITION,
    BookRule,
    Invitation,
    Share,
    Transient,
    error,
    not_found,
    now,
    require,
)
from emulator.strict.layer import Call, Served

RESOURCE_CONFIGURATION_TYPE = "vpc-lattice:ResourceConfiguration"  # RAM's name for the resource type


class RamShares(BookRule):
    """Serves RAM for shares of resource configurations (moto refuses the resource type and implements no
    invitations): create, invitations and their acceptance, associations, disassociation, deletion. A
    share is the owner's, in its Region; a principal outside the owner's Organization gets an invitation
    and sees the resources only once it accepts. Shares of other resource types are moto's."""

    name = "ram-resource-shares"
    OPERATIONS = ("CreateResourceShare", "GetResourceShareInvitations", "AcceptResourceShareInvitation",
                  "RejectResourceShareInvitation", "GetResourceShareAssociations", "GetResourceShares",
                  "DisassociateResourceShare", "AssociateResourceShare", "DeleteResourceShare", "ListResources")

    def before(self, call: Call) -> None:
        if call.service != "ram" or call.operation not in self.OPERATIONS:
            return
        if call.operation == "CreateResourceShare" and not any(
                _is_configuration(arn) for arn in call.params.get("resourceArns") or []):
            return  # moto's
        if call.operation in ("DisassociateResourceShare", "AssociateResourceShare", "DeleteResourceShare") and \
                call.params["resourceShareArn"] not in self.book.shares:
            return  # moto's
        raise Served(getattr(self, "_" + call.operation)(call))

    # the owner's side

    def _CreateResourceShare(self, call: Call) -> dict[str, Any]:  # noqa: N802
        params = call.params
        share = Share(f"arn:{PARTITION}:ram:{call.region}:{call.account_id}:resource-share/{mock_random.uuid4()}",
                      params["name"], call.account_id, call.region, bool(params.get("allowExternalPrincipals", True)),
                      list(params.get("tags") or []), now())
        self.book.shares[share.arn] = share
        self._associate(call, share, params.get("resourceArns") or [], params.get("principals") or [])
        answer = {"resourceShare": _describe_share(share)}
        if params.get("clientToken"):
            answer["clientToken"] = params["clientToken"]
        return answer

    def _associate(self, call: Call, share: Share, resources: list[str], principals: list[str]) -> None:
        for arn in resources:  # ASSOCIATING first, as every association (RAM's ResourceShareAssociation statuses)
            share.resources[arn] = Transient("ASSOCIATING", self.book.timing.share_associating, "ASSOCIATED")
        for principal in principals:
            if principal in self.book.organization_sharing and share.owner in self.book.organization_sharing:
                share.principals[principal] = "ASSOCIATED"
                continue
            share.principals[principal] = "ASSOCIATING"
            invitation = Invitation(f"arn:{PARTITION}:ram:{call.region}:{call.account_id}:resource-share-invitation/"
                                    f"{mock_random.uuid4()}", share.arn, share.owner, principal, call.region, now())
            self.book.invitations[invitation.arn] = invitation
        share.updated_at = now()

    def _AssociateResourceShare(self, call: Call) -> dict[str, Any]:  # noqa: N802
        share = self._own_share(call)
        self._associate(call, share, call.params.get("resourceArns") or [], call.params.get("principals") or [])
        return {"resourceShareAssociations": [a for a in _associations(share) if a["associatedEntity"] in (
            *(call.params.get("resourceArns") or []), *(call.params.get("principals") or []))]}

    def _own_share(self, call: Call) -> Share:
        arn = call.params["resourceShareArn"]
        share = self.book.share(call, arn)
        return require(share if share is not None and share.owner == call.account_id else None, "resource share",
                       arn)

    def _DisassociateResourceShare(self, call: Call) -> dict[str, Any]:  # noqa: N802
        share = self._own_share(call)
        changed = []
        for arn in call.params.get("resourceArns") or []:
            if arn in share.resources:
                share.resources[arn] = Transient("DISASSOCIATED")
                changed.append(arn)
        for principal in call.params.get("principals") or []:
            if principal in share.principals:
                share.principals[principal] = "DISASSOCIATED"
                changed.append(principal)
        share.updated_at = now()
        return {"resourceShareAssociations": [a for a in _associations(share) if a["associatedEntity"] in changed]}

    def _DeleteResourceShare(self, call: Call) -> dict[str, Any]:  # noqa: N802
        share = self._own_share(call)
        share.status = "DELETED"
        share.updated_at = now()
        for arn in share.resources:
            share.resources[arn] = Transient("DISASSOCIATED")
        for principal in share.principals:
            share.principals[principal] = "DISASSOCIATED"
        answer: dict[str, Any] = {"returnValue": True}
        if call.params.get("clientToken"):
            answer["clientToken"] = call.params["clientToken"]
        return answer

    def _GetResourceShares(self, call: Call) -> dict[str, Any]:  # noqa: N802
        owner = call.params["resourceOwner"]
        asked = call.params.get("resourceShareArns")
        shares = []
        for share in self.book.shares.values():
            if share.region != call.region or (asked and share.arn not in asked):
                continue
            if call.params.get("name") and share.name != call.params["name"]:
                continue
            if call.params.get("resourceShareStatus") and share.status != call.params["resourceShareStatus"]:
                continue
            if not all(_tag_filter_matches(share.tags, wanted) for wanted in call.params.get("tagFilters") or []):
                continue
            mine = share.owner == call.account_id
            if (owner == "SELF" and mine) or (owner == "OTHER-ACCOUNTS" and share.principals.get(
                    call.account_id) == "ASSOCIATED"):
                shares.append(_describe_share(share))
        return {"resourceShares": shares}

    def _GetResourceShareAssociations(self, call: Call) -> dict[str, Any]:  # noqa: N802
        params = call.params
        kind = params["associationType"]
        found = []
        for share in self.book.shares.values():
            if share.owner != call.account_id or share.region != call.region:
                continue  # RAM lists the associations of the caller's own shares
            if params.get("resourceShareArns") and share.arn not in params["resourceShareArns"]:
                continue
            for status in share.resources.values():  # a look at the share's associations: time passes
                status.tick()
            for association in _associations(share):
                if association["associationType"] != kind:
                    continue
                if params.get("resourceArn") and association["associatedEntity"] != params["resourceArn"]:
                    continue
                if params.get("principal") and association["associatedEntity"] != params["principal"]:
                    continue
                if params.get("associationStatus") and association["status"] != params["associationStatus"]:
                    continue
                found.append(association)
        return {"resourceShareAssociations": found}

    def _ListResources(self, call: Call) -> dict[str, Any]:  # noqa: N802
        owner = call.params["resourceOwner"]
        found = []
        for share in self.book.shares.values():
            if share.region != call.region or share.status != "ACTIVE":
                continue
            if not ((owner == "SELF" and share.owner == call.account_id) or (
                    owner == "OTHER-ACCOUNTS" and share.principals.get(call.account_id) == "ASSOCIATED")):
                continue
            for arn, status in share.resources.items():
                if status.status == "ASSOCIATED":
                    found.append({"arn": arn, "type": RESOURCE_CONFIGURATION_TYPE, "resourceShareArn": share.arn,
                                  "status": "AVAILABLE", "creationTime": share.created_at,
                                  "lastUpdatedTime": share.updated_at or share.created_at,
                                  "resourceRegionScope": "REGIONAL"})
        return {"resources": found}

    # the receiver's side

    def _GetResourceShareInvitations(self, call: Call) -> dict[str, Any]:  # noqa: N802
        asked = call.params.get("resourceShareInvitationArns")
        shares = call.params.get("resourceShareArns")
        found = []
        for invitation in self.book.invitations.values():
            if invitation.region != call.region or call.account_id not in (invitation.receiver, invitation.sender):
                continue
            if (asked and invitation.arn not in asked) or (shares and invitation.share_arn not in shares):
                continue
            found.append(self._describe_invitation(invitation))
        if asked and not found:
            raise not_found("invitation", asked[0])
        return {"resourceShareInvitations": found}

    def _describe_invitation(self, invitation: Invitation) -> dict[str, Any]:
        share = self.book.shares[invitation.share_arn]
        return {"resourceShareInvitationArn": invitation.arn, "resourceShareName": share.name,
                "resourceShareArn": share.arn, "senderAccountId": invitation.sender,
                "receiverAccountId": invitation.receiver, "invitationTimestamp": invitation.sent_at,
                "status": invitation.status}

    def _invitation(self, call: Call) -> Invitation:
        arn = call.params["resourceShareInvitationArn"]
        invitation = self.book.invitations.get(arn)
        received = invitation is not None and (invitation.region, invitation.receiver) == (call.region,
                                                                                          call.account_id)
        return require(invitation if received else None, "invitation", arn)

    @staticmethod
    def _pending(invitation: Invitation) -> None:
        """An invitation is answered once: accepted or rejected, it is neither again."""
        if invitation.status != "PENDING":
            code = {"ACCEPTED": "ResourceShareInvitationAlreadyAcceptedException",
                    "REJECTED": "ResourceShareInvitationAlreadyRejectedException"}[invitation.status]
            raise error(code, f"ResourceShareInvitation {invitation.arn} has already been "
                              f"{invitation.status.lower()}.")

    def _AcceptResourceShareInvitation(self, call: Call) -> dict[str, Any]:  # noqa: N802
        invitation = self._invitation(call)
        share = self.book.shares[invitation.share_arn]
        self._pending(invitation)
        if share.status != "ACTIVE" or share.principals.get(invitation.receiver) != "ASSOCIATING":
            raise error("OperationNotPermittedException",
                        f"ResourceShare {share.arn} is no longer shared with {invitation.receiver}.")
        invitation.status = "ACCEPTED"
        share.principals[invitation.receiver] = "ASSOCIATED"
        return self._invitation_answer(call, invitation)

    def _RejectResourceShareInvitation(self, call: Call) -> dict[str, Any]:  # noqa: N802
        invitation = self._invitation(call)
        self._pending(invitation)
        invitation.status = "REJECTED"
        self.book.shares[invitation.share_arn].principals[invitation.receiver] = "DISASSOCIATED"
        return self._invitation_answer(call, invitation)

    def _invitation_answer(self, call: Call, invitation: Invitation) -> dict[str, Any]:
        answer: dict[str, Any] = {"resourceShareInvitation": self._describe_invitation(invitation)}
        if call.params.get("clientToken"):
            answer["clientToken"] = call.params["clientToken"]
        return answer


def _is_configuration(arn: str) -> bool:
    return ":vpc-lattice:" in arn and ":resourceconfiguration/" in arn


def _tag_filter_matches(tags: list[dict[str, str]], tag_filter: dict[str, Any]) -> bool:
    """A RAM TagFilter: a tag with that key (tagKey), and one of tagValues when any are given."""
    key, values = tag_filter.get("tagKey"), tag_filter.get("tagValues") or []
    return any((key is None or tag["key"] == key) and (not values or tag.get("value") in values) for tag in tags)


def _describe_share(share: Share) -> dict[str, Any]:
    return {"resourceShareArn": share.arn, "name": share.name, "owningAccountId": share.owner,
            "allowExternalPrincipals": share.allow_external, "status": share.status, "tags": share.tags,
            "creationTime": share.created_at, "lastUpdatedTime": share.updated_at or share.created_at,
            "featureSet": "STANDARD"}


def _associations(share: Share) -> list[dict[str, Any]]:
    found = []
    for entity, status, kind in [*((arn, s.status, "RESOURCE") for arn, s in share.resources.items()),
                                 *((account, s, "PRINCIPAL") for account, s in share.principals.items())]:
        association = {"resourceShareArn": share.arn, "resourceShareName": share.name, "associatedEntity": entity,
                       "associationType": kind, "status": status, "creationTime": share.created_at,
                       "lastUpdatedTime": share.updated_at or share.created_at}
        if kind == "PRINCIPAL":
            association["external"] = True
        found.append(association)
    return found


class RamShareable(BookRule):
    """What RAM shares of a resource configuration: one of the caller's own, in the share's Region (RAM
    shares are Regional; UnknownResourceException otherwise); never a CHILD configuration ("can't be
    shared independently; it can only be shared as part of a group"); with allowExternalPrincipals
    false, no account outside the owner's Organization."""

    name = "ram-shareable"

    def before(self, call: Call) -> None:
        if call.service != "ram" or call.operation not in ("CreateResourceShare", "AssociateResourceShare"):
            return
        for arn in call.params.get("resourceArns") or []:
            if not _is_configuration(arn):
                continue
            configuration = self.book.configuration(call, arn)
            if configuration is None:
                raise error("UnknownResourceException", f"Resource {arn} could not be found in this account "
                                                        f"and Region ({call.account_id}, {call.region}).")
            if configuration.type == "CHILD":
                raise error("InvalidParameterException",
                            f"{arn} is a CHILD resource configuration: it can only be shared as part of its "
                            "group.")
        allow = call.params.get("allowExternalPrincipals", True)
        if call.operation == "AssociateResourceShare":
            share = self.book.shares.get(call.params["resourceShareArn"])
            allow = share.allow_external if share is not None else True
        outside = [p for p in call.params.get("principals") or []
                   if not (p in self.book.organization_sharing and call.account_id in self.book.organization_sharing)]
        if not allow and outside:
            raise error("OperationNotPermittedException",
                        f"The resource share does not allow external principals: {', '.join(outside)}.")


