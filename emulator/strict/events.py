"""EventBridge's PutEvents reaches the caller's own buses only (`put-events-own-buses`).

EventBridge documents another account's bus as a rule's target ("For another account to send events to your
account, that external account must have an EventBridge rule with your account's event bus as a target",
botocore's PutPermission), never as PutEvents' EventBusName; where the docs are silent the emulator takes the
pessimistic reading and refuses (docs/aws-fidelity.md, Releases and onboarding). moto reads only the ARN's last part
and puts the event on the caller's own bus of that name, which would pass for a delivery."""

from __future__ import annotations

from emulator.strict.iam import event_bus_arn, session_arn
from emulator.strict.layer import AwsError, Call, Rule


class PutEventsOwnBuses(Rule):
    name = "put-events-own-buses"

    def before(self, call: Call) -> None:
        if (call.service, call.operation) != ("eventbridge", "PutEvents"):
            return
        for entry in call.params["Entries"]:
            arn = event_bus_arn(call, entry.get("EventBusName"))
            if arn.split(":")[3:5] != [call.region, call.account_id]:
                raise AwsError("AccessDeniedException", f"User: {session_arn(call.principal)} is not authorized to "
                               f"perform: events:PutEvents on resource: {arn}: another account's or Region's bus "
                               "is reached through a rule whose target it is")


def event_rules() -> list[Rule]:
    return [PutEventsOwnBuses()]
